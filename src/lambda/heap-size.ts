/**
 * Whether V8 runs with the old generation NODE_OPTIONS asks for. Lambda's Node.js bootstrap puts
 * heap sizes of its own on node's command line, where they win over NODE_OPTIONS; the stack's exec
 * wrapper (functions/node-flags.sh, AWS_LAMBDA_EXEC_WRAPPER) drops them. When it did not run, the
 * heap limit is far above what was asked, and the memory figures of BENCHMARKS.md do not hold.
 */

/** What V8's heap limit holds beyond the old generation: its young generation, 3 semi-spaces (24 MB at 8 MiB). */
const YOUNG_GENERATION_ALLOWANCE_MB = 128;

/**
 * The old generation `nodeOptions` asks for (`--max-old-space-size=<MB>`) and V8's heap limit, in
 * MB, when the limit is more than the old generation and a young generation can account for;
 * `undefined` when it is not, or when `nodeOptions` asks for no size.
 */
export function heapSizeOverridden(
  nodeOptions: string | undefined,
  heapLimitBytes: number,
): { readonly askedMB: number; readonly heapLimitMB: number } | undefined {
  const asked = /(?:^|\s)--max-old-space-size=(\d+)(?=\s|$)/.exec(nodeOptions ?? "")?.[1];
  if (asked === undefined) return undefined;
  const askedMB = Number(asked);
  const heapLimitMB = Math.round(heapLimitBytes / 1048576);
  return heapLimitMB > askedMB + YOUNG_GENERATION_ALLOWANCE_MB ? { askedMB, heapLimitMB } : undefined;
}
