import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { DasDecryptError } from "../config/errors.ts";
import type { ObjectSummary } from "../process-object.ts";
import type { ObjectRef } from "./events.ts";

type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];

/** The Powertools Metrics calls the handler makes (a `Metrics` is one); tests may pass a recorder. */
export interface ObjectMetrics {
  addMetric(name: string, unit: Unit, value: number): unknown;
  addMetadata(key: string, value: string): unknown;
  publishStoredMetrics(): unknown;
}

/** Metrics that go nowhere, for runs outside Lambda (the command line, the benchmark). */
export const NO_METRICS: ObjectMetrics = {
  addMetric: () => undefined,
  addMetadata: () => undefined,
  publishStoredMetrics: () => undefined,
};

/**
 * Powertools Metrics for this function: CloudWatch embedded metric format, one blob per object,
 * written to stdout where Lambda's log pipeline turns it into metrics (no API calls, no latency).
 */
export function createMetrics(namespace: string, serviceName: string): Metrics {
  return new Metrics({ namespace, serviceName });
}

/** Publishes one object's counts (never content): records, events, quarantined, KMS, bytes, time. */
export function publishObjectMetrics(metrics: ObjectMetrics, summary: ObjectSummary): void {
  metrics.addMetadata("bucket", summary.bucket);
  metrics.addMetadata("key", summary.key);
  metrics.addMetric("ObjectsDecrypted", MetricUnit.Count, 1);
  metrics.addMetric("RecordsIn", MetricUnit.Count, summary.recordsIn);
  metrics.addMetric("RecordsDecrypted", MetricUnit.Count, summary.records);
  metrics.addMetric("RecordsQuarantined", MetricUnit.Count, summary.quarantined);
  metrics.addMetric("Events", MetricUnit.Count, summary.events);
  metrics.addMetric("HeartbeatsDropped", MetricUnit.Count, summary.heartbeatsDropped);
  metrics.addMetric("EventsFilteredByUser", MetricUnit.Count, summary.eventsFiltered.user);
  metrics.addMetric("EventsFilteredByDatabase", MetricUnit.Count, summary.eventsFiltered.database);
  metrics.addMetric("EventsFilteredByCommand", MetricUnit.Count, summary.eventsFiltered.command);
  metrics.addMetric("EventsRedacted", MetricUnit.Count, summary.eventsRedacted);
  metrics.addMetric("StatementsRedactedWhole", MetricUnit.Count, summary.statementsUnreadable);
  if (summary.securityLake !== undefined)
    metrics.addMetric("SecurityLakeRows", MetricUnit.Count, summary.securityLake.rows);
  metrics.addMetric("KmsCalls", MetricUnit.Count, summary.kmsCalls);
  metrics.addMetric("DataKeyCacheHits", MetricUnit.Count, summary.cacheHits);
  metrics.addMetric("BytesIn", MetricUnit.Bytes, summary.bytesIn);
  metrics.addMetric("BytesWritten", MetricUnit.Bytes, summary.bytesWritten);
  metrics.addMetric("ObjectDuration", MetricUnit.Milliseconds, summary.ms);
  metrics.addMetric("CountTagsNotWritten", MetricUnit.Count, summary.countsNotTagged === undefined ? 0 : 1);
  metrics.addMetric(
    "ObjectEventsNotPublished",
    MetricUnit.Count,
    summary.eventNotPublished === undefined ? 0 : 1,
  );
  metrics.publishStoredMetrics();
}

/**
 * Publishes a failed object: `ObjectsFailed`, and `ObjectsFailedPermanently` when no retry can fix
 * it (bad configuration, too many bad records), the one worth an alarm of its own.
 */
export function publishFailureMetrics(metrics: ObjectMetrics, ref: ObjectRef, error: unknown): void {
  const retryable = error instanceof DasDecryptError ? error.retryable : true;
  metrics.addMetadata("bucket", ref.bucket);
  metrics.addMetadata("key", ref.key);
  metrics.addMetadata("errorName", error instanceof Error ? error.name : "Error");
  metrics.addMetric("ObjectsFailed", MetricUnit.Count, 1);
  metrics.addMetric("ObjectsFailedPermanently", MetricUnit.Count, retryable ? 0 : 1);
  metrics.publishStoredMetrics();
}
