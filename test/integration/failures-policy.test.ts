import { gzipSync } from "node:zlib";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { ResourceIdMismatchError, TooManyBadRecordsError } from "../../src/config/errors.ts";
import { MAX_INNER_RECORD_BYTES } from "../../src/decrypt/inflate-payloads.ts";
import { createHandler } from "../../src/lambda/handler.ts";
import {
  buildFirehoseObject,
  type EncryptedRecord,
  encryptedRecords,
  expectedEventLines,
} from "../../src/local/fixtures.ts";
import { type LocalStack, s3Notification, startLocalStack } from "../../src/local/stack.ts";
import { createSealer, tamperedMessage, withFields } from "../support/bad-records.ts";
import { listKeys, putObject, readLines } from "../support/harness.ts";
import { LeakWatch } from "../support/leak-watch.ts";

const BUCKET = "das-policy";
const CLUSTER = "cluster-P74MFUJBI3PYA2N5L22YVVX3VY";
const WRONG = "cluster-WRONGWRONGWRONGWRONGWRONGWR";

const watch = new LeakWatch();
let stack: LocalStack;
let good: EncryptedRecord[];

beforeAll(async () => {
  stack = await startLocalStack();
  stack.createBucket(BUCKET);
  good = [];
  for await (const record of encryptedRecords(stack.kmsClient, stack.kms.keyArn, {
    engine: "aurora-mysql",
    resourceId: CLUSTER,
    records: 12,
    eventsPerRecord: 2,
    seed: 9,
  }))
    good.push(record);
  watch.addRecords(good.map((record) => record.inner));
  for (const record of good) watch.addRawRecord(record.bytes);
});
afterAll(async () => {
  await stack.stop();
});

const kmsDecrypts = () => stack.kms.calls.Decrypt ?? 0;
const bytesOf = (indexes: number[]) => Buffer.concat(indexes.map((i) => (good[i] as EncryptedRecord).bytes));
const recordAt = (index: number) => (good[index] as EncryptedRecord).bytes;

async function run(key: string, body: Buffer, env: Record<string, string>) {
  await putObject(stack, BUCKET, key, body);
  const { handler, log } = watch.handlerFor(stack, { DAS_RESOURCE_ID: CLUSTER, ...env });
  const error = await handler(s3Notification(BUCKET, key)).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (error !== undefined) watch.noteError(error);
  return { error, log };
}

async function expectNothingWritten(key: string) {
  expect(await listKeys(stack, BUCKET, `decrypted/${key}`)).toEqual([]);
  expect(await listKeys(stack, BUCKET, `quarantine/${key}`)).toEqual([]);
}

describe("a wrong resource id is a configuration error, not 100,000 quarantined records", () => {
  test("every record refused by KMS fails the object at once, names DAS_RESOURCE_ID and writes nothing", async () => {
    const key = "raw/policy/wrong-id/2026/11/25/10/many";
    const fixture = await buildFirehoseObject(stack.kmsClient, stack.kms.keyArn, {
      engine: "aurora-postgresql",
      resourceId: CLUSTER,
      records: 400,
      rotateKeyEvery: 50,
    });
    const before = kmsDecrypts();
    const { error, log } = await run(key, fixture.body, { DAS_RESOURCE_ID: WRONG });
    expect(error).toBeInstanceOf(ResourceIdMismatchError);
    const mismatch = error as ResourceIdMismatchError;
    expect(mismatch.retryable).toBe(false);
    expect(mismatch.variable).toBe("DAS_RESOURCE_ID");
    expect(mismatch.message).toContain(`DAS_RESOURCE_ID looks wrong: KMS refused the data key`);
    expect(mismatch.message).toContain(`aws:rds:dbc-id=${WRONG}`);
    // It stops after a handful of refusals instead of asking KMS about all 400 records.
    expect(kmsDecrypts() - before).toBeLessThanOrEqual(4);
    await expectNothingWritten(key);
    expect(log.lines.at(-1)).toMatchObject({
      level: "error",
      extra: { outcome: "failed", errorName: "ResourceIdMismatchError", retryable: false },
    });
  });

  test("with DAS_RESOURCE_ID_MAP the message names the map entry that chose the id", async () => {
    const key = "raw/policy/mapped/2026/11/25/10/many";
    const { error } = await run(key, bytesOf([0, 1, 2, 3]), {
      DAS_RESOURCE_ID_MAP: JSON.stringify({ "raw/policy/mapped/": WRONG }),
    });
    expect(error).toBeInstanceOf(ResourceIdMismatchError);
    expect((error as ResourceIdMismatchError).message).toContain(
      'DAS_RESOURCE_ID_MAP["raw/policy/mapped/"] looks wrong',
    );
    await expectNothingWritten(key);
  });

  test("an object of fewer records than the early limit, all refused, fails the same way at its end", async () => {
    const key = "raw/policy/wrong-id/2026/11/25/10/two";
    const { error } = await run(key, bytesOf([0, 1]), { DAS_RESOURCE_ID: WRONG });
    expect(error).toBeInstanceOf(ResourceIdMismatchError);
    expect((error as Error).message).toContain("all 2 records");
    await expectNothingWritten(key);
  });
});

