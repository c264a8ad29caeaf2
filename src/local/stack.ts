import { KMSClient } from "@aws-sdk/client-kms";
import { S3Client } from "@aws-sdk/client-s3";
import { startFauxqs } from "fauxqs";
import { type KmsEmulator, type KmsEmulatorOptions, startKmsEmulator } from "./kms-emulator.ts";
import { startS3TagsFront } from "./s3-tags-front.ts";

/** A local S3 and KMS on loopback, with SDK clients pointed at them. */
export interface LocalStack {
  readonly s3Endpoint: string;
  readonly kms: KmsEmulator;
  readonly s3Client: S3Client;
  readonly kmsClient: KMSClient;
  /** The environment the handler needs to reach this stack (merge your own settings in). */
  readonly env: Record<string, string>;
  createBucket(name: string): void;
  stop(): Promise<void>;
}

const REGION = "us-east-1";
const CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local-secret" };

/**
 * Starts an S3-compatible server (fauxqs, in memory, behind a front that adds object tagging) and
 * the KMS emulator, both on 127.0.0.1 with ports chosen by the OS. Sets the SDK's standard variables in `process.env` so clients created
 * afterwards (the handler's included) talk to them.
 */
export async function startLocalStack(options: { kms?: KmsEmulatorOptions } = {}): Promise<LocalStack> {
  const s3Server = await startFauxqs({ port: 0, host: "127.0.0.1", logger: false });
  const front = await startS3TagsFront(s3Server.address);
  const kms = await startKmsEmulator(options.kms);
  const env: Record<string, string> = {
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_S3: front.endpoint,
    AWS_ENDPOINT_URL_KMS: kms.endpoint,
    S3_FORCE_PATH_STYLE: "true",
    // The SDK warns once per process that Node 20 support ends in 2027; Lambda runs Node 22.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  };
  Object.assign(process.env, env);
  const s3Client = new S3Client({
    endpoint: front.endpoint,
    region: REGION,
    credentials: CREDENTIALS,
    forcePathStyle: true,
  });
  const kmsClient = new KMSClient({ endpoint: kms.endpoint, region: REGION, credentials: CREDENTIALS });
  return {
    s3Endpoint: front.endpoint,
    kms,
    s3Client,
    kmsClient,
    env,
    createBucket: (name) => {
      s3Server.createBucket(name);
    },
    stop: async () => {
      s3Client.destroy();
      kmsClient.destroy();
      await front.stop();
      await Promise.all([s3Server.stop(), kms.stop()]);
    },
  };
}

export { encodeS3Key, s3Notification } from "../lambda/s3-notification.ts";
