import { DasDecryptError, EventShapeError, isRetryableAwsError } from "../config/errors.ts";
import { decodeS3Key, type ObjectRef } from "./events.ts";
import type { ObjectOutcome } from "./run-object.ts";

export type BatchResultCode = "Succeeded" | "TemporaryFailure" | "PermanentFailure";

/** The answer S3 Batch Operations expects: one result per task. */
export interface BatchOperationsResponse {
  invocationSchemaVersion: string;
  treatMissingKeysAs: BatchResultCode;
  invocationId: string;
  results: { taskId: string; resultCode: BatchResultCode; resultString: string }[];
}

interface BatchTask {
  readonly taskId: string;
  readonly ref: ObjectRef;
}

type Json = Record<string, unknown>;

/** True for an S3 Batch Operations "Invoke AWS Lambda function" event (schema 1.0 or 2.0). */
export function isBatchOperationsEvent(event: unknown): event is Json {
  return (
    typeof event === "object" &&
    event !== null &&
    typeof (event as Json).invocationSchemaVersion === "string" &&
    Array.isArray((event as Json).tasks)
  );
}

/**
 * Runs every task of a Batch Operations invocation and answers per task: `Succeeded` (decrypted,
 * or deliberately skipped), `TemporaryFailure` for retryable errors (S3 retries the task), and
 * `PermanentFailure` for errors no retry can fix. Keys arrive URL-encoded in both schemas: in 1.0
 * the bucket comes as `s3BucketArn`, in 2.0 as `s3Bucket`.
 * @throws EventShapeError when the event or a task lacks what identifies an object.
 */
export async function handleBatchOperations(
  event: Json,
  run: (ref: ObjectRef) => Promise<ObjectOutcome>,
): Promise<BatchOperationsResponse> {
  const version = String(event.invocationSchemaVersion);
  if (version !== "1.0" && version !== "2.0") {
    throw new EventShapeError(`S3 Batch Operations schema ${version} is not supported (1.0 and 2.0 are)`);
  }
  const tasks = (event.tasks as unknown[]).map((task, index) => parseTask(task, index));
  const results: BatchOperationsResponse["results"] = [];
  for (const { taskId, ref } of tasks) {
    const outcome = await run(ref);
    results.push({ taskId, ...resultOf(outcome) });
  }
  return {
    invocationSchemaVersion: version,
    // A key that no longer exists will not appear by retrying.
    treatMissingKeysAs: "PermanentFailure",
    invocationId: String(event.invocationId ?? ""),
    results,
  };
}

function parseTask(task: unknown, index: number): BatchTask {
  if (typeof task !== "object" || task === null)
    throw new EventShapeError(`tasks[${index}] is not an object`);
  const { taskId, s3Key, s3Bucket, s3BucketArn } = task as Json;
  const bucket =
    typeof s3Bucket === "string"
      ? s3Bucket
      : typeof s3BucketArn === "string"
        ? s3BucketArn.split(":::")[1]
        : undefined;
  if (typeof taskId !== "string" || typeof s3Key !== "string" || bucket === undefined || bucket === "") {
    throw new EventShapeError(`tasks[${index}] lacks taskId, s3Key or the bucket (s3Bucket / s3BucketArn)`);
  }
  return { taskId, ref: { bucket, key: decodeS3Key(s3Key) } };
}

function resultOf(outcome: ObjectOutcome): { resultCode: BatchResultCode; resultString: string } {
  if (outcome.kind === "skipped") {
    return { resultCode: "Succeeded", resultString: "skipped: the key is one this function writes" };
  }
  if (outcome.kind === "decrypted") {
    const s = outcome.summary;
    return {
      resultCode: "Succeeded",
      resultString:
        `${s.records} records, ${s.events} events, ${s.quarantined} quarantined → ` +
        `s3://${s.outputBucket}/${s.outputKey}`,
    };
  }
  const { error } = outcome;
  const retryable = error instanceof DasDecryptError ? error.retryable : isRetryableAwsError(error);
  const name = error instanceof Error ? error.name : "Error";
  const message = error instanceof Error ? error.message : "";
  return {
    resultCode: retryable ? "TemporaryFailure" : "PermanentFailure",
    // S3 keeps result strings in the job report; they hold names and positions only, never content.
    resultString: `${name}: ${message}`.slice(0, 1024),
  };
}
