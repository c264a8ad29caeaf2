import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { KMSClient } from "@aws-sdk/client-kms";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { S3Client } from "@aws-sdk/client-s3";
import { fromTemporaryCredentials } from "@aws-sdk/credential-providers";
import type { Config } from "./config.ts";

export interface AwsClients {
  readonly s3: S3Client;
  readonly kms: KMSClient;
  /** With SECURITY_LAKE_BUCKET: the client the Parquet files are written with (as its provider role, when set). */
  readonly lakeS3?: S3Client;
}

/**
 * The one place SDK clients are made. Endpoints, region and credentials come from the SDK's own
 * configuration chain (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL_KMS`, `AWS_REGION`, …).
 *
 * Retries are the SDK's standard mode: throttling, 5xx, timeouts and connection resets are retried
 * with exponential backoff and full jitter (base 100 ms, 5 or 6 attempts: a few seconds at most,
 * well inside a Lambda deadline). Adaptive mode was measured to slow a throttled client to about
 * one request a second, which a deadline-bound function cannot afford; data keys are cached, so
 * KMS sees few calls anyway. Errors no retry can fix (access denied, invalid ciphertext, no such
 * key) are not retried. Connection and idle-socket timeouts make a silent peer a retryable
 * error instead of a hang; the Lambda deadline bounds the whole.
 */
export function createClients(config: Pick<Config, "s3ForcePathStyle" | "securityLake">): AwsClients {
  const s3Options = {
    forcePathStyle: config.s3ForcePathStyle,
    retryMode: "standard",
    maxAttempts: 5,
    requestHandler: { connectionTimeout: 3_000, requestTimeout: 30_000 },
  };
  const s3 = new S3Client(s3Options);
  const lake = config.securityLake;
  return {
    s3,
    ...(lake === undefined
      ? {}
      : {
          lakeS3:
            lake.roleArn === undefined
              ? s3
              : new S3Client({
                  ...s3Options,
                  // Security Lake's provider role, assumed (and renewed before it expires) by the SDK.
                  credentials: fromTemporaryCredentials({
                    params: {
                      RoleArn: lake.roleArn,
                      RoleSessionName: "das-decrypt",
                      ...(lake.externalId === undefined ? {} : { ExternalId: lake.externalId }),
                    },
                  }),
                }),
        }),
    kms: new KMSClient({
      retryMode: "standard",
      maxAttempts: 6,
      requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000 },
    }),
  };
}

/** The client "DAS Object Decrypted" events go through: a few quick attempts, after the output is complete. */
export function createEventBridgeClient(): EventBridgeClient {
  return new EventBridgeClient({
    retryMode: "standard",
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 3_000, requestTimeout: 5_000 },
  });
}

/** The Lambda client the reprocessing command invokes the deployed function with. */
export function createLambdaClient(): LambdaClient {
  return new LambdaClient({ retryMode: "standard", maxAttempts: 5 });
}
