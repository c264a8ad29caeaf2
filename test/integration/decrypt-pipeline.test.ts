import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { AwsCallError } from "../../src/config/errors.ts";
import type { Engine } from "../../src/local/das-events.ts";
import {
  buildFirehoseObject,
  expectedEventLines,
  type FixtureOptions,
  type SuiteName,
} from "../../src/local/fixtures.ts";
import { encodeS3Key, type LocalStack, s3Notification, startLocalStack } from "../../src/local/stack.ts";
import { getBytes, handlerFor, listKeys, outputFacts, putObject, readLines } from "../support/harness.ts";

const BUCKET = "das-pipeline";
const CLUSTER = "cluster-P74MFUJBI3PYA2N5L22YVVX3VY";
const DB = "db-KBKJGYAAF5QT253EYKEI37WBCY";
const resourceOf = (engine: Engine) => (engine.startsWith("aurora") ? CLUSTER : DB);

let stack: LocalStack;
beforeAll(async () => {
  stack = await startLocalStack();
  stack.createBucket(BUCKET);
});
afterAll(async () => {
  await stack.stop();
});
beforeEach(() => {
  stack.kms.faults.latencyMs = 0;
});

async function writeFixture(key: string, options: FixtureOptions) {
  const fixture = await buildFirehoseObject(stack.kmsClient, stack.kms.keyArn, options);
  const etag = await putObject(stack, BUCKET, key, fixture.body);
  return { ...fixture, etag };
}

function kmsDecrypts(): number {
  return stack.kms.calls.Decrypt ?? 0;
}

describe("the handler decrypts Firehose objects of every engine into mirrored NDJSON", () => {
  const cases: [Engine, SuiteName, "none" | "newline", boolean][] = [
    ["aurora-postgresql", "unsigned", "none", false],
    ["aurora-postgresql", "signed", "newline", true],
    ["aurora-mysql", "signed", "none", true],
    ["aurora-mysql", "unsigned", "newline", false],
    ["oracle", "unsigned", "newline", true],
    ["oracle", "signed", "none", false],
    ["sqlserver", "signed", "newline", false],
    ["sqlserver", "unsigned", "none", true],
  ];
  test.each(cases)("%s, suite %s, delimiter %s, gzip %s", async (engine, suite, delimiter, gzip) => {
    const key = `raw/${engine}/2026/11/25/10/das-${engine}-1-2026-11-25-10-00-00-${suite}-${delimiter}${gzip ? ".gz" : ""}`;
    const fixture = await writeFixture(key, {
      engine,
      resourceId: resourceOf(engine),
      records: 40,
      eventsPerRecord: 3,
      suite,
      delimiter,
      gzip,
      rotateKeyEvery: 15,
      heartbeatEvery: 8,
      seed: cases.length,
    });
    const { handler, log } = handlerFor(stack, {
      DAS_RESOURCE_ID_MAP: JSON.stringify({
        "raw/aurora-postgresql/": CLUSTER,
        "raw/aurora-mysql/": CLUSTER,
      }),
      DAS_RESOURCE_ID: DB,
    });
    const before = kmsDecrypts();
    await handler(s3Notification(BUCKET, key, fixture.etag, fixture.body.length));
    const outputKey = `decrypted/${key.replace(/\.gz$/, "")}.gz`;
    const expected = expectedEventLines(fixture.records);
    expect(await readLines(stack, BUCKET, outputKey)).toEqual(expected);
    // 40 records under a key rotated every 15: three distinct data keys, three KMS calls.
    expect(kmsDecrypts() - before).toBe(3);
    expect(await outputFacts(stack, BUCKET, outputKey)).toMatchObject({
      "source-etag": fixture.etag,
      records: "40",
      events: String(expected.length),
      "heartbeats-dropped": "5",
    });
    const summary = log.lines.find((line) => line.message === "object decrypted")?.extra;
    expect(summary).toMatchObject({ key, records: 40, events: expected.length, kmsCalls: 3 });
  });
});

