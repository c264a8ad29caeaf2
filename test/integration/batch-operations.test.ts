import { afterAll, beforeAll, expect, test } from "vitest";
import { buildFirehoseObject, expectedEventLines } from "../../src/local/fixtures.ts";
import { encodeS3Key, type LocalStack, startLocalStack } from "../../src/local/stack.ts";
import { handlerFor, putObject, readLines } from "../support/harness.ts";

const BUCKET = "das-batch";
const CLUSTER = "cluster-P74MFUJBI3PYA2N5L22YVVX3VY";
const OTHER = "cluster-OTHERCLUSTERRESOURCEID00000";

let stack: LocalStack;
beforeAll(async () => {
  stack = await startLocalStack();
  stack.createBucket(BUCKET);
});
afterAll(async () => {
  await stack.stop();
});

async function write(key: string, resourceId = CLUSTER, seed = 1) {
  const fixture = await buildFirehoseObject(stack.kmsClient, stack.kms.keyArn, {
    engine: "aurora-postgresql",
    resourceId,
    records: 6,
    seed,
  });
  await putObject(stack, BUCKET, key, fixture.body);
  return fixture;
}

test("schema 1.0: per-task results for a good object, a missing key, a wrong-stream object and an output key", async () => {
  const good = await write("raw/batch/2026/11/25/10/das 1+good.gz");
  await write("raw/batch/2026/11/25/10/other-stream", OTHER, 2);
  const { handler } = handlerFor(stack, { DAS_RESOURCE_ID: CLUSTER });
  const task = (taskId: string, key: string) => ({
    taskId,
    s3Key: encodeS3Key(key),
    s3VersionId: null,
    s3BucketArn: `arn:aws:s3:::${BUCKET}`,
  });
  const answer = await handler({
    invocationSchemaVersion: "1.0",
    invocationId: "inv-1",
    job: { id: "job-1" },
    tasks: [
      task("t-good", "raw/batch/2026/11/25/10/das 1+good.gz"),
      task("t-missing", "raw/batch/2026/11/25/10/not-there"),
      task("t-wrong-stream", "raw/batch/2026/11/25/10/other-stream"),
      task("t-output", "decrypted/raw/batch/x.gz"),
    ],
  });
  expect(answer).toMatchObject({
    invocationSchemaVersion: "1.0",
    invocationId: "inv-1",
    treatMissingKeysAs: "PermanentFailure",
  });
  const results = (answer as { results: { taskId: string; resultCode: string; resultString: string }[] })
    .results;
  expect(results.map((r) => [r.taskId, r.resultCode])).toEqual([
    ["t-good", "Succeeded"],
    ["t-missing", "PermanentFailure"],
    ["t-wrong-stream", "PermanentFailure"],
    ["t-output", "Succeeded"],
  ]);
  expect(results[0]?.resultString).toBe(
    `6 records, 6 events, 0 quarantined → s3://${BUCKET}/decrypted/raw/batch/2026/11/25/10/das 1+good.gz`,
  );
  expect(results[1]?.resultString).toMatch(/NoSuchKey/);
  expect(results[2]?.resultString).toMatch(/^ResourceIdMismatchError: .*DAS_RESOURCE_ID/);
  expect(await readLines(stack, BUCKET, "decrypted/raw/batch/2026/11/25/10/das 1+good.gz")).toEqual(
    expectedEventLines(good.records),
  );
});

test("schema 2.0: a task that fails while KMS is unreachable is a TemporaryFailure, and succeeds when retried", async () => {
  const key = "raw/batch/2026/11/25/11/das-2";
  const fixture = await write(key, CLUSTER, 3);
  const { handler } = handlerFor(stack, { DAS_RESOURCE_ID: CLUSTER });
  const event = {
    invocationSchemaVersion: "2.0",
    invocationId: "inv-2",
    job: { id: "job-2", userArguments: {} },
    tasks: [{ taskId: "t-1", s3Bucket: BUCKET, s3Key: encodeS3Key(key), s3VersionId: null }],
  };
  stack.kms.faults.down = true;
  let down: unknown;
  try {
    down = await handler(event);
  } finally {
    stack.kms.faults.down = false;
  }
  expect(down).toMatchObject({
    invocationSchemaVersion: "2.0",
    results: [{ taskId: "t-1", resultCode: "TemporaryFailure" }],
  });
  expect(await handler(event)).toMatchObject({ results: [{ taskId: "t-1", resultCode: "Succeeded" }] });
  expect(await readLines(stack, BUCKET, `decrypted/${key}.gz`)).toEqual(expectedEventLines(fixture.records));
}, 60_000);

test("an unknown schema version is refused", async () => {
  const { handler } = handlerFor(stack, { DAS_RESOURCE_ID: CLUSTER });
  await expect(handler({ invocationSchemaVersion: "3.0", invocationId: "x", tasks: [] })).rejects.toThrow(
    /schema 3.0 is not supported/,
  );
});
