import { afterAll, beforeAll, expect, test } from "vitest";
import { buildFirehoseObject, expectedEventLines } from "../../src/local/fixtures.ts";
import { type LocalStack, s3Notification, startLocalStack } from "../../src/local/stack.ts";
import { type FaultProxy, startFaultProxy } from "../support/fault-proxy.ts";
import { handlerFor, putObject, readLines } from "../support/harness.ts";

const BUCKET = "das-sse";
const CLUSTER = "cluster-P74MFUJBI3PYA2N5L22YVVX3VY";
const KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

let stack: LocalStack;
let proxy: FaultProxy;
beforeAll(async () => {
  stack = await startLocalStack();
  stack.createBucket(BUCKET);
  proxy = await startFaultProxy(stack.s3Endpoint);
  process.env.AWS_ENDPOINT_URL_S3 = proxy.endpoint;
});
afterAll(async () => {
  await proxy.stop();
  await stack.stop();
});

test("with OUTPUT_KMS_KEY_ID every write of plaintext (single puts, multipart creation) asks for SSE-KMS under that key", async () => {
  const writes = ["PutObject", "CreateMultipartUpload"];
  const runs = [
    { key: "raw/sse/2026/11/25/10/small", records: 5, events: 1 },
    { key: "raw/sse/2026/11/25/10/large", records: 500, events: 20 },
  ];
  const { handler } = handlerFor(stack, {
    DAS_RESOURCE_ID: CLUSTER,
    OUTPUT_KMS_KEY_ID: KEY_ARN,
    OUTPUT_COMPRESSION: "none",
    UPLOAD_PART_SIZE_MB: "5",
  });
  for (const run of runs) {
    const fixture = await buildFirehoseObject(stack.kmsClient, stack.kms.keyArn, {
      engine: "aurora-postgresql",
      resourceId: CLUSTER,
      records: run.records,
      eventsPerRecord: run.events,
    });
    await putObject(stack, BUCKET, run.key, fixture.body);
    await handler(s3Notification(BUCKET, run.key));
    expect(await readLines(stack, BUCKET, `decrypted/${run.key}`)).toEqual(
      expectedEventLines(fixture.records),
    );
  }
  const seen = proxy.requests.filter((request) => writes.includes(request.operation));
  expect(new Set(seen.map((request) => request.operation))).toEqual(new Set(writes));
  for (const request of seen) {
    expect(request.headers["x-amz-server-side-encryption"], request.operation).toBe("aws:kms");
    expect(request.headers["x-amz-server-side-encryption-aws-kms-key-id"], request.operation).toBe(KEY_ARN);
    expect(request.headers["x-amz-server-side-encryption-bucket-key-enabled"], request.operation).toBe(
      "true",
    );
  }
});

test("without OUTPUT_KMS_KEY_ID the bucket's default encryption applies (no SSE headers sent)", async () => {
  const key = "raw/sse/2026/11/25/11/default";
  const fixture = await buildFirehoseObject(stack.kmsClient, stack.kms.keyArn, {
    engine: "aurora-postgresql",
    resourceId: CLUSTER,
    records: 3,
  });
  await putObject(stack, BUCKET, key, fixture.body);
  const before = proxy.requests.length;
  const { handler } = handlerFor(stack, { DAS_RESOURCE_ID: CLUSTER });
  await handler(s3Notification(BUCKET, key));
  const writes = proxy.requests.slice(before).filter((r) => r.operation === "PutObject");
  expect(writes.length).toBe(1);
  for (const request of writes) expect(request.headers["x-amz-server-side-encryption"]).toBeUndefined();
});
