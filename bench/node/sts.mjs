// The node contender of bench/run.sh: the same STS exchange as vault-ci, with
// @aws-sdk/client-sts (what aws-actions/configure-aws-credentials uses).
//   node sts.mjs web-identity TOKEN_FILE ROLE_ARN   -> credentials JSON on stdout
//   node sts.mjs assume-role ROLE_ARN ENV_FILE      -> export lines in ENV_FILE
// Region and endpoint come from AWS_REGION / AWS_ENDPOINT_URL; static keys from
// the environment; a test CA from NODE_EXTRA_CA_CERTS.
import { readFileSync, writeFileSync } from "node:fs";
import {
  STSClient,
  AssumeRoleCommand,
  AssumeRoleWithWebIdentityCommand,
} from "@aws-sdk/client-sts";

const [mode, a, b] = process.argv.slice(2);
const client = new STSClient({
  region: process.env.AWS_REGION ?? "us-east-1",
  endpoint: process.env.AWS_ENDPOINT_URL,
});

if (mode === "web-identity") {
  const out = await client.send(
    new AssumeRoleWithWebIdentityCommand({
      RoleArn: b,
      RoleSessionName: "bench-node",
      WebIdentityToken: readFileSync(a, "utf8").trim(),
      DurationSeconds: 900,
    }),
  );
  process.stdout.write(JSON.stringify(out.Credentials) + "\n");
} else if (mode === "assume-role") {
  const out = await client.send(
    new AssumeRoleCommand({ RoleArn: a, RoleSessionName: "bench-node", DurationSeconds: 900 }),
  );
  const c = out.Credentials;
  writeFileSync(
    b,
    `export AWS_ACCESS_KEY_ID="${c.AccessKeyId}"\n` +
      `export AWS_SECRET_ACCESS_KEY="${c.SecretAccessKey}"\n` +
      `export AWS_SESSION_TOKEN="${c.SessionToken}"\n`,
    { mode: 0o600 },
  );
} else {
  console.error("usage: sts.mjs web-identity TOKEN_FILE ROLE_ARN | assume-role ROLE_ARN ENV_FILE");
  process.exit(2);
}
