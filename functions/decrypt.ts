import { runsAsDecryptWorker } from "../src/decrypt-pool.ts";

/**
 * Lambda entry point. Configuration is read from the environment at cold start; a bad value fails
 * the init with a message naming the variable. The decryption worker threads load this same
 * bundle only to serve the pool: the handler, and the S3, Lambda and Powertools code under it, is
 * imported only outside them, so a worker never runs (or holds) that code.
 */
export const handler = runsAsDecryptWorker
  ? undefined
  : (await import("../src/handler.ts")).createHandler(process.env);
