import { isUtf8 } from "node:buffer";
import { once } from "node:events";
import { PassThrough } from "node:stream";
import type { Config } from "../config/config.ts";
import { rejectionOf } from "../source/pipeline-steps.ts";
import type { ObjectStore, PutTarget } from "./s3-store.ts";

/** One piece of an object that could not be decrypted, with where it was and why. */
export interface QuarantineEntry {
  /** Zero-based position of the piece in the object (records and bad pieces share one count). */
  readonly recordIndex: number;
  /** Byte offset in the decompressed object. */
  readonly byteOffset: number;
  /** The piece's full length in bytes (`raw` may hold less: see {@link quarantineLine}). */
  readonly length: number;
  /** Machine-readable reason, e.g. `invalid-json`, `kms-invalid-ciphertext`, `gzip-truncated`. */
  readonly reason: string;
  /** Human-readable explanation; never content. */
  readonly message: string;
  /** The raw bytes as they were in the object (ciphertext, or whatever stood there). */
  readonly raw: Buffer;
}

/**
 * The quarantine key of a source key: a pure function of it, like the output key, so a rerun
 * overwrites (or deletes) the same object. `QUARANTINE_PREFIX` + source key, a trailing `.gz` dropped.
 */
export function quarantineKeyFor(sourceKey: string, config: Pick<Config, "quarantinePrefix">): string {
  const base = sourceKey.endsWith(".gz") ? sourceKey.slice(0, -3) : sourceKey;
  return `${config.quarantinePrefix}${base}`;
}

/** True when `key` is itself a quarantine object of this configuration (never processed). */
export function isQuarantineKey(
  bucket: string,
  key: string,
  config: Pick<Config, "outputBucket" | "quarantinePrefix">,
): boolean {
  return (config.outputBucket ?? bucket) === bucket && key.startsWith(config.quarantinePrefix);
}

/**
 * One NDJSON line of a quarantine object. `raw` is the bytes as a UTF-8 string when they are valid
 * UTF-8 (`rawEncoding: "utf8"`), else base64 (`"base64"`). A record over `MAX_RECORD_BYTES` is not
 * kept (`raw` is empty): `byteOffset` and `length` locate it in the source object instead.
 */
export function quarantineLine(entry: QuarantineEntry): string {
  const utf8 = isUtf8(entry.raw);
  return `${JSON.stringify({
    recordIndex: entry.recordIndex,
    byteOffset: entry.byteOffset,
    length: entry.length,
    reason: entry.reason,
    message: entry.message,
    rawEncoding: utf8 ? "utf8" : "base64",
    raw: entry.raw.toString(utf8 ? "utf8" : "base64"),
  })}\n`;
}

/**
 * Streams the quarantine object of one source object. The upload starts with the first entry, so a
 * clean object costs no upload; {@link commit} finishes it. Removing a quarantine object an earlier
 * run left is decided once the output is complete (`src/output/output-tags.ts`).
 */
export class QuarantineWriter {
  readonly #store: ObjectStore;
  readonly #target: PutTarget;
  readonly #signal: AbortSignal | undefined;
  #body: PassThrough | undefined;
  #upload: Promise<void> | undefined;

  constructor(store: ObjectStore, target: PutTarget, signal?: AbortSignal) {
    this.#store = store;
    this.#target = target;
    this.#signal = signal;
  }

  get key(): string {
    return this.#target.key;
  }

  /** True once an entry was written (the quarantine object is being uploaded). */
  get started(): boolean {
    return this.#upload !== undefined;
  }

  /**
   * Appends one entry, waiting when the upload lags behind.
   * @throws the upload's error (AwsCallError …) when it failed.
   */
  async write(entry: QuarantineEntry): Promise<void> {
    const body = this.#body ?? this.#start();
    try {
      if (body.destroyed) throw body.errored ?? new Error("the quarantine upload stopped");
      if (!body.write(quarantineLine(entry))) await once(body, "drain");
    } catch (error) {
      // A failed upload cuts its body: the body's error only says so, the upload's says why.
      throw (this.#upload === undefined ? undefined : await rejectionOf(this.#upload)) ?? error;
    }
  }

  /** Completes the upload, if one was started. @throws AwsCallError when the upload fails. */
  async commit(): Promise<void> {
    if (this.#body === undefined || this.#upload === undefined) return;
    this.#body.end();
    await this.#upload;
  }

  /** Stops the upload, which aborts it: nothing is written. Never throws. */
  async discard(reason: Error): Promise<void> {
    if (this.#body === undefined || this.#upload === undefined) return;
    if (!this.#body.destroyed && !this.#body.writableFinished) this.#body.destroy(reason);
    await this.#upload.catch(() => undefined);
  }

  #start(): PassThrough {
    const body = new PassThrough();
    this.#body = body;
    this.#upload = this.#store.put(this.#target, body, this.#signal).catch((error: unknown) => {
      // The upload stopped reading: fail the writer too, or a write would wait for `drain` forever.
      body.destroy(error instanceof Error ? error : new Error(String(error)));
      throw error;
    });
    // Observed so a failure is not unhandled while no one awaits it yet; commit/discard report it.
    this.#upload.catch(() => undefined);
    return body;
  }
}
