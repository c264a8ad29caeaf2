import { setFlagsFromString } from "node:v8";
import { runsAsDecryptWorker } from "../src/decrypt/decrypt-pool.ts";

// V8's allocation-site pretenuring, once its young generation is at the size NODE_OPTIONS holds it
// to, sees the first seconds' survivors (code not yet optimized, batches still in flight) and
// allocates what those sites make straight in the old generation: the buffers behind them then wait
// for a full collection, and the process keeps some 40 MB it never needs again. Read by the garbage
// collector as it runs, so setting it here (NODE_OPTIONS does not take it) covers this thread and
// the decryption workers. Measured in BENCHMARKS.md ("Memory").
setFlagsFromString("--no-allocation-site-pretenuring");

/**
 * Lambda entry point. Configuration is read from the environment at cold start; a bad value fails
 * the init with a message naming the variable. The decryption worker threads load this same
 * bundle only to serve the pool: the handler, and the S3, Lambda and Powertools code under it, is
 * imported only outside them, so a worker never runs (or holds) that code.
 */
export const handler = runsAsDecryptWorker
  ? undefined
  : (await import("../src/lambda/handler.ts")).createHandler(process.env);
