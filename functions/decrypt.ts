import { createHandler } from "../src/handler.ts";

/**
 * Lambda entry point. Configuration is read from the environment at cold start; a bad value fails
 * the init with a message naming the variable.
 */
export const handler = createHandler(process.env);