describe("MAX_QUARANTINED_RECORDS bounds how many bad records an object may have", () => {
  const mixed = () =>
    Buffer.concat([
      recordAt(0),
      tamperedMessage(recordAt(1)),
      recordAt(2),
      withFields(recordAt(3), { key: undefined }),
      tamperedMessage(recordAt(4)),
      recordAt(5),
    ]);

  test("one bad record over the limit fails the object as permanent, naming the reasons, writing nothing", async () => {
    const key = "raw/policy/limit/2026/11/25/10/over";
    const { error } = await run(key, mixed(), { MAX_QUARANTINED_RECORDS: "2" });
    expect(error).toBeInstanceOf(TooManyBadRecordsError);
    expect((error as TooManyBadRecordsError).retryable).toBe(false);
    expect((error as Error).message).toContain("message-authentication-failed: 2, missing-key: 1");
    await expectNothingWritten(key);
  });

  test("exactly the limit still commits output and quarantine", async () => {
    const key = "raw/policy/limit/2026/11/25/10/at";
    const { error, log } = await run(key, mixed(), { MAX_QUARANTINED_RECORDS: "3" });
    expect(error).toBeUndefined();
    expect(await readLines(stack, BUCKET, `decrypted/${key}.gz`)).toEqual(
      expectedEventLines([0, 2, 5].map((i) => (good[i] as EncryptedRecord).inner)),
    );
    expect(await readLines(stack, BUCKET, `quarantine/${key}`)).toHaveLength(3);
    expect(log.lines[0]?.extra).toMatchObject({ recordsIn: 6, records: 3, quarantined: 3 });
  });

  test("a limit of 0 makes any bad record fail the object", async () => {
    const key = "raw/policy/limit/2026/11/25/10/strict";
    const { error } = await run(key, Buffer.concat([recordAt(0), Buffer.from("junk")]), {
      MAX_QUARANTINED_RECORDS: "0",
    });
    expect(error).toBeInstanceOf(TooManyBadRecordsError);
    await expectNothingWritten(key);
  });
});

test("a record that inflates past the inner-record cap is quarantined, not allowed to exhaust memory", async () => {
  const key = "raw/policy/bomb/2026/11/25/10/bomb";
  const sealer = await createSealer(stack.kmsClient, stack.kms.keyArn, CLUSTER);
  const bomb = await sealer.seal(gzipSync(Buffer.alloc(MAX_INNER_RECORD_BYTES + 1, 0x20)));
  expect(bomb.length).toBeLessThan(1024 * 1024);
  const { error, log } = await run(key, Buffer.concat([recordAt(0), bomb, recordAt(1)]), {});
  expect(error).toBeUndefined();
  expect(await readLines(stack, BUCKET, `quarantine/${key}`)).toMatchObject([
    {
      recordIndex: 1,
      reason: "inner-too-large",
      message: `the decrypted record inflates past ${MAX_INNER_RECORD_BYTES} bytes`,
    },
  ]);
  expect(log.lines[0]?.extra).toMatchObject({ recordsIn: 3, records: 2, quarantined: 1 });
});

describe("the quarantine object always reflects the latest run", () => {
  test("a clean rerun deletes the quarantine object an earlier run left", async () => {
    const key = "raw/policy/rerun/2026/11/25/10/fixed";
    await run(key, Buffer.concat([recordAt(0), Buffer.from("junk"), recordAt(1)]), {});
    expect(await readLines(stack, BUCKET, `quarantine/${key}`)).toHaveLength(1);
    const { error } = await run(key, bytesOf([0, 1]), {});
    expect(error).toBeUndefined();
    expect(await listKeys(stack, BUCKET, `quarantine/${key}`)).toEqual([]);
    expect(await readLines(stack, BUCKET, `decrypted/${key}.gz`)).toEqual(
      expectedEventLines([0, 1].map((i) => (good[i] as EncryptedRecord).inner)),
    );
  });

  test("a rerun with other bad records replaces the quarantine lines", async () => {
    const key = "raw/policy/rerun/2026/11/25/10/changed";
    await run(key, Buffer.concat([recordAt(0), Buffer.from("junk")]), {});
    await run(key, Buffer.concat([Buffer.from("other junk"), recordAt(0)]), {});
    expect(await readLines(stack, BUCKET, `quarantine/${key}`)).toMatchObject([
      { recordIndex: 0, byteOffset: 0, reason: "garbage", raw: "other junk" },
    ]);
  });

  test("a key under the quarantine prefix is skipped, so quarantine objects never feed the function", async () => {
    const { handler, log } = watch.handlerFor(stack, { DAS_RESOURCE_ID: CLUSTER });
    await handler(s3Notification(BUCKET, "quarantine/raw/x/2026/11/25/10/y"));
    expect(log.lines).toEqual([
      expect.objectContaining({ message: "object skipped: it is under the quarantine prefix" }),
    ]);
  });
});

