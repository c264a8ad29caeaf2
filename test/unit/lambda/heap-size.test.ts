/**
 * The cold-start check that V8 runs with the old generation NODE_OPTIONS asks for, against the heap
 * limits node reports: through the exec wrapper (NODE_OPTIONS' sizes) and without it (the sizes
 * Lambda's bootstrap puts on the command line), read from real node processes.
 */
import { execFileSync } from "node:child_process";
import { expect, test } from "vitest";
import { heapSizeOverridden } from "../../../src/lambda/heap-size.ts";

const NODE_OPTIONS = "--enable-source-maps --max-semi-space-size=8 --max-old-space-size=442";

/** V8's heap limit in a node started with `args`, NODE_OPTIONS as the stack sets it at 1769 MB. */
function heapLimit(args: string[]): number {
  const probe = 'process.stdout.write(String(require("node:v8").getHeapStatistics().heap_size_limit))';
  return Number(
    execFileSync(process.execPath, [...args, "-e", probe], {
      env: { ...process.env, NODE_OPTIONS },
      encoding: "utf8",
    }),
  );
}

test("NODE_OPTIONS' sizes in force: nothing to report", () => {
  expect(heapSizeOverridden(NODE_OPTIONS, heapLimit([]))).toBeUndefined();
});

test("the bootstrap's sizes on the command line at 1769 MB: the asked and the actual size", () => {
  const found = heapSizeOverridden(
    NODE_OPTIONS,
    heapLimit(["--max-semi-space-size=88", "--max-old-space-size=1593"]),
  );
  expect(found?.askedMB).toBe(442);
  expect(found?.heapLimitMB).toBeGreaterThan(1593);
});

test("no size asked, or another flag of a similar name: nothing to report", () => {
  expect(heapSizeOverridden(undefined, 4e9)).toBeUndefined();
  expect(heapSizeOverridden("--enable-source-maps", 4e9)).toBeUndefined();
  expect(heapSizeOverridden("--max-old-space-size-x=10", 4e9)).toBeUndefined();
  expect(heapSizeOverridden("--max-old-space-size=10", 4e9)).toEqual({ askedMB: 10, heapLimitMB: 3815 });
});

test("the handler warns once, at cold start, when V8's heap is not the size NODE_OPTIONS sets", async () => {
  const { createHandler } = await import("../../../src/lambda/handler.ts");
  const { NO_METRICS } = await import("../../../src/lambda/metrics.ts");
  const warnings: { message: string; extra?: Record<string, unknown> }[] = [];
  const logger = {
    info: () => undefined,
    warn: (message: string, extra?: Record<string, unknown>) =>
      warnings.push({ message, ...(extra ? { extra } : {}) }),
    error: () => undefined,
  };
  const env = { DAS_RESOURCE_ID: "cluster-P74MFUJBI3PYA2N5L22YVVX3VY", AWS_REGION: "us-east-1" };
  const limitMB = Math.round((await import("node:v8")).getHeapStatistics().heap_size_limit / 1048576);
  createHandler({ ...env, NODE_OPTIONS: `--max-old-space-size=${limitMB}` }, { logger, metrics: NO_METRICS });
  expect(warnings).toEqual([]);
  createHandler({ ...env, NODE_OPTIONS: "--max-old-space-size=16" }, { logger, metrics: NO_METRICS });
  expect(warnings).toEqual([
    {
      message: expect.stringMatching(
        /^V8's heap is larger than NODE_OPTIONS sets: .*AWS_LAMBDA_EXEC_WRAPPER/,
      ),
      extra: { askedMB: 16, heapLimitMB: limitMB },
    },
  ]);
});
