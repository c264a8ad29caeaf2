import { Logger } from "@aws-lambda-powertools/logger";
import type { Context } from "aws-lambda";
import { createClients } from "./clients.ts";
import { type Config, loadConfig } from "./config.ts";
import { buildDataKeySource } from "./data-keys.ts";
import { DasDecryptError, RecordError } from "./errors.ts";
import { type ObjectRef, parseEvent } from "./events.ts";
import { createMetrics, type ObjectMetrics, publishFailureMetrics, publishObjectMetrics } from "./metrics.ts";
import { isOutputKey } from "./output-key.ts";
import { type ObjectSummary, type ProcessDeps, processObject } from "./process-object.ts";
import { isQuarantineKey } from "./quarantine.ts";
import { buildRecordDecryptor } from "./record-decryptor.ts";
import { createS3Store } from "./s3-store.ts";

/** The subset of Powertools' Logger the handler uses; tests may pass a capturing one. */
export interface Log {
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

/** SQS partial batch response: the messages Lambda should leave on the queue. */
export interface BatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

export type DecryptHandler = (
  event: unknown,
  context?: Pick<Context, "getRemainingTimeInMillis">,
) => Promise<BatchResponse | HandlerResult>;

/** What a direct (S3 or EventBridge) invocation returns when every object succeeded. */
export interface HandlerResult {
  objects: ObjectSummary[];
}

/** Time kept back from the Lambda deadline to abort the upload cleanly and report. */
const DEADLINE_MARGIN_MS = 5_000;

export interface HandlerOptions {
  readonly logger?: Log;
  /** Powertools Metrics (EMF on stdout) unless given. */
  readonly metrics?: ObjectMetrics;
  readonly deps?: ProcessDeps;
}

/**
 * Builds the Lambda handler: configuration is read and validated here, once per container, and the
 * SDK clients and data key cache are made here, so warm invocations reuse them.
 * @throws ConfigError naming the variable, at cold start.
 */
export function createHandler(
  env: Readonly<Record<string, string | undefined>>,
  options: HandlerOptions = {},
): DecryptHandler {
  const config = loadConfig(env);
  const logger = options.logger ?? new Logger({ serviceName: "das-decrypt" });
  const metrics = options.metrics ?? createMetrics(config.metricsNamespace);
  const deps = options.deps ?? buildDeps(config);

  return async (event, context) => {
    const parsed = parseEvent(event);
    for (const reason of parsed.skipped) logger.info("notification skipped", { reason });
    const signal = deadlineSignal(context);
    const failures: { ref: ObjectRef; error: unknown }[] = [];
    const summaries: ObjectSummary[] = [];
    for (const ref of unique(parsed.objects)) {
      if (isOutputKey(ref.bucket, ref.key, config)) {
        logger.info("object skipped: it is under the output prefix", { bucket: ref.bucket, key: ref.key });
        continue;
      }
      if (isQuarantineKey(ref.bucket, ref.key, config)) {
        logger.info("object skipped: it is under the quarantine prefix", {
          bucket: ref.bucket,
          key: ref.key,
        });
        continue;
      }
      try {
        const summary = await processObject(ref, deps, signal === undefined ? {} : { signal });
        const outcome = summary.quarantined > 0 ? "decrypted-with-quarantine" : "decrypted";
        logger.info("object decrypted", { outcome, ...summary });
        publishObjectMetrics(metrics, summary);
        summaries.push(summary);
      } catch (error) {
        logger.error("object failed", {
          outcome: "failed",
          bucket: ref.bucket,
          key: ref.key,
          ...describeError(error),
        });
        publishFailureMetrics(metrics, ref, error);
        failures.push({ ref, error });
      }
    }
    if (parsed.source === "sqs") {
      // Every message that named a failed object stays on the queue (the same key may come twice).
      const failed = new Set(failures.map(({ ref }) => objectId(ref)));
      const ids = new Set(
        parsed.objects.filter((ref) => failed.has(objectId(ref))).map((ref) => ref.messageId),
      );
      ids.delete(undefined);
      return {
        batchItemFailures: [...ids].map((itemIdentifier) => ({ itemIdentifier: String(itemIdentifier) })),
      };
    }
    if (failures.length === 1) throw failures[0]?.error;
    if (failures.length > 1) {
      throw new DasDecryptError(`${failures.length} of ${parsed.objects.length} objects failed`, {
        retryable: failures.some(({ error }) => error instanceof DasDecryptError && error.retryable),
        cause: failures.map(({ error }) => error),
      });
    }
    return { objects: summaries };
  };
}

/** The production collaborators: real S3 and KMS clients, one data key cache per container. */
export function buildDeps(config: Config): ProcessDeps {
  const { s3, kms } = createClients(config);
  const keys = buildDataKeySource({
    kms,
    cacheSize: config.dataKeyCacheSize,
    cacheTtlMs: config.dataKeyCacheTtlMs,
  });
  return {
    config,
    store: createS3Store(s3, { partBytes: config.uploadPartBytes, queueSize: config.uploadQueueSize }),
    decryptor: buildRecordDecryptor(keys),
  };
}

/** Log fields for an error: names, positions and the message (which never holds content). */
export function describeError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { errorName: "Error" };
  return {
    errorName: error.name,
    errorMessage: error.message,
    ...(error instanceof DasDecryptError
      ? { retryable: error.retryable, recordIndex: error.recordIndex, byteOffset: error.byteOffset }
      : {}),
    ...(error instanceof RecordError ? { reason: error.reason } : {}),
  };
}

function deadlineSignal(
  context: Pick<Context, "getRemainingTimeInMillis"> | undefined,
): AbortSignal | undefined {
  if (context === undefined || typeof context.getRemainingTimeInMillis !== "function") return undefined;
  return AbortSignal.timeout(Math.max(1, context.getRemainingTimeInMillis() - DEADLINE_MARGIN_MS));
}

function unique(refs: ObjectRef[]): ObjectRef[] {
  const seen = new Set<string>();
  return refs.filter((ref) => {
    const id = objectId(ref);
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

function objectId(ref: ObjectRef): string {
  return `${ref.bucket}/${ref.key}`;
}