describe("Powertools Logger and Metrics in production shape", () => {
  // These tests are about what production prints, whatever a local setting may have switched off.
  const saved = { ...process.env };
  beforeEach(() => {
    process.env.POWERTOOLS_METRICS_DISABLED = "false";
    process.env.POWERTOOLS_LOG_LEVEL = "INFO";
    process.env.POWERTOOLS_DEV = "false";
  });
  afterEach(() => {
    for (const name of ["POWERTOOLS_METRICS_DISABLED", "POWERTOOLS_LOG_LEVEL", "POWERTOOLS_DEV"]) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });

  test("each object publishes one EMF blob with its counts; a failed object publishes ObjectsFailed", async () => {
    const key = "raw/policy/emf/2026/11/25/10/mixed";
    const failing = "raw/policy/emf/2026/11/25/10/failing";
    await putObject(stack, BUCKET, key, Buffer.concat([recordAt(6), Buffer.from("junk"), recordAt(7)]));
    await putObject(stack, BUCKET, failing, bytesOf([8]));
    const log = watch.log();
    const handler = createHandler({ ...stack.env, DAS_RESOURCE_ID: CLUSTER }, { logger: log });
    const wrongId = createHandler({ ...stack.env, DAS_RESOURCE_ID: WRONG }, { logger: log });
    watch.captureStdio();
    const emitted = watch.streamed().length;
    try {
      await handler(s3Notification(BUCKET, key));
      await wrongId(s3Notification(BUCKET, failing)).catch((error: unknown) => watch.noteError(error));
    } finally {
      watch.stopStdio();
    }
    const blobs = watch
      .streamed()
      .slice(Math.max(0, emitted - 1))
      .filter((line) => line.startsWith('{"_aws"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(blobs).toHaveLength(2);
    const [decrypted, failed] = blobs;
    expect(decrypted).toMatchObject({
      service: "das-decrypt",
      key,
      ObjectsDecrypted: 1,
      RecordsIn: 3,
      RecordsDecrypted: 2,
      RecordsQuarantined: 1,
      Events: expectedEventLines([6, 7].map((i) => (good[i] as EncryptedRecord).inner)).length,
      KmsCalls: 1,
      DataKeyCacheHits: 0,
    });
    expect((decrypted as { _aws: unknown })._aws).toMatchObject({
      CloudWatchMetrics: [{ Namespace: "DasDecrypt", Dimensions: [["service"]] }],
    });
    expect(decrypted?.BytesIn).toBeGreaterThan(0);
    expect(decrypted?.ObjectDuration).toBeGreaterThanOrEqual(0);
    expect(failed).toMatchObject({
      key: failing,
      errorName: "ResourceIdMismatchError",
      ObjectsFailed: 1,
      ObjectsFailedPermanently: 1,
    });
  });

  test("the default Powertools logger's JSON lines carry the summary and no content", async () => {
    const key = "raw/policy/logger/2026/11/25/10/mixed";
    await putObject(stack, BUCKET, key, Buffer.concat([recordAt(9), tamperedMessage(recordAt(10))]));
    const handler = createHandler({ ...stack.env, DAS_RESOURCE_ID: CLUSTER });
    watch.captureStdio();
    const from = watch.streamed().length;
    try {
      await handler(s3Notification(BUCKET, key));
    } finally {
      watch.stopStdio();
    }
    const summary = watch
      .streamed()
      .slice(Math.max(0, from - 1))
      .filter((line) => line.includes('"object decrypted"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(summary).toEqual([
      expect.objectContaining({
        level: "INFO",
        service: "das-decrypt",
        outcome: "decrypted-with-quarantine",
        quarantineReasons: { "message-authentication-failed": 1 },
      }),
    ]);
  });
});

test("nothing logged, emitted or thrown during this file's handler runs holds plaintext or ciphertext", () => {
  const size = watch.size();
  expect(size.secrets).toBeGreaterThan(50);
  expect(size.errors).toBeGreaterThanOrEqual(5);
  expect(size.streamedBytes).toBeGreaterThan(500);
  expect(watch.findLeaks()).toEqual([]);
});
