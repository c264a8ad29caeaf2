/**
 * Security Lake's custom sources are written through the provider role Security Lake creates
 * (`AmazonSecurityLake-Provider-<source>-<region>`), with the external id they were registered
 * with. Against moto's STS and S3 (servers we did not write): the Parquet files are written with
 * the credentials AssumeRole answered, the output with the function's own.
 */
import { KMSClient } from "@aws-sdk/client-kms";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, expect, test } from "vitest";
import { createClients } from "../../src/config/clients.ts";
import { loadConfig } from "../../src/config/config.ts";
import { createHandler, type HandlerResult } from "../../src/lambda/handler.ts";
import { s3Notification } from "../../src/lambda/s3-notification.ts";
import { buildFirehoseObject } from "../../src/local/fixtures.ts";
import { type KmsEmulator, startKmsEmulator } from "../../src/local/kms-emulator.ts";
import { CapturingLog } from "../support/harness.ts";
import { type MotoServer, startMotoServer } from "../support/moto-server.ts";

const CLUSTER = "cluster-P74MFUJBI3PYA2N5L22YVVX3VY";
const REGION = "us-east-1";
const CREDENTIALS = { accessKeyId: "AKIAFUNCTIONROLE0001", secretAccessKey: "function-secret" };
const ROLE = "arn:aws:iam::123456789012:role/AmazonSecurityLake-Provider-das-decrypt-us-east-1";
const ENV = {
  DAS_RESOURCE_ID: CLUSTER,
  S3_FORCE_PATH_STYLE: "true",
  DECRYPT_WORKERS: "0",
  AWS_REGION: REGION,
  SECURITY_LAKE_BUCKET: "aws-security-data-lake-us-east-1-example",
  SECURITY_LAKE_ACCOUNT_ID: "123456789012",
  SECURITY_LAKE_ROLE_ARN: ROLE,
  SECURITY_LAKE_EXTERNAL_ID: "das-decrypt-external-id",
};

let moto: MotoServer | undefined;
let kms: KmsEmulator | undefined;
let s3: S3Client;

beforeAll(async () => {
  [moto, kms] = await Promise.all([startMotoServer(), startKmsEmulator()]);
  Object.assign(process.env, {
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_S3: moto.endpoint,
    AWS_ENDPOINT_URL_STS: moto.endpoint,
    AWS_ENDPOINT_URL_KMS: kms.endpoint,
  });
  s3 = new S3Client({
    endpoint: moto.endpoint,
    region: REGION,
    credentials: CREDENTIALS,
    forcePathStyle: true,
  });
  for (const bucket of ["das-raw", ENV.SECURITY_LAKE_BUCKET])
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
}, 60_000);

afterAll(async () => {
  s3?.destroy();
  await kms?.stop();
  await moto?.stop();
  delete process.env.AWS_ENDPOINT_URL_STS;
});

/** The access key id each request was signed with, by the client that sent it. */
function signingKeys(client: S3Client, into: { command: string; key: string }[]): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const headers = (args.request as { headers?: Record<string, string> }).headers ?? {};
      const credential = /Credential=([^/]+)\//.exec(headers.authorization ?? "")?.[1] ?? "";
      into.push({ command: String(context.commandName), key: credential });
      return next(args);
    },
    { step: "finalizeRequest", name: "signingKeys", priority: "low" },
  );
}

test("the Parquet files are written as the provider role (AssumeRole with the external id), the output as the function", async () => {
  const emulator = kms as KmsEmulator;
  const fixture = await buildFirehoseObject(
    new KMSClient({ endpoint: emulator.endpoint, region: REGION, credentials: CREDENTIALS }),
    emulator.keyArn,
    { engine: "aurora-postgresql", resourceId: CLUSTER, records: 20, eventsPerRecord: 2 },
  );
  const key = "raw/2026/11/25/10/stream-1-2026-11-25-10-00-00-role";
  await s3.send(new PutObjectCommand({ Bucket: "das-raw", Key: key, Body: fixture.body }));

  const clients = createClients(loadConfig(ENV));
  expect(clients.lakeS3).toBeDefined();
  expect(clients.lakeS3).not.toBe(clients.s3);
  const lakeRequests: { command: string; key: string }[] = [];
  const ownRequests: { command: string; key: string }[] = [];
  signingKeys(clients.lakeS3 as S3Client, lakeRequests);
  signingKeys(clients.s3, ownRequests);
  const handler = createHandler(ENV, { logger: new CapturingLog(), clients });
  const result = (await handler(s3Notification("das-raw", key))) as HandlerResult;
  const summary = result.objects[0];
  expect(summary?.securityLake?.keys).toHaveLength(1);

  const lakeKeys = new Set(lakeRequests.map((request) => request.key));
  expect(lakeRequests.map((request) => request.command)).toContain("PutObjectCommand");
  // moto's AssumeRole answers temporary credentials (ASIA…): the files went with those only.
  expect([...lakeKeys]).toHaveLength(1);
  expect([...lakeKeys][0]).toMatch(/^ASIA/);
  expect(new Set(ownRequests.map((request) => request.key))).toEqual(new Set([CREDENTIALS.accessKeyId]));

  const parquet = await s3.send(
    new GetObjectCommand({ Bucket: ENV.SECURITY_LAKE_BUCKET, Key: summary?.securityLake?.keys[0] }),
  );
  const bytes = Buffer.from(
    await (parquet.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
  );
  expect(bytes.subarray(0, 4).toString()).toBe("PAR1");
  expect(bytes.subarray(-4).toString()).toBe("PAR1");
});

test("an external id without the role is refused at start", () => {
  const { SECURITY_LAKE_ROLE_ARN: _, ...withoutRole } = ENV;
  expect(() => loadConfig(withoutRole)).toThrow(/SECURITY_LAKE_EXTERNAL_ID/);
  expect(() => loadConfig({ ...ENV, SECURITY_LAKE_ROLE_ARN: "role/x" })).toThrow(/SECURITY_LAKE_ROLE_ARN/);
});
