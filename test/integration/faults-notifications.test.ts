import { afterAll, beforeAll, expect, test } from "vitest";
import { buildFirehoseObject, expectedEventLines, type FirehoseObject } from "../../src/local/fixtures.ts";
import { type LocalStack, s3Notification, startLocalStack } from "../../src/local/stack.ts";
import { tamperedMessage } from "../support/bad-records.ts";
import { getBytes, listKeys, outputFacts, putObject, readLines } from "../support/harness.ts";
import { LeakWatch } from "../support/leak-watch.ts";

const BUCKET = "das-notifications";
const CLUSTER = "cluster-P74MFUJBI3PYA2N5L22YVVX3VY";
/** Plain NDJSON in 5 MiB parts: the large object is a multipart upload, the race a real one. */
const ENV = { DAS_RESOURCE_ID: CLUSTER, OUTPUT_COMPRESSION: "none", UPLOAD_PART_SIZE_MB: "5" };

const watch = new LeakWatch();
let stack: LocalStack;
let large: FirehoseObject;
let smallA: FirehoseObject;
let smallB: FirehoseObject;

beforeAll(async () => {
  stack = await startLocalStack();
  stack.createBucket(BUCKET);
  const build = (records: number, eventsPerRecord: number, seed: number) =>
    buildFirehoseObject(stack.kmsClient, stack.kms.keyArn, {
      engine: "aurora-mysql",
      resourceId: CLUSTER,
      records,
      eventsPerRecord,
      rotateKeyEvery: 100,
      delimiter: "newline",
      seed,
    });
  large = await build(500, 20, 31);
  smallA = await build(20, 2, 32);
  smallB = await build(25, 2, 33);
  for (const fixture of [large, smallA, smallB]) watch.addRecords(fixture.records);
}, 60_000);
afterAll(async () => {
  await stack.stop();
});

/** The large object with two bad records in it, so the quarantine object is raced too. */
const withBadRecords = (fixture: FirehoseObject) => {
  const lines = fixture.body.toString("utf8").trimEnd().split("\n");
  lines[3] = tamperedMessage(Buffer.from(lines[3] ?? "")).toString("utf8");
  lines.splice(10, 0, "not a record");
  return Buffer.from(`${lines.join("\n")}\n`);
};

async function snapshot(key: string) {
  return {
    output: await getBytes(stack, BUCKET, `decrypted/${key}`),
    quarantine: await getBytes(stack, BUCKET, `quarantine/${key}`),
    metadata: await outputFacts(stack, BUCKET, `decrypted/${key}`),
  };
}

test("the same object processed twice gives byte-identical output, quarantine and metadata", async () => {
  const key = "raw/dup/2026/11/25/10/twice";
  await putObject(stack, BUCKET, key, withBadRecords(large));
  await watch.handlerFor(stack, ENV).handler(s3Notification(BUCKET, key));
  const first = await snapshot(key);
  await watch.handlerFor(stack, ENV).handler(s3Notification(BUCKET, key));
  const second = await snapshot(key);
  expect(second.output.equals(first.output)).toBe(true);
  expect(second.quarantine.equals(first.quarantine)).toBe(true);
  expect(second.metadata).toEqual(first.metadata);
  expect(first.metadata).toMatchObject({ "records-in": "501", records: "499", quarantined: "2" });
});

test("two concurrent invocations on one object (two containers) leave one output, identical to one run", async () => {
  const reference = "raw/dup/2026/11/25/11/reference";
  const key = "raw/dup/2026/11/25/11/concurrent";
  const body = withBadRecords(large);
  await putObject(stack, BUCKET, reference, body);
  await putObject(stack, BUCKET, key, body);
  await watch.handlerFor(stack, ENV).handler(s3Notification(BUCKET, reference));
  const expected = await snapshot(reference);
  expect(expected.output.length).toBeGreaterThan(5 * 1024 * 1024); // multipart, not one PutObject
  const runs = await Promise.allSettled([
    watch.handlerFor(stack, ENV).handler(s3Notification(BUCKET, key)),
    watch.handlerFor(stack, ENV).handler(s3Notification(BUCKET, key)),
  ]);
  expect(runs.map((run) => run.status)).toEqual(["fulfilled", "fulfilled"]);
  expect(await listKeys(stack, BUCKET, "decrypted/raw/dup/2026/11/25/11/concurrent")).toEqual([
    `decrypted/${key}`,
  ]);
  const got = await snapshot(key);
  expect(got.output.equals(expected.output)).toBe(true);
  expect(got.quarantine.equals(expected.quarantine)).toBe(true);
  expect(got.metadata).toEqual(expected.metadata);
});

test("one event naming objects twice and out of order processes each object once", async () => {
  const a = "raw/dup/2026/11/25/12/a";
  const b = "raw/dup/2026/11/25/12/b";
  await putObject(stack, BUCKET, a, smallA.body);
  await putObject(stack, BUCKET, b, smallB.body);
  const records = [b, a, b, a].flatMap((key) => s3Notification(BUCKET, key).Records);
  const { handler, log } = watch.handlerFor(stack, ENV);
  await handler({ Records: records });
  expect(
    log.lines.filter((line) => line.message === "object decrypted").map((line) => line.extra.key),
  ).toEqual([b, a]);
  expect(await readLines(stack, BUCKET, `decrypted/${a}`)).toEqual(expectedEventLines(smallA.records));
  expect(await readLines(stack, BUCKET, `decrypted/${b}`)).toEqual(expectedEventLines(smallB.records));
});

test("notifications delivered in either order give the same bytes: output is a function of the input", async () => {
  const order1 = ["raw/order-1/a", "raw/order-1/b"];
  const order2 = ["raw/order-2/a", "raw/order-2/b"];
  for (const [keyA, keyB] of [order1, order2]) {
    await putObject(stack, BUCKET, keyA as string, smallA.body);
    await putObject(stack, BUCKET, keyB as string, smallB.body);
  }
  const { handler } = watch.handlerFor(stack, ENV);
  for (const key of order1) await handler(s3Notification(BUCKET, key));
  for (const key of [...order2].reverse()) await handler(s3Notification(BUCKET, key));
  for (const [one, two] of [
    [order1[0], order2[0]],
    [order1[1], order2[1]],
  ]) {
    const first = await getBytes(stack, BUCKET, `decrypted/${one}`);
    expect((await getBytes(stack, BUCKET, `decrypted/${two}`)).equals(first)).toBe(true);
  }
});

test("an SQS batch carrying the same object in two messages processes it once and reports no failure", async () => {
  const key = "raw/dup/2026/11/25/13/sqs";
  await putObject(stack, BUCKET, key, smallA.body);
  const { handler, log } = watch.handlerFor(stack, ENV);
  const message = (id: string) => ({
    eventSource: "aws:sqs",
    messageId: id,
    body: JSON.stringify(s3Notification(BUCKET, key)),
  });
  expect(await handler({ Records: [message("m-1"), message("m-2")] })).toEqual({ batchItemFailures: [] });
  expect(log.lines.filter((line) => line.message === "object decrypted")).toHaveLength(1);
});

test("nothing logged during this file's handler runs holds plaintext or ciphertext", () => {
  expect(watch.size().logLines).toBeGreaterThan(8);
  expect(watch.findLeaks()).toEqual([]);
});