test("records format without compression writes each decrypted record as one line", async () => {
  const key = "raw/records/2026/11/25/11/das-1-records";
  const fixture = await writeFixture(key, {
    engine: "oracle",
    resourceId: DB,
    records: 12,
    eventsPerRecord: 2,
  });
  const { handler } = handlerFor(stack, {
    DAS_RESOURCE_ID: DB,
    OUTPUT_FORMAT: "records",
    OUTPUT_COMPRESSION: "none",
  });
  await handler(s3Notification(BUCKET, key, fixture.etag));
  const raw = await getBytes(stack, BUCKET, `decrypted/${key}`);
  expect(raw[0]).toBe(0x7b); // plain NDJSON, not GZIP
  expect(await readLines(stack, BUCKET, `decrypted/${key}`)).toEqual(fixture.records);
});

test("INCLUDE_HEARTBEATS keeps heartbeat events", async () => {
  const key = "raw/heartbeats/2026/11/25/11/das-1-hb";
  const fixture = await writeFixture(key, {
    engine: "aurora-postgresql",
    resourceId: CLUSTER,
    records: 10,
    heartbeatEvery: 2,
  });
  const { handler } = handlerFor(stack, { DAS_RESOURCE_ID: CLUSTER, INCLUDE_HEARTBEATS: "true" });
  await handler(s3Notification(BUCKET, key, fixture.etag));
  const lines = await readLines(stack, BUCKET, `decrypted/${key}.gz`);
  expect(lines).toEqual(expectedEventLines(fixture.records, true));
  expect(lines.filter((line) => (line as { type: string }).type === "heartbeat")).toHaveLength(5);
});

test("records waiting on the same data key share one KMS call even when KMS is slow", async () => {
  const key = "raw/shared-key/2026/11/25/12/das-1-shared";
  const fixture = await writeFixture(key, {
    engine: "aurora-mysql",
    resourceId: CLUSTER,
    records: 150,
    rotateKeyEvery: 1000,
  });
  stack.kms.faults.latencyMs = 50;
  // 15 batches of 10: several are in flight while the one KMS call is still answering.
  const { handler, log } = handlerFor(stack, { DAS_RESOURCE_ID: CLUSTER, DECRYPT_BATCH_RECORDS: "10" });
  const before = kmsDecrypts();
  await handler(s3Notification(BUCKET, key, fixture.etag));
  expect(kmsDecrypts() - before).toBe(1);
  expect(log.lines[0]?.extra).toMatchObject({ records: 150, kmsCalls: 1 });
  expect(log.lines[0]?.extra?.cacheHits).toBeGreaterThanOrEqual(1);
  expect(await readLines(stack, BUCKET, `decrypted/${key}.gz`)).toEqual(expectedEventLines(fixture.records));
});

test("a warm container reuses cached data keys across objects", async () => {
  const keys = ["raw/warm/2026/11/25/12/a", "raw/warm/2026/11/25/12/b"];
  const { handler } = handlerFor(stack, { DAS_RESOURCE_ID: CLUSTER });
  const fixture = await buildFirehoseObject(stack.kmsClient, stack.kms.keyArn, {
    engine: "aurora-postgresql",
    resourceId: CLUSTER,
    records: 5,
  });
  for (const key of keys) await putObject(stack, BUCKET, key, fixture.body);
  const before = kmsDecrypts();
  for (const key of keys) await handler(s3Notification(BUCKET, key));
  expect(kmsDecrypts() - before).toBe(1);
});

test("an output larger than one part goes up as a multipart upload with the same content", async () => {
  const key = "raw/large/2026/11/25/13/das-1-large";
  const fixture = await writeFixture(key, {
    engine: "sqlserver",
    resourceId: DB,
    records: 400,
    eventsPerRecord: 20,
  });
  const { handler, log } = handlerFor(stack, {
    DAS_RESOURCE_ID: DB,
    OUTPUT_COMPRESSION: "none",
    UPLOAD_PART_SIZE_MB: "5",
  });
  await handler(s3Notification(BUCKET, key, fixture.etag));
  const summary = log.lines[0]?.extra as { bytesWritten: number };
  expect(summary.bytesWritten).toBeGreaterThan(5 * 1024 * 1024);
  expect(await readLines(stack, BUCKET, `decrypted/${key}`)).toEqual(expectedEventLines(fixture.records));
});

