/**
 * The glibc setting the stack gives the function from 3538 MB (MALLOC_MMAP_THRESHOLD_), as glibc
 * itself reads it: a real node on this machine's glibc (Lambda's Node.js runtimes run on glibc too)
 * allocates 1 MiB buffers after an 8 MiB block was freed, and /proc/self/maps shows where each came
 * from.
 */
import { execFileSync } from "node:child_process";
import { expect, test } from "vitest";
import { configWith } from "./stack-config-harness.ts";

/** Five 1 MiB buffers, after an 8 MiB one was freed: how much each grew the brk heap and the other anonymous mappings. */
const PROBE = `
const { openSync, readFileSync, writeSync } = require("node:fs");
function mapped() {
  let heap = 0, anonymous = 0;
  for (const line of readFileSync("/proc/self/maps", "utf8").split("\\n")) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \\S+ \\S+ \\S+ (\\d+)\\s*(.*)$/.exec(line);
    if (m === null) continue;
    const size = parseInt(m[2], 16) - parseInt(m[1], 16);
    if (m[4] === "[heap]") heap += size;
    else if (m[3] === "0" && m[4] === "") anonymous += size;
  }
  return { heap, anonymous };
}
// Node copies a string it writes into a block of its own, freed before writeSync returns: an
// 8 MiB block freed now, with no collection to wait for.
writeSync(openSync("/dev/null", "w"), "x".repeat(8 << 20));
{
  const kept = [];
  const grown = [];
  for (let i = 0; i < 5; i++) {
    const before = mapped();
    kept.push(Buffer.allocUnsafeSlow(1 << 20));
    const after = mapped();
    grown.push({ heap: after.heap - before.heap, anonymous: after.anonymous - before.anonymous });
  }
  process.stdout.write(JSON.stringify(grown));
}
`;

/** What a 1 MiB block mapped on its own adds: the block and glibc's header, in whole pages. */
const OWN_MAPPING = (1 << 20) + 4096;

function probe(env: Record<string, string>): { heap: number; anonymous: number }[] {
  // No glibc setting of this process's own: any of them stops the threshold from rising.
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith("MALLOC_") && name !== "GLIBC_TUNABLES"),
  );
  return JSON.parse(
    execFileSync(process.execPath, ["-e", PROBE], {
      env: { ...inherited, ...env },
      encoding: "utf8",
    }),
  ) as { heap: number; anonymous: number }[];
}

test("with the function's MALLOC_MMAP_THRESHOLD_, glibc maps each 1 MiB block on its own, where by default it takes them from its heap once an 8 MiB block was freed", async () => {
  const { environment } = await configWith({ memorySize: "3538" });
  expect(environment.MALLOC_MMAP_THRESHOLD_).toBe(String(128 * 1024));

  // Allow one of five to differ: another thread of node's may allocate between two reads. A heap
  // that cannot grow by brk grows by a mapping too, but with glibc's 128 KiB pad: not this size.
  const ownPages = (grown: { heap: number; anonymous: number }[]) =>
    grown.filter((block) => block.anonymous === OWN_MAPPING && block.heap === 0).length;
  expect(ownPages(probe({}))).toBeLessThanOrEqual(1);
  expect(
    ownPages(probe({ MALLOC_MMAP_THRESHOLD_: environment.MALLOC_MMAP_THRESHOLD_ as string })),
  ).toBeGreaterThanOrEqual(4);
});
