import { pipeline } from "node:stream/promises";

/** Passes chunks through, adding each one's length. */
export async function* countBytes(
  input: AsyncIterable<Buffer>,
  add: (n: number) => void,
): AsyncGenerator<Buffer> {
  for await (const chunk of input) {
    add(chunk.length);
    yield chunk;
  }
}

/**
 * The promise's outcome, or a rejection as soon as `signal` aborts: a batch waiting on a slow KMS
 * call must not hold the pipeline past the deadline (the call itself finishes unobserved).
 */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const stop = () => reject(signal.reason);
    signal.addEventListener("abort", stop, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", stop));
  });
}

/** `stream/promises.pipeline` over a list of stages (its overloads cannot type a spread list). */
export function runPipeline(stages: unknown[], signal: AbortSignal | undefined): Promise<void> {
  const run = pipeline as unknown as (...args: unknown[]) => Promise<void>;
  return run(...stages, signal === undefined ? {} : { signal });
}

/** What `promise` rejected with, or `undefined` when it fulfilled. Never rejects. */
export function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
}

/**
 * True for the errors a stream reports when another end cut it (`AbortError`, or a premature
 * close): they say that a stage stopped, not why.
 */
export function isStreamCut(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return error.name === "AbortError" || (error as { code?: unknown }).code === "ERR_STREAM_PREMATURE_CLOSE";
}
