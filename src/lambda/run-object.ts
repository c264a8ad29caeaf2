import type { Config } from "../config/config.ts";
import { DasDecryptError, RecordError } from "../config/errors.ts";
import { isOutputKey } from "../output/output-key.ts";
import { isQuarantineKey } from "../output/quarantine.ts";
import { type ObjectSummary, type ProcessDeps, processObject } from "../process-object.ts";
import type { ObjectRef } from "./events.ts";
import { type ObjectMetrics, publishFailureMetrics, publishObjectMetrics } from "./metrics.ts";
import type { ObjectEventPublisher } from "./object-events.ts";

/** The subset of Powertools' Logger the handler uses; tests may pass a capturing one. */
export interface Log {
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

/** A logger that drops everything, for runs where the caller reports by itself. */
export const SILENT_LOG: Log = { info: () => undefined, warn: () => undefined, error: () => undefined };

export interface Reporting {
  readonly logger: Log;
  readonly metrics: ObjectMetrics;
  /** Publishes a "DAS Object Decrypted" event once an object's output is complete (when configured). */
  readonly objectEvents?: ObjectEventPublisher;
}

/** How one object ended: the edge turns this into Lambda's answer (throw, batch failures …). */
export type ObjectOutcome =
  | { readonly kind: "decrypted"; readonly summary: ObjectSummary }
  | { readonly kind: "skipped" }
  | { readonly kind: "failed"; readonly error: unknown };

/**
 * Runs one object and reports it: keys the function wrote itself are skipped; otherwise
 * {@link processObject} runs and the object gets one summary log line and one EMF metrics blob,
 * failed or not. Errors become outcomes here, so one bad object never stops the others.
 */
export async function runObject(
  ref: ObjectRef,
  deps: ProcessDeps,
  reporting: Reporting,
  signal: AbortSignal | undefined,
): Promise<ObjectOutcome> {
  const { logger, metrics } = reporting;
  const skip = skipReason(ref, deps.config);
  if (skip !== undefined) {
    logger.info(`object skipped: it is under the ${skip} prefix`, { bucket: ref.bucket, key: ref.key });
    return { kind: "skipped" };
  }
  try {
    const processed = await processObject(ref, deps, signal === undefined ? {} : { signal });
    // The output is committed: a failure to announce it is reported, never a reason to run it again.
    const eventNotPublished = await publishEvent(reporting.objectEvents, processed);
    const summary = eventNotPublished === undefined ? processed : { ...processed, eventNotPublished };
    const outcome = summary.quarantined > 0 ? "decrypted-with-quarantine" : "decrypted";
    logger.info("object decrypted", { outcome, ...summary });
    if (summary.staleQuarantineNotDeleted !== undefined) {
      logger.warn("a quarantine object of an earlier run could not be deleted", {
        bucket: summary.outputBucket,
        key: summary.key,
        errorName: summary.staleQuarantineNotDeleted,
      });
    }
    if (eventNotPublished !== undefined) {
      logger.warn("the output is complete, but its event could not be published", {
        bucket: summary.bucket,
        key: summary.key,
        errorName: eventNotPublished,
      });
    }
    if (summary.countsNotTagged !== undefined) {
      logger.warn("the output is complete, but its count tags could not be written", {
        bucket: summary.outputBucket,
        key: summary.outputKey,
        errorName: summary.countsNotTagged,
      });
    }
    publishObjectMetrics(metrics, summary);
    return { kind: "decrypted", summary };
  } catch (error) {
    logger.error("object failed", {
      outcome: "failed",
      bucket: ref.bucket,
      key: ref.key,
      ...describeError(error),
    });
    publishFailureMetrics(metrics, ref, error);
    return { kind: "failed", error };
  }
}

/** Publishes the object's event; the error's name when that failed, for the log and the metrics. */
async function publishEvent(
  publish: ObjectEventPublisher | undefined,
  summary: ObjectSummary,
): Promise<string | undefined> {
  if (publish === undefined) return undefined;
  try {
    await publish(summary);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.name : "Error";
  }
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

/** Output and quarantine objects are the function's own: processing them would feed it itself. */
function skipReason(ref: ObjectRef, config: Config): "output" | "quarantine" | undefined {
  if (isOutputKey(ref.bucket, ref.key, config)) return "output";
  if (isQuarantineKey(ref.bucket, ref.key, config)) return "quarantine";
  return undefined;
}
