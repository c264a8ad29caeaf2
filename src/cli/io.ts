import type { Writable } from "node:stream";
import { ConfigError, UsageError } from "../config/errors.ts";
import { type ExplainContext, explainError, secretsIn } from "./explain-error.ts";

/** What the commands read and write; the bin passes the process's own, tests their own. */
export interface CliIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Data only: decrypted lines, the keys of a dry run, a manifest's command. */
  readonly stdout: Writable & { isTTY?: boolean };
  /** Everything said to the person running the command: progress, counts, errors. */
  readonly stderr: Writable & { isTTY?: boolean };
  /** Aborted on Ctrl-C: reprocessing stops sending and prints where to resume; cat stops. */
  readonly signal?: AbortSignal;
}

/** Exit codes: 0 done, 1 something failed, 2 bad usage or configuration, 130 interrupted. */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

/**
 * Prints an error as `das-decrypt: <what failed>` and, on the next line, what to do about it;
 * returns the exit code it calls for.
 */
export function reportError(io: CliIo, error: unknown, rename?: ExplainContext["rename"]): number {
  const { message, hint } = explainError(error, {
    secrets: secretsIn(io.env),
    ...(rename === undefined ? {} : { rename }),
  });
  io.stderr.write(`das-decrypt: ${message}\n${hint === undefined ? "" : `  ${hint}\n`}`);
  return error instanceof ConfigError || error instanceof UsageError ? EXIT.usage : EXIT.failed;
}

/**
 * Watches the data stream: when its reader goes away (`| head` has what it wanted: EPIPE) or it
 * fails, `signal` aborts so the command stops instead of throwing on its next write.
 */
export function watchOutput(out: Writable): { readonly signal: AbortSignal; failure(): Error | undefined } {
  const gone = new AbortController();
  let failure: Error | undefined;
  out.on("error", (error: Error & { code?: string }) => {
    if (error.code !== "EPIPE" && failure === undefined) failure = error;
    gone.abort();
  });
  return { signal: gone.signal, failure: () => failure };
}
