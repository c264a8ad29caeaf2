import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { AwsCallError, DeadlineError } from "../../src/config/errors.ts";
import { buildFirehoseObject, expectedEventLines, type FirehoseObject } from "../../src/local/fixtures.ts";
import { type LocalStack, s3Notification, startLocalStack } from "../../src/local/stack.ts";
import { type FaultProxy, startFaultProxy } from "../support/fault-proxy.ts";
import { listKeys, putObject, readLines } from "../support/harness.ts";
import { LeakWatch } from "../support/leak-watch.ts";

const BUCKET = "das-faults";
const DB = "db-KBKJGYAAF5QT253EYKEI37WBCY";
/** Plain NDJSON and 5 MiB parts, so the large object's output is a multipart upload of 2+ parts. */
// Small batches: the output follows the input closely, so a fault mid-object meets an upload under way.
const ENV = {
  DAS_RESOURCE_ID: DB,
  OUTPUT_COMPRESSION: "none",
  UPLOAD_PART_SIZE_MB: "5",
  DECRYPT_BATCH_RECORDS: "16",
};

const watch = new LeakWatch();
let stack: LocalStack;
let proxy: FaultProxy;
let small: FirehoseObject;
let large: FirehoseObject;

beforeAll(async () => {
  stack = await startLocalStack();
  stack.createBucket(BUCKET);
  proxy = await startFaultProxy(stack.s3Endpoint);
  // The handler's clients are made after this, so every S3 call of the handler crosses the proxy;
  // the test's own client still talks to the server directly.
  process.env.AWS_ENDPOINT_URL_S3 = proxy.endpoint;
  small = await buildFirehoseObject(stack.kmsClient, stack.kms.keyArn, {
    engine: "oracle",
    resourceId: DB,
    records: 60,
    eventsPerRecord: 3,
    rotateKeyEvery: 10,
    seed: 21,
  });
  large = await buildFirehoseObject(stack.kmsClient, stack.kms.keyArn, {
    engine: "sqlserver",
    resourceId: DB,
    records: 700,
    eventsPerRecord: 20,
    rotateKeyEvery: 100,
    seed: 22,
  });
  for (const fixture of [small, large]) watch.addRecords(fixture.records);
}, 60_000);
afterAll(async () => {
  await proxy.stop();
  await stack.stop();
});
afterEach(() => {
  proxy.rule = () => ({ kind: "pass" });
  stack.kms.faults.latencyMs = 0;
  stack.kms.faults.throttle = () => false;
  Object.defineProperty(stack.kms.faults, "down", { value: false, writable: true, configurable: true });
});

/** Every request of this S3 operation fails with this status and error code; the rest pass. */
function failEvery(operation: string, status: number, code: string): void {
  proxy.rule = (request) =>
    request.operation === operation ? { kind: "fail", status, code } : { kind: "pass" };
}

const kmsDecrypts = () => stack.kms.calls.Decrypt ?? 0;
const onKey = (key: string, path: string) => path === `/${BUCKET}/${key}`;

async function put(key: string, fixture: FirehoseObject): Promise<void> {
  await putObject(stack, BUCKET, key, fixture.body);
}

async function invoke(key: string, context?: { getRemainingTimeInMillis(): number }) {
  const { handler, log } = watch.handlerFor(stack, ENV);
  const started = performance.now();
  const error = await handler(s3Notification(BUCKET, key), context).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (error !== undefined) watch.noteError(error);
  return { error, log, ms: performance.now() - started };
}

async function expectComplete(key: string, fixture: FirehoseObject): Promise<void> {
  expect(await readLines(stack, BUCKET, `decrypted/${key}`)).toEqual(expectedEventLines(fixture.records));
}

async function expectNoOutputAndNothingDangling(key: string): Promise<void> {
  expect(await listKeys(stack, BUCKET, `decrypted/${key}`)).toEqual([]);
  expect(await listKeys(stack, BUCKET, `quarantine/${key}`)).toEqual([]);
  expect(proxy.danglingUploads()).toEqual([]);
}

