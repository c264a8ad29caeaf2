/**
 * Runs the handler once on one object, alone in this process, and prints its memory as JSON: the
 * peak RSS sampled during the run, the high-water mark of this process's RSS (`VmHWM`, which also
 * catches what falls between samples), and the RSS before the run. Not `getrusage`'s maximum: on
 * Linux it carries over the RSS of the process this one was forked from (the benchmark).
 * The handler is the Lambda bundle (argv[3], built by the benchmark as `serverless package` builds
 * it), loaded by plain Node the way Lambda loads it, so its code and its workers weigh what they
 * weigh there. The benchmark's memory cases use it so fixtures held by the benchmark never count.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [key = "", bundle = "", warmUpKey] = process.argv.slice(2);
const { handler } = await import(pathToFileURL(bundle).href);
const eventFor = (objectKey) => ({
  Records: [
    {
      eventSource: "aws:s3",
      eventName: "ObjectCreated:Put",
      s3: { bucket: { name: "bench" }, object: { key: objectKey } },
    },
  ],
});
const context = { getRemainingTimeInMillis: () => 900_000 };
if (warmUpKey !== undefined) {
  // A warm container: one object done before, then the high-water mark starts again from here.
  await handler(eventFor(warmUpKey), context);
  writeFileSync("/proc/self/clear_refs", "5");
}
const before = process.memoryUsage.rss();
let peak = before;
/** process.memoryUsage() when the sampled RSS was at its highest: where the peak was (V8's heap or outside it). */
let atPeak = process.memoryUsage();
const sampler = setInterval(() => {
  const rss = process.memoryUsage.rss();
  if (rss > peak) {
    peak = rss;
    atPeak = process.memoryUsage();
  }
}, 10);
const started = performance.now();
const result = await handler(eventFor(key), context);
const wallMs = performance.now() - started;
clearInterval(sampler);
const [summary] = result.objects;
process.stdout.write(
  `${JSON.stringify({
    wallMs: Math.round(wallMs),
    records: summary.records,
    bytesIn: summary.bytesIn,
    rssBeforeMB: Math.round(before / 1048576),
    peakRssMB: Math.round(Math.max(peak, process.memoryUsage.rss()) / 1048576),
    rssHighWaterMB: highWaterMB(),
    atPeakMB: Object.fromEntries(
      ["heapTotal", "heapUsed", "external", "arrayBuffers"].map((name) => [
        name,
        Math.round(atPeak[name] / 1048576),
      ]),
    ),
  })}\n`,
);

/** `VmHWM` of /proc/self/status in MB (Linux), else `null`. */
function highWaterMB() {
  try {
    const kB = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
    return kB === undefined ? null : Math.round(Number(kB) / 1024);
  } catch {
    return null;
  }
}
