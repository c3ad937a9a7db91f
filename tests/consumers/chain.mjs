// The AWS SDK for JavaScript v3's default chain, for each directory given: which
// credentials it takes when that directory holds the shared files (`credentials`,
// `config`) and container credentials are offered at a local endpoint. Prints
// {dir: "endpoint" | "files (...)"} as JSON.
import http from "node:http";
import path from "node:path";
import { fromNodeProviderChain } from "@aws-sdk/credential-providers";

const server = http.createServer((_, res) => {
  res.setHeader("Content-Type", "application/json");
  res.end(JSON.stringify({
    AccessKeyId: "FROM-ENDPOINT", SecretAccessKey: "s", Token: "t",
    Expiration: "2999-01-01T00:00:00Z",
  }));
});
await new Promise((ready) => server.listen(0, "127.0.0.1", ready));
process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI = `http://127.0.0.1:${server.address().port}/creds`;
process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN = "t";
// An STS that cannot be reached: a profile that would ask it fails at once.
process.env.AWS_ENDPOINT_URL = "http://127.0.0.1:1";

const verdicts = {};
for (const dir of process.argv.slice(2)) {
  // Each directory's own paths: the SDK caches what it read by path.
  process.env.AWS_SHARED_CREDENTIALS_FILE = path.join(dir, "credentials");
  process.env.AWS_CONFIG_FILE = path.join(dir, "config");
  let verdict;
  try {
    const keys = await fromNodeProviderChain()();
    verdict = keys.accessKeyId === "FROM-ENDPOINT" ? "endpoint" : `files (${keys.accessKeyId})`;
  } catch (e) {
    verdict = `files (error: ${e.name}: ${String(e.message).split("\n")[0]})`;
  }
  verdicts[path.basename(dir)] = verdict;
}
server.close();
console.log(JSON.stringify(verdicts));
