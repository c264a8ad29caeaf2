import { createGunzip, type Gunzip } from "node:zlib";

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;
/** Compressed bytes handed to zlib at a time: bounds the output held before it is passed on. */
const FEED_BYTES = 64 * 1024;

/** Why the object's GZIP stream stopped before its end. */
export interface GzipFailure {
  /** `gzip-truncated`: the stream ends early; `gzip-corrupt`: zlib found bytes it cannot inflate. */
  readonly reason: "gzip-truncated" | "gzip-corrupt";
  /** Decompressed bytes passed on before the failure. */
  readonly decompressedBytes: number;
}

export interface DecompressOptions {
  /**
   * Called when the GZIP stream is cut off or corrupt; the stream then ends normally after the
   * bytes that could be inflated. Without it such a stream makes the generator throw zlib's error.
   * Errors of the source itself (a reset S3 connection) are always thrown.
   */
  readonly onFailure?: (failure: GzipFailure) => void;
}

/**
 * Passes bytes through, gunzipping them first when the stream starts with the GZIP magic bytes
 * (Firehose may compress whole objects; the key's name is not trusted). Concatenated GZIP members
 * are read as one stream. Input is fed to zlib one bounded slice at a time and only after the
 * previous output was taken, so memory stays bounded and a cut-off stream ends instead of hanging.
 */
export async function* gunzipIfCompressed(
  source: AsyncIterable<Buffer>,
  options: DecompressOptions = {},
): AsyncGenerator<Buffer> {
  const iterator = source[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let headLength = 0;
  let done = false;
  while (headLength < 2) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    head.push(next.value);
    headLength += next.value.length;
  }
  const first = Buffer.concat(head);
  const rest = async function* () {
    if (first.length > 0) yield first;
    if (done) return;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  };
  if (first[0] !== GZIP_MAGIC_0 || first[1] !== GZIP_MAGIC_1) {
    yield* rest();
    return;
  }
  yield* inflate(rest(), options);
}

async function* inflate(
  compressed: AsyncIterable<Buffer>,
  options: DecompressOptions,
): AsyncGenerator<Buffer> {
  const gunzip = createGunzip();
  const output: Buffer[] = [];
  let failure: (Error & { code?: unknown }) | undefined;
  let produced = 0;
  // Flowing mode, never paused: zlib drops output still buffered when it fails, and the bytes
  // before a cut or a corrupt spot are exactly the ones worth keeping.
  gunzip.on("data", (chunk: Buffer) => output.push(chunk));
  gunzip.on("error", (error) => {
    failure = error;
  });
  const drain = function* () {
    while (output.length > 0) {
      const chunk = output.shift() as Buffer;
      produced += chunk.length;
      yield chunk;
    }
  };
  try {
    for await (const chunk of compressed) {
      for (let at = 0; at < chunk.length && failure === undefined; at += FEED_BYTES) {
        await settle(gunzip, (callback) => gunzip.write(chunk.subarray(at, at + FEED_BYTES), callback));
        yield* drain();
      }
      if (failure !== undefined) break;
    }
    if (failure === undefined) await settle(gunzip, (callback) => gunzip.end(callback), "end");
    yield* drain();
  } finally {
    gunzip.destroy();
  }
  if (failure === undefined) return;
  if (options.onFailure === undefined || typeof failure.code !== "string" || !failure.code.startsWith("Z_"))
    throw failure;
  options.onFailure({
    reason: failure.code === "Z_BUF_ERROR" ? "gzip-truncated" : "gzip-corrupt",
    decompressedBytes: produced,
  });
}

/** Runs one zlib call and waits until it is processed, or the stream ended, or failed. */
function settle(gunzip: Gunzip, start: (callback: () => void) => void, finalEvent?: "end"): Promise<void> {
  return new Promise<void>((resolve) => {
    const finish = () => {
      gunzip.off("error", finish);
      if (finalEvent !== undefined) gunzip.off(finalEvent, finish);
      resolve();
    };
    gunzip.once("error", finish);
    if (finalEvent !== undefined) gunzip.once(finalEvent, finish);
    start(finalEvent === undefined ? finish : () => undefined);
  });
}