describe("KMS faults", () => {
  test("throttling on every other call is retried with backoff and the object completes", async () => {
    const key = "raw/faults/kms/throttled";
    await put(key, small);
    stack.kms.faults.throttle = (n) => n % 2 === 0;
    const before = kmsDecrypts();
    const { error } = await invoke(key);
    expect(error).toBeUndefined();
    await expectComplete(key, small);
    // Six data keys; throttled attempts were answered too, so KMS saw more requests than keys.
    expect(kmsDecrypts() - before).toBeGreaterThan(6);
  });

  test("KMS unreachable for its next three requests: retried inside the invocation, completes", async () => {
    const key = "raw/faults/kms/blip";
    await put(key, small);
    const until = kmsDecrypts() + 3;
    Object.defineProperty(stack.kms.faults, "down", {
      get: () => kmsDecrypts() <= until,
      configurable: true,
    });
    const { error } = await invoke(key);
    expect(error).toBeUndefined();
    await expectComplete(key, small);
  });

  test("KMS down for the whole invocation: a retryable error, nothing written; the retry succeeds", async () => {
    const key = "raw/faults/kms/down";
    await put(key, small);
    stack.kms.faults.down = true;
    const { error, log } = await invoke(key);
    expect(error).toBeInstanceOf(AwsCallError);
    expect(error).toMatchObject({ operation: "kms:Decrypt", retryable: true });
    expect(log.lines.at(-1)).toMatchObject({ level: "error", extra: { outcome: "failed", retryable: true } });
    await expectNoOutputAndNothingDangling(key);
    stack.kms.faults.down = false;
    expect((await invoke(key)).error).toBeUndefined();
    await expectComplete(key, small);
  });
});

