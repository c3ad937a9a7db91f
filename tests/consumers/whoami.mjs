// The AWS SDK for JavaScript v3 as an application uses it: the default chain
// (environment, shared files, container credentials, instance metadata) finds
// the credentials; prints who STS says they are and which key signed.
import { STSClient, GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import { fromNodeProviderChain } from "@aws-sdk/credential-providers";

const credentials = fromNodeProviderChain();
const client = new STSClient({ credentials });
const identity = await client.send(new GetCallerIdentityCommand({}));
const keys = await credentials();
console.log(JSON.stringify({ Arn: identity.Arn, AccessKeyId: keys.accessKeyId }));
