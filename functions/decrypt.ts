import { runsAsDecryptWorker } from "../src/decrypt-pool.ts";
import { createHandler } from "../src/handler.ts";

/**
 * Lambda entry point. Configuration is read from the environment at cold start; a bad value fails
 * the init with a message naming the variable. The decryption worker threads load this same
 * bundle only to serve the pool, so they build no handler.
 */
export const handler = runsAsDecryptWorker ? undefined : createHandler(process.env);