describe("S3 faults, through a fault-injecting proxy", () => {
  test("GetObject reset mid-stream: the read resumes where it stopped and the output is complete", async () => {
    const key = "raw/faults/s3/reset-once";
    await put(key, large);
    proxy.rule = (request) =>
      request.operation === "GetObject" && onKey(key, request.path) && request.headers.range === undefined
        ? { kind: "reset-after", bytes: Math.floor(large.body.length / 3) }
        : { kind: "pass" };
    const { error } = await invoke(key);
    expect(error).toBeUndefined();
    await expectComplete(key, large);
    const gets = proxy.requests.filter((r) => r.operation === "GetObject" && onKey(key, r.path));
    expect(gets).toHaveLength(2);
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(String(gets[1]?.headers.range))?.[1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(Math.floor(large.body.length / 3));
    expect(gets[1]?.headers["if-match"]).toBeDefined();
    expect(proxy.danglingUploads()).toEqual([]);
  });

  test("GetObject reset on every attempt mid-upload: a retryable error, multipart aborted, no output", async () => {
    const key = "raw/faults/s3/reset-always";
    await put(key, large);
    const creates = proxy.count("CreateMultipartUpload");
    proxy.rule = (request) =>
      request.operation === "GetObject" && onKey(key, request.path)
        ? {
            kind: "reset-after",
            bytes: request.headers.range === undefined ? Math.floor(large.body.length * 0.8) : 64,
          }
        : { kind: "pass" };
    const { error } = await invoke(key);
    expect(error).toBeInstanceOf(AwsCallError);
    expect(error).toMatchObject({ operation: "s3:GetObject (body)", retryable: true });
    // The first read reached the multipart upload before the connection broke for good.
    expect(proxy.count("CreateMultipartUpload")).toBeGreaterThan(creates);
    await expectNoOutputAndNothingDangling(key);
  });

  test("an UploadPart failing once (500) is retried by the SDK and the object completes", async () => {
    const key = "raw/faults/s3/part-once";
    await put(key, large);
    let failed = 0;
    proxy.rule = (request) => {
      if (request.operation !== "UploadPart" || request.query.get("partNumber") !== "2" || failed > 0)
        return { kind: "pass" };
      failed += 1;
      return { kind: "fail", status: 500, code: "InternalError" };
    };
    const { error } = await invoke(key);
    expect(error).toBeUndefined();
    expect(failed).toBe(1);
    await expectComplete(key, large);
    expect(proxy.danglingUploads()).toEqual([]);
  });

  test("an UploadPart failing every time: a retryable error, the multipart upload aborted, no output", async () => {
    const key = "raw/faults/s3/part-always";
    await put(key, large);
    const aborts = proxy.count("AbortMultipartUpload");
    proxy.rule = (request) =>
      request.operation === "UploadPart" && request.query.get("partNumber") === "2"
        ? { kind: "fail", status: 500, code: "InternalError" }
        : { kind: "pass" };
    const { error } = await invoke(key);
    expect(error).toBeInstanceOf(AwsCallError);
    expect(error).toMatchObject({ retryable: true });
    expect(proxy.count("AbortMultipartUpload")).toBe(aborts + 1);
    await expectNoOutputAndNothingDangling(key);
  });

  test("S3 slow (every request delayed 150 ms): the object completes correctly", async () => {
    const key = "raw/faults/s3/slow";
    await put(key, large);
    proxy.rule = () => ({ kind: "delay", ms: 150 });
    const { error } = await invoke(key);
    expect(error).toBeUndefined();
    await expectComplete(key, large);
    expect(proxy.danglingUploads()).toEqual([]);
  });

  test("a refused delete of a stale quarantine object still commits the output, with a warning", async () => {
    const key = "raw/faults/s3/no-delete";
    // An earlier run quarantined a stray byte run; the source is then replaced by a clean one.
    await putObject(stack, BUCKET, key, Buffer.concat([small.body, Buffer.from("not a record")]));
    expect((await invoke(key)).error).toBeUndefined();
    expect(await listKeys(stack, BUCKET, `quarantine/${key}`)).toEqual([`quarantine/${key}`]);
    await put(key, small);
    failEvery("DeleteObject", 403, "AccessDenied");
    const { error, log } = await invoke(key);
    expect(error).toBeUndefined();
    await expectComplete(key, small);
    expect(log.lines.find((line) => line.level === "warn")).toMatchObject({
      message: "a quarantine object of an earlier run could not be deleted",
      extra: { key, errorName: "AccessDenied" },
    });
  });

  test("a refused tagging of the counts still commits the output, with a warning naming the error", async () => {
    const key = "raw/faults/s3/no-tags";
    await put(key, small);
    failEvery("PutObjectTagging", 403, "AccessDenied");
    const { error, log } = await invoke(key);
    expect(error).toBeUndefined();
    await expectComplete(key, small);
    expect(log.lines.find((line) => line.level === "warn")).toMatchObject({
      message: "the output is complete, but its count tags could not be written",
      extra: { errorName: "AccessDenied" },
    });
  });

  test("a refused read of the earlier output's tags does not fail the object: a needless delete at most", async () => {
    const key = "raw/faults/s3/no-tag-read";
    await put(key, small);
    const deletes = proxy.count("DeleteObject");
    failEvery("GetObjectTagging", 500, "InternalError");
    const { error } = await invoke(key);
    expect(error).toBeUndefined();
    await expectComplete(key, small);
    expect(proxy.count("DeleteObject")).toBe(deletes + 1);
  });

  test("a 503 SlowDown answer to GetObject is retried and the object completes", async () => {
    const key = "raw/faults/s3/slow-down";
    await put(key, small);
    proxy.rule = (request) =>
      request.operation === "GetObject" && onKey(key, request.path) && request.nth % 2 === 1
        ? { kind: "fail", status: 503, code: "SlowDown" }
        : { kind: "pass" };
    expect((await invoke(key)).error).toBeUndefined();
    await expectComplete(key, small);
  });
});

describe("the Lambda deadline", () => {
  /** A context with `budgetMs` left after the handler's 5 s safety margin. */
  const contextWith = (budgetMs: number) => {
    const end = Date.now() + 5_000 + budgetMs;
    return { getRemainingTimeInMillis: () => end - Date.now() };
  };

  test("KMS too slow for the time left: DeadlineError (retryable) soon after the budget, nothing written", async () => {
    const key = "raw/faults/deadline/kms";
    await put(key, small);
    stack.kms.faults.latencyMs = 4_000;
    const { error, log, ms } = await invoke(key, contextWith(400));
    expect(error).toBeInstanceOf(DeadlineError);
    expect((error as DeadlineError).retryable).toBe(true);
    expect(ms).toBeLessThan(2_000);
    expect(log.lines.at(-1)).toMatchObject({ extra: { outcome: "failed", errorName: "DeadlineError" } });
    await expectNoOutputAndNothingDangling(key);
  });

  test("the deadline during a slow multipart upload aborts it within the margin, nothing written", async () => {
    const key = "raw/faults/deadline/upload";
    await put(key, large);
    const creates = proxy.count("CreateMultipartUpload");
    proxy.rule = (request) =>
      request.operation === "UploadPart" ? { kind: "delay", ms: 6_000 } : { kind: "pass" };
    // Enough time to reach the first part even on a slow machine, far less than one part takes.
    const { error, ms } = await invoke(key, contextWith(3_000));
    expect(error).toBeInstanceOf(DeadlineError);
    expect(proxy.count("CreateMultipartUpload")).toBeGreaterThan(creates);
    // It does not wait for the 6 s parts in flight: it aborts the upload and returns.
    expect(ms).toBeLessThan(3_000 + 1_500);
    await expectNoOutputAndNothingDangling(key);
  });
});

test("nothing logged or thrown during this file's handler runs holds plaintext or ciphertext", () => {
  expect(watch.size().errors).toBeGreaterThanOrEqual(5);
  expect(watch.findLeaks()).toEqual([]);
});
