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
 * Retries use the SDK's adaptive mode, which also backs off on KMS throttling.
 */
export function createClients(config: Pick<Config, "s3ForcePathStyle">): AwsClients {
  return {
    s3: new S3Client({ forcePathStyle: config.s3ForcePathStyle, retryMode: "adaptive", maxAttempts: 5 }),
    kms: new KMSClient({ retryMode: "adaptive", maxAttempts: 6 }),
  };
}
