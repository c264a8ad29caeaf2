import { getHeapStatistics } from "node:v8";
import { Logger } from "@aws-lambda-powertools/logger";
import type { Context } from "aws-lambda";
import { type AwsClients, createClients, createEventBridgeClient } from "../config/clients.ts";
import { type Config, loadConfig } from "../config/config.ts";
import { DasDecryptError } from "../config/errors.ts";
import { buildBatchDecryptor } from "../decrypt/batch-decryptor.ts";
import { buildDataKeySource } from "../decrypt/data-keys.ts";
import { createS3Store } from "../output/s3-store.ts";
import { paramHashKeySource } from "../policy/param-hash-key.ts";
import type { ObjectSummary, ProcessDeps } from "../process-object.ts";
import {
  type BatchOperationsResponse,
  handleBatchOperations,
  isBatchOperationsEvent,
} from "./batch-operations.ts";
import { type ObjectRef, parseEvent } from "./events.ts";
import { heapSizeOverridden } from "./heap-size.ts";
import { createMetrics, type ObjectMetrics } from "./metrics.ts";
import { eventBridgePublisher, type ObjectEventPublisher } from "./object-events.ts";
import { type Log, runObject } from "./run-object.ts";

export type { Log } from "./run-object.ts";

/** SQS partial batch response: the messages Lambda should leave on the queue. */
export interface BatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

export type DecryptHandler = (
  event: unknown,
  context?: Pick<Context, "getRemainingTimeInMillis">,
) => Promise<BatchResponse | HandlerResult | BatchOperationsResponse>;

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
  /** SDK clients to build the collaborators on, instead of new ones (tests record what they send). */
  readonly clients?: AwsClients;
  /** Where "DAS Object Decrypted" events go when PUBLISH_OBJECT_EVENTS is on (default: the EventBridge default bus). */
  readonly objectEvents?: ObjectEventPublisher;
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
  const logger = options.logger ?? powertoolsLog(new Logger({ serviceName: config.serviceName }));
  const metrics = options.metrics ?? createMetrics(config.metricsNamespace, config.serviceName);
  const deps = options.deps ?? buildDeps(config, options.clients);
  const objectEvents = config.publishObjectEvents
    ? (options.objectEvents ?? eventBridgePublisher(createEventBridgeClient()))
    : undefined;
  const reporting = { logger, metrics, ...(objectEvents === undefined ? {} : { objectEvents }) };
  const heap = heapSizeOverridden(env.NODE_OPTIONS, getHeapStatistics().heap_size_limit);
  if (heap !== undefined) {
    logger.warn(
      "V8's heap is larger than NODE_OPTIONS sets: node was started with heap sizes of its own; AWS_LAMBDA_EXEC_WRAPPER should name the package's functions/node-flags.sh",
      heap,
    );
  }

  return async (event, context) => {
    if (isBatchOperationsEvent(event)) {
      const signal = deadlineSignal(context);
      return handleBatchOperations(event, (ref) => runObject(ref, deps, reporting, signal));
    }
    const parsed = parseEvent(event);
    for (const reason of parsed.skipped) logger.info("notification skipped", { reason });
    const signal = deadlineSignal(context);
    const failures: { ref: ObjectRef; error: unknown }[] = [];
    const summaries: ObjectSummary[] = [];
    for (const ref of unique(parsed.objects)) {
      const outcome = await runObject(ref, deps, reporting, signal);
      if (outcome.kind === "decrypted") summaries.push(outcome.summary);
      if (outcome.kind === "failed") failures.push({ ref, error: outcome.error });
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
export function buildDeps(config: Config, clients: AwsClients = createClients(config)): ProcessDeps {
  const { s3, kms, lakeS3 } = clients;
  const keys = buildDataKeySource({
    kms,
    cacheSize: config.dataKeyCacheSize,
    cacheTtlMs: config.dataKeyCacheTtlMs,
  });
  return {
    config,
    store: createS3Store(s3, {
      partBytes: config.uploadPartBytes,
      queueSize: config.uploadQueueSize,
      sseKmsKeyId: config.outputKmsKeyId,
    }),
    decryptor: buildBatchDecryptor(keys, config.decryptWorkers),
    // Security Lake's bucket is encrypted its own way (its default encryption): no SSE headers.
    // One part in flight: the Parquet is a few percent of the NDJSON's bytes (8 MB for 300,000
    // events), so a second part would be memory held for nothing.
    ...(config.securityLake === undefined
      ? {}
      : {
          lakeStore: createS3Store(lakeS3 ?? s3, {
            partBytes: config.uploadPartBytes,
            queueSize: 1,
            sseKmsKeyId: undefined,
          }),
        }),
    ...(config.paramHashKeyId === undefined
      ? {}
      : { paramHashKey: paramHashKeySource(kms, config.paramHashKeyId) }),
  };
}

/** Structured JSON lines through Powertools Logger, one field per key of `extra`. */
function powertoolsLog(logger: Logger): Log {
  return {
    info: (message, extra = {}) => logger.info(message, extra),
    warn: (message, extra = {}) => logger.warn(message, extra),
    error: (message, extra = {}) => logger.error(message, extra),
  };
}

/** The invocation's deadline, kept `DEADLINE_MARGIN_MS` early so uploads can be aborted and reported. */
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
