import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { DasDecryptError, DeadlineError } from "../../src/config/errors.ts";
import { DecryptPool } from "../../src/decrypt/decrypt-pool.ts";
import { buildFirehoseObject, type FirehoseObject } from "../../src/local/fixtures.ts";
import { type LocalStack, s3Notification, startLocalStack } from "../../src/local/stack.ts";
import { getBytes, handlerFor, listKeys, outputFacts, putObject } from "../support/harness.ts";

const BUCKET = "das-workers";
const CLUSTER = "cluster-P74MFUJBI3PYA2N5L22YVVX3VY";

let stack: LocalStack;
let fixture: FirehoseObject;
/** The fixture with bad pieces between its records: garbage, a record with bad base64, another stream's record. */
let mixed: Buffer;

beforeAll(async () => {
  stack = await startLocalStack();
  stack.createBucket(BUCKET);
  fixture = await buildFirehoseObject(stack.kmsClient, stack.kms.keyArn, {
    engine: "aurora-mysql",
    resourceId: CLUSTER,
    records: 120,
    eventsPerRecord: 4,
    rotateKeyEvery: 25,
    suite: "signed",
    delimiter: "newline",
    seed: 5,
  });
  const other = await buildFirehoseObject(stack.kmsClient, stack.kms.keyArn, {
    engine: "aurora-postgresql",
    resourceId: "cluster-OTHERSTREAMXXXXXXXXXXXXXXX",
    records: 1,
  });
  const lines = fixture.body.toString("utf8").trimEnd().split("\n");
  lines.splice(10, 0, "not json at all");
  lines.splice(50, 0, '{"type":"x","key":"AQID","databaseActivityEvents":"!!"}');
  lines.splice(90, 0, other.body.toString("utf8"));
  mixed = Buffer.from(`${lines.join("\n")}\n`);
}, 60_000);
afterAll(async () => {
  await stack.stop();
});
beforeEach(() => {
  stack.kms.faults.latencyMs = 0;
});

const kmsDecrypts = () => stack.kms.calls.Decrypt ?? 0;

async function decryptWith(workers: string, batch: string, key: string) {
  await putObject(stack, BUCKET, key, mixed);
  const { handler, log } = handlerFor(stack, {
    DAS_RESOURCE_ID: CLUSTER,
    DECRYPT_WORKERS: workers,
    DECRYPT_BATCH_RECORDS: batch,
    DATA_KEY_CACHE_TTL_SECONDS: "1",
  });
  await new Promise((resolve) => setTimeout(resolve, 1_100)); // every data key expired from the cache
  const before = kmsDecrypts();
  await handler(s3Notification(BUCKET, key));
  return {
    output: await getBytes(stack, BUCKET, `decrypted/${key}.gz`),
    quarantine: await getBytes(stack, BUCKET, `quarantine/${key}`),
    metadata: await outputFacts(stack, BUCKET, `decrypted/${key}.gz`),
    kmsCalls: kmsDecrypts() - before,
    summary: log.lines.find((line) => line.message === "object decrypted")?.extra,
  };
}

describe("decryption in worker threads", () => {
  test("0, 1 and 3 workers, batches of 1 to 256 records: byte-identical output and quarantine, one KMS call per data key", async () => {
    const runs = [];
    for (const [workers, batch] of [
      ["0", "256"],
      ["0", "1"],
      ["1", "7"],
      ["3", "16"],
      ["3", "256"],
    ] as const) {
      runs.push(await decryptWith(workers, batch, `raw/workers/w${workers}-b${batch}`));
    }
    const [first, ...rest] = runs;
    expect(first?.metadata).toMatchObject({ "records-in": "123", records: "120", quarantined: "3" });
    // 120 records under a key rotated every 25: five data keys of this stream, plus the other stream's.
    expect(first?.kmsCalls).toBe(6);
    const quarantined = (first?.quarantine.toString("utf8") ?? "").trimEnd().split("\n");
    expect(
      quarantined.map((line) => JSON.parse(line) as { reason: string; recordIndex: number }),
    ).toMatchObject([
      { recordIndex: 10, reason: "garbage" },
      { recordIndex: 50, reason: "bad-base64" },
      { recordIndex: 90, reason: "kms-invalid-ciphertext" },
    ]);
    for (const run of rest) {
      expect(run.output.equals(first?.output as Buffer)).toBe(true);
      expect(run.quarantine.equals(first?.quarantine as Buffer)).toBe(true);
      expect(run.metadata).toEqual(first?.metadata);
      expect(run.kmsCalls).toBe(6);
    }
  });

  test("workers: a KMS call slower than the time left ends in DeadlineError soon after the budget, nothing written", async () => {
    for (const workers of ["0", "2"]) {
      const key = `raw/workers/deadline-${workers}`;
      await putObject(stack, BUCKET, key, fixture.body);
      stack.kms.faults.latencyMs = 4_000;
      const { handler } = handlerFor(stack, { DAS_RESOURCE_ID: CLUSTER, DECRYPT_WORKERS: workers });
      const end = Date.now() + 5_000 + 400;
      const started = performance.now();
      const error = await handler(s3Notification(BUCKET, key), {
        getRemainingTimeInMillis: () => end - Date.now(),
      }).catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(DeadlineError);
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(await listKeys(stack, BUCKET, `decrypted/${key}`)).toEqual([]);
    }
  });

  test("a worker that stops mid-object fails that object, retryably, with nothing written; the next object gets new workers", async () => {
    const key = "raw/workers/stopped";
    await putObject(stack, BUCKET, key, fixture.body);
    stack.kms.faults.latencyMs = 500;
    const { handler } = handlerFor(stack, { DAS_RESOURCE_ID: CLUSTER, DECRYPT_WORKERS: "2" });
    const running = handler(s3Notification(BUCKET, key)).catch((thrown: unknown) => thrown);
    // The batch is with a worker by now, which waits on the slow KMS for its data key.
    await new Promise((resolve) => setTimeout(resolve, 250));
    await DecryptPool.shared(2).close();
    const error = await running;
    expect(error).toBeInstanceOf(DasDecryptError);
    expect((error as DasDecryptError).retryable).toBe(true);
    expect((error as DasDecryptError).message).toContain("a decryption worker stopped");
    expect(await listKeys(stack, BUCKET, `decrypted/${key}`)).toEqual([]);
    expect(await listKeys(stack, BUCKET, `quarantine/${key}`)).toEqual([]);

    stack.kms.faults.latencyMs = 0;
    const next = "raw/workers/after-stop";
    await putObject(stack, BUCKET, next, fixture.body);
    await handler(s3Notification(BUCKET, next));
    expect((await outputFacts(stack, BUCKET, `decrypted/${next}.gz`))?.records).toBe("120");
  });
});
