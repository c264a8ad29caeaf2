import * as zlib from "node:zlib";
import { gunzipSync } from "node:zlib";
import { RecordError } from "../config/errors.ts";

/** Largest decompressed inner record: a small gzip that inflates to gigabytes must not take the function down. */
export const MAX_INNER_RECORD_BYTES = 64 * 1024 * 1024;

/** Most bytes one joint inflate may produce (the sum of its payloads' declared sizes). */
const GROUP_BYTES = 4 * 1024 * 1024;
/** A gzip member is at least a 10-byte header, an empty deflate block and an 8-byte trailer. */
const MIN_MEMBER = 20;
/** `zlib.crc32` (Node 20.15 and later); without it, every payload is inflated alone. */
const CRC32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;

/**
 * The inflated payloads of a batch: each payload's bytes (a view of its group's output, nothing
 * decoded), or the {@link RecordError} that payload alone gives.
 *
 * Consecutive payloads are inflated together, as one multi-member gzip stream, in groups of at most
 * {@link GROUP_BYTES} declared bytes: setting up an inflater costs more than inflating one small
 * record. The output is cut at each payload's declared size (ISIZE, its last four bytes). A group
 * is kept only when all of these hold:
 * - the inflate ends without error, having read every byte of every payload;
 * - it produced exactly the sum of the declared sizes;
 * - each payload starts with the gzip magic bytes;
 * - each payload's cut has the CRC-32 its own trailer declares.
 * Otherwise, the group's payloads are inflated one by one, which gives each its own verdict.
 *
 * A payload that is one gzip member, as every producer writes it, thus gets exactly what its own
 * `gunzipSync` gives. So does one with several members, padding or garbage: the checks fail and it is
 * inflated alone. The only inputs that could pass every check and still differ are payloads made
 * on purpose so that one member runs across two of them, with CRCs made to match. They would have
 * to be encrypted under the data key, whose holder can write any record anyway.
 * test/unit/decrypt/inflate-payloads.test.ts compares both ways on good and odd payloads.
 */
export class InflatedPayloads {
  /** Per payload: the inflated bytes it is cut from (its group's or its own), its error, or nothing. */
  readonly #outputs: (Buffer | RecordError | undefined)[];
  readonly #starts: number[];
  readonly #ends: number[];
  constructor(payloads: readonly (Buffer | undefined)[]) {
    this.#outputs = payloads.map(() => undefined);
    this.#starts = payloads.map(() => 0);
    this.#ends = payloads.map(() => 0);
    let start = 0;
    while (start < payloads.length) {
      if (payloads[start] === undefined) {
        start += 1; // the record failed before: nothing to inflate
        continue;
      }
      let end = start;
      let declared = 0;
      for (let payload = payloads[end]; payload !== undefined; payload = payloads[end]) {
        const size =
          payload.length >= MIN_MEMBER ? payload.readUInt32LE(payload.length - 4) : GROUP_BYTES + 1;
        if (end > start && declared + size > GROUP_BYTES) break;
        declared += size;
        end += 1;
      }
      if (
        end - start === 1 ||
        declared > GROUP_BYTES ||
        !this.#inflateGroup(payloads, start, end, declared)
      ) {
        for (let i = start; i < end; i += 1) this.#inflateOne(i, payloads[i] as Buffer);
      }
      start = end;
    }
  }

  /** Payload `i` inflated (a view, not a copy), or why it could not be; `undefined` where there was no payload. */
  bytes(i: number): Buffer | RecordError | undefined {
    const output = this.#outputs[i];
    if (output === undefined || output instanceof RecordError) return output;
    return output.subarray(this.#starts[i], this.#ends[i]);
  }

  /** Bytes inflated in all. */
  get size(): number {
    let size = 0;
    for (let i = 0; i < this.#outputs.length; i += 1) size += (this.#ends[i] ?? 0) - (this.#starts[i] ?? 0);
    return size;
  }

  #inflateGroup(
    payloads: readonly (Buffer | undefined)[],
    start: number,
    end: number,
    declared: number,
  ): boolean {
    if (CRC32 === undefined) return false;
    const joined = Buffer.concat(payloads.slice(start, end) as Buffer[]);
    let out: Buffer;
    try {
      const inflated = gunzipSync(joined, { maxOutputLength: declared || 1, info: true }) as unknown as {
        buffer: Buffer;
        engine: { bytesWritten: number };
      };
      if (inflated.engine.bytesWritten !== joined.length) return false; // stopped early (padding, garbage)
      out = inflated.buffer;
    } catch {
      return false;
    }
    if (out.length !== declared) return false;
    let at = 0;
    for (let i = start; i < end; i += 1) {
      const payload = payloads[i] as Buffer;
      const size = payload.readUInt32LE(payload.length - 4);
      if (payload[0] !== 0x1f || payload[1] !== 0x8b) return false;
      if (CRC32(out.subarray(at, at + size)) !== payload.readUInt32LE(payload.length - 8)) return false;
      this.#starts[i] = at;
      at += size;
      this.#ends[i] = at;
    }
    this.#outputs.fill(out, start, end);
    return true;
  }

  #inflateOne(i: number, compressed: Buffer): void {
    const out = inflateOne(compressed);
    this.#outputs[i] = out;
    this.#starts[i] = 0; // a group that failed its checks may have set it
    this.#ends[i] = out instanceof Buffer ? out.length : 0;
  }
}

function inflateOne(compressed: Buffer): Buffer | RecordError {
  try {
    return gunzipSync(compressed, { maxOutputLength: MAX_INNER_RECORD_BYTES });
  } catch (error) {
    if ((error as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE") {
      const message = `the decrypted record inflates past ${MAX_INNER_RECORD_BYTES} bytes`;
      return new RecordError("inner-too-large", message, { cause: error });
    }
    return new RecordError("gunzip-failed", "the decrypted payload is not gzip data", { cause: error });
  }
}