test("SQS-wrapped and EventBridge notifications decrypt the same object", async () => {
  const key = "raw/wrapped/2026/11/25/14/das 1+x";
  const fixture = await writeFixture(key, { engine: "aurora-postgresql", resourceId: CLUSTER, records: 4 });
  const { handler } = handlerFor(stack, { DAS_RESOURCE_ID: CLUSTER });
  const sqs = await handler({
    Records: [
      { eventSource: "aws:sqs", messageId: "m-1", body: JSON.stringify(s3Notification(BUCKET, key)) },
      { eventSource: "aws:sqs", messageId: "m-2", body: JSON.stringify({ Event: "s3:TestEvent" }) },
    ],
  });
  expect(sqs).toEqual({ batchItemFailures: [] });
  const first = await getBytes(stack, BUCKET, `decrypted/${key}.gz`);
  await handler({
    "detail-type": "Object Created",
    source: "aws.s3",
    detail: { bucket: { name: BUCKET }, object: { key: encodeS3Key(key) } },
  });
  expect(await getBytes(stack, BUCKET, `decrypted/${key}.gz`)).toEqual(first);
  expect(await readLines(stack, BUCKET, `decrypted/${key}.gz`)).toEqual(expectedEventLines(fixture.records));
});

test("the same notification twice writes byte-identical output", async () => {
  const key = "raw/repeat/2026/11/25/15/das-1-repeat";
  const fixture = await writeFixture(key, {
    engine: "aurora-mysql",
    resourceId: CLUSTER,
    records: 30,
    suite: "signed",
  });
  const { handler } = handlerFor(stack, { DAS_RESOURCE_ID: CLUSTER });
  await handler(s3Notification(BUCKET, key, fixture.etag));
  const first = await getBytes(stack, BUCKET, `decrypted/${key}.gz`);
  await handler(s3Notification(BUCKET, key, fixture.etag));
  expect(await getBytes(stack, BUCKET, `decrypted/${key}.gz`)).toEqual(first);
});

test("an empty object still gets its empty decrypted twin", async () => {
  const key = "raw/empty/2026/11/25/16/das-1-empty";
  const etag = await putObject(stack, BUCKET, key, Buffer.alloc(0));
  const { handler } = handlerFor(stack, { DAS_RESOURCE_ID: CLUSTER });
  await handler(s3Notification(BUCKET, key, etag));
  expect(await readLines(stack, BUCKET, `decrypted/${key}.gz`)).toEqual([]);
  expect(await outputFacts(stack, BUCKET, `decrypted/${key}.gz`)).toMatchObject({
    records: "0",
    events: "0",
  });
});

test("a key under the output prefix is ignored with a log line, so the function never feeds itself", async () => {
  const { handler, log } = handlerFor(stack, { DAS_RESOURCE_ID: CLUSTER });
  await handler(s3Notification(BUCKET, "decrypted/raw/x/2026/11/25/10/y.gz"));
  expect(await listKeys(stack, BUCKET, "decrypted/decrypted/")).toEqual([]);
  expect(log.lines).toEqual([
    expect.objectContaining({ message: "object skipped: it is under the output prefix" }),
  ]);
});

test("a failed upload throws, names the object and leaves no output object", async () => {
  const key = "raw/no-bucket/2026/11/25/17/das-1";
  const fixture = await writeFixture(key, { engine: "aurora-postgresql", resourceId: CLUSTER, records: 3 });
  const { handler, log } = handlerFor(stack, {
    DAS_RESOURCE_ID: CLUSTER,
    OUTPUT_BUCKET: "bucket-that-does-not-exist",
  });
  const failure = await handler(s3Notification(BUCKET, key, fixture.etag)).catch((error: unknown) => error);
  expect(failure).toBeInstanceOf(AwsCallError);
  expect((failure as AwsCallError).message).toContain("bucket-that-does-not-exist");
  expect(log.lines.at(-1)).toMatchObject({ level: "error", extra: { outcome: "failed", key } });
  expect(await listKeys(stack, BUCKET, `decrypted/${key}`)).toEqual([]);
});
