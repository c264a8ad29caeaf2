import { KMSClient } from "@aws-sdk/client-kms";
import { S3Client } from "@aws-sdk/client-s3";
import type { Config } from "./config.ts";

export interface AwsClients {
  readonly s3: S3Client;
  readonly kms: KMSClient;
}

/**
 * The one place SDK clients are made. Endpoints, region and credentials come from the SDK's own
 * configuration chain (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL_KMS`, `AWS_REGION`, …).
 *
 * Retries are the SDK's, in adaptive mode: throttling, 5xx, timeouts and connection resets are
 * retried with exponential backoff and full jitter (base 100 ms), and adaptive mode also slows the
 * client down while KMS throttles. Errors no retry can fix (access denied, invalid ciphertext, no
 * such key) are not retried. Connection and idle-socket timeouts make a silent peer a retryable
 * error instead of a hang; the Lambda deadline bounds the whole.
 */
export function createClients(config: Pick<Config, "s3ForcePathStyle">): AwsClients {
  return {
    s3: new S3Client({
      forcePathStyle: config.s3ForcePathStyle,
      retryMode: "adaptive",
      maxAttempts: 5,
      requestHandler: { connectionTimeout: 3_000, requestTimeout: 30_000 },
    }),
    kms: new KMSClient({
      retryMode: "adaptive",
      maxAttempts: 6,
      requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000 },
    }),
  };
}
