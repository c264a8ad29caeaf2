// What the Security Lake request tests share: the `ci` stage packaged with a Security Lake bucket and
// resolved as CloudFormation would deploy it, the lake buckets modelled beside it, and one run of
// the function on the stack's environment with every SDK client it makes recorded.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClients } from "../../src/config/clients.ts";
import { loadConfig } from "../../src/config/config.ts";
import { createHandler } from "../../src/lambda/handler.ts";
import { type LocalStack, s3Notification } from "../../src/local/stack.ts";
import { CapturingLog, putObject } from "../support/harness.ts";
import { type Policy, type StackPolicies, stackPolicies } from "../support/iam-model.ts";
import { type RecordedRequest, recordRequests } from "../support/request-recorder.ts";
import { packageTemplate, readTemplate, type Template } from "./packaged.ts";

export const ACCOUNT = "111122223333";
export const REGION = "us-east-1";
/** The `ci` stage's bucket and cluster (serverless.yml), which every variant starts from. */
export const BUCKET = "das-decrypt-ci-example";
export const CLUSTER = "cluster-P74MFUJBI3PYA2N5L22YVVX3VY";
const DAS_KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
/** What CloudFormation would return for the stack's own key and queue. */
const OUTPUT_KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/6f1c2d3e-4a5b-4c6d-8e7f-90a1b2c3d4e5";
const QUEUE_ARN = "arn:aws:sqs:us-east-1:111122223333:das-decrypt-ci-FailedEventsQueue-EXAMPLE";
/** The DAS key keeps the default key policy: the account administers it, IAM policies decide. */
const DEFAULT_KEY_POLICY: Policy = {
  Version: "2012-10-17",
  Statement: [
    {
      Sid: "Enable IAM User Permissions",
      Effect: "Allow",
      Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
      Action: "kms:*",
      Resource: "*",
    },
  ],
};

/** Security Lake's bucket, and a second lake's (another region's), neither of the stack. */
export const LAKE_BUCKET = "aws-security-data-lake-us-east-1-4f2a9c7e1b3d";
export const OTHER_LAKE_BUCKET = "aws-security-data-lake-eu-west-1-8d3e5b0a6c2f";
/** Where the default source, das-decrypt, puts this stack's account's and region's files. */
export const LAKE_PREFIX = `ext/das-decrypt/region=${REGION}/accountId=${ACCOUNT}/`;
/**
 * The lake buckets' policy as modelled here: TLS only, granting nothing (without a provider role,
 * the function writes to a lake of its own account, where its role's policy decides). Their
 * default encryption is SSE-S3: S3 asks KMS nothing on the writer's behalf.
 */
const lakeBucketPolicy = (bucket: string): Policy => ({
  Version: "2012-10-17",
  Statement: [
    {
      Sid: "DenyInsecureTransport",
      Effect: "Deny",
      Principal: "*",
      Action: "s3:*",
      Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`],
      Condition: { Bool: { "aws:SecureTransport": "false" } },
    },
  ],
});

/** The local emulator's KMS key stands for the DAS key. */
export const keyArnsOf = (local: LocalStack): Record<string, string> => ({ [local.kms.keyArn]: DAS_KEY_ARN });

/** A template's policies as deployed in the ci account, with the lake buckets in the model. */
function deployed(template: Template): StackPolicies {
  const stack = stackPolicies(template, {
    account: ACCOUNT,
    region: REGION,
    attributes: { "OutputEncryptionKey.Arn": OUTPUT_KEY_ARN, "FailedEventsQueue.Arn": QUEUE_ARN },
    externalKeyPolicies: { [DAS_KEY_ARN]: DEFAULT_KEY_POLICY },
  });
  const lake = (bucket: string) => ({ policy: lakeBucketPolicy(bucket), defaultKey: undefined });
  return {
    ...stack,
    buckets: {
      ...stack.buckets,
      [LAKE_BUCKET]: lake(LAKE_BUCKET),
      [OTHER_LAKE_BUCKET]: lake(OTHER_LAKE_BUCKET),
    },
  };
}

/** The ci stage packaged with `params` (~5 s), as deployed. */
export function packagedWith(params: Record<string, string>): StackPolicies {
  const dir = mkdtempSync(join(tmpdir(), "das-decrypt-lake-"));
  try {
    return deployed(packageTemplate(dir, "ci", params));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The ci stage as `npm run package` packages it: no Security Lake output. */
export const packagedCi = (): StackPolicies => deployed(readTemplate());

export type LakeRun = {
  /** The requests of the function's own clients (the Parquet files too, without a provider role). */
  requests: RecordedRequest[];
  /** The requests of the client that writes as the provider role (none without one). */
  lakeRequests: RecordedRequest[];
  error?: unknown;
};

/**
 * Puts `body` at `key` in the ci bucket and runs the function on it with the stack's environment
 * (and what Lambda or the local setup adds), on the clients src/config/clients.ts builds, recorded.
 */
export async function runFunction(
  local: LocalStack,
  stack: StackPolicies,
  key: string,
  body: Buffer,
): Promise<LakeRun> {
  await putObject(local, BUCKET, key, body);
  const functionEnv = {
    ...stack.environment,
    // Lambda sets AWS_REGION; locally: path-style S3, decryption in the handler's thread.
    AWS_REGION: REGION,
    S3_FORCE_PATH_STYLE: "true",
    DECRYPT_WORKERS: "0",
    UPLOAD_PART_SIZE_MB: "5",
  };
  const clients = createClients(loadConfig(functionEnv));
  const run: LakeRun = { requests: [], lakeRequests: [] };
  recordRequests(clients.s3, run.requests);
  recordRequests(clients.kms, run.requests);
  if (clients.lakeS3 !== undefined && clients.lakeS3 !== clients.s3)
    recordRequests(clients.lakeS3, run.lakeRequests);
  // Object events are iam-requests.test.ts's concern: published nowhere here.
  const handler = createHandler(functionEnv, {
    logger: new CapturingLog(),
    clients,
    objectEvents: async () => {},
  });
  await handler(s3Notification(BUCKET, key)).catch((error: unknown) => {
    run.error = error;
  });
  return run;
}

export const toLake = (request: RecordedRequest): boolean => request.input.Bucket === LAKE_BUCKET;
