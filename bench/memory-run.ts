/**
 * Runs the handler once on one object, alone in this process, and prints its memory as JSON: the
 * peak RSS sampled during the run, the process's lifetime maximum, and the RSS before the run.
 * The benchmark's memory cases use it so fixtures held by the benchmark never count.
 */
import { createHandler } from "../src/handler.ts";
import { NO_METRICS } from "../src/metrics.ts";
import type { ObjectSummary } from "../src/process-object.ts";
import { SILENT_LOG } from "../src/run-object.ts";
import { s3Notification } from "../src/s3-notification.ts";

const key = process.argv[2] ?? "";
const handler = createHandler(process.env, {
  logger: SILENT_LOG,
  metrics: NO_METRICS,
});
const before = process.memoryUsage.rss();
let peak = before;
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage.rss());
}, 10);
const started = performance.now();
const result = (await handler(s3Notification("bench", key), { getRemainingTimeInMillis: () => 900_000 })) as {
  objects: ObjectSummary[];
};
const wallMs = performance.now() - started;
clearInterval(sampler);
const summary = result.objects[0] as ObjectSummary;
process.stdout.write(
  `${JSON.stringify({
    wallMs: Math.round(wallMs),
    records: summary.records,
    bytesIn: summary.bytesIn,
    rssBeforeMB: Math.round(before / 1048576),
    peakRssMB: Math.round(Math.max(peak, process.memoryUsage.rss()) / 1048576),
    maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
  })}\n`,
);
