/**
 * One top-level JSON value cut out of a Firehose object, or the bytes where one should have been.
 * The splitter never throws on content: it classifies, and the caller decides what a bad piece means.
 */
export type RawPiece =
  | { readonly kind: "record"; readonly index: number; readonly offset: number; readonly bytes: Buffer }
  | {
      readonly kind: "invalid";
      readonly index: number;
      readonly offset: number;
      /** `garbage` (bytes that are not a JSON object), `truncated` (input ended inside a record), `too-large`. */
      readonly reason: "garbage" | "truncated" | "too-large";
      /** The offending bytes, capped at `maxRecordBytes` (empty for `too-large`). */
      readonly bytes: Buffer;
      readonly length: number;
    };

export interface SplitOptions {
  /** A record longer than this is reported as `too-large` without being held in memory. */
  readonly maxRecordBytes: number;
}

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/**
 * Splits a byte stream of JSON objects into records, whatever separates them: nothing (Firehose's
 * default `{…}{…}`), newlines, or other whitespace; chunk boundaries may fall anywhere.
 * It tracks only nesting and strings, jumping over string bodies with `indexOf`, so the long
 * base64 fields cost a memchr rather than a tokenizer step per byte. Memory: one record.
 */
export async function* splitRecords(
  source: AsyncIterable<Buffer | Uint8Array>,
  options: SplitOptions,
): AsyncGenerator<RawPiece> {
  const { maxRecordBytes } = options;
  let index = 0;
  let consumed = 0; // bytes of the stream before the current chunk
  let depth = 0;
  let inString = false;
  let escaped = false;
  let start = -1; // stream offset of the current piece
  let garbage = false; // the current piece is garbage between records
  let parts: Buffer[] = [];
  let length = 0;

  const keep = (chunk: Buffer, from: number, to: number) => {
    if (to <= from) return;
    if (length + (to - from) <= maxRecordBytes) parts.push(chunk.subarray(from, to));
    else if (garbage) {
      const room = maxRecordBytes - length;
      if (room > 0) parts.push(chunk.subarray(from, from + room));
    } else parts = [];
    length += to - from;
  };
  const finish = (): RawPiece => {
    const bytes = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
    const piece: RawPiece = garbage
      ? { kind: "invalid", index, offset: start, reason: "garbage", bytes, length }
      : length > maxRecordBytes
        ? { kind: "invalid", index, offset: start, reason: "too-large", bytes: Buffer.alloc(0), length }
        : { kind: "record", index, offset: start, bytes };
    index += 1;
    parts = [];
    length = 0;
    start = -1;
    garbage = false;
    return piece;
  };

  for await (const input of source) {
    const chunk = Buffer.isBuffer(input)
      ? input
      : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    const end = chunk.length;
    let pos = 0;
    let pieceFrom = start >= 0 ? 0 : -1; // where the current piece starts in this chunk
    let nextBackslash = -2; // cached indexOf result; -2 = not computed yet
    while (pos < end) {
      if (garbage) {
        // Garbage runs to the next `{`, where a record may start again.
        const brace = chunk.indexOf(OPEN_BRACE, pos);
        const stop = brace < 0 ? end : brace;
        keep(chunk, pieceFrom, stop);
        pieceFrom = -1;
        pos = stop;
        if (brace < 0) break;
        yield finish();
        continue;
      }
      if (depth === 0) {
        const byte = chunk[pos] as number;
        if (isSpace(byte)) {
          pos += 1;
          continue;
        }
        start = consumed + pos;
        pieceFrom = pos;
        if (byte !== OPEN_BRACE) {
          garbage = true;
          continue;
        }
        depth = 1;
        pos += 1;
        continue;
      }
      if (inString) {
        if (escaped) {
          escaped = false;
          pos += 1;
          continue;
        }
        const quote = chunk.indexOf(QUOTE, pos);
        if (nextBackslash !== -1 && nextBackslash < pos) nextBackslash = chunk.indexOf(BACKSLASH, pos);
        if (nextBackslash >= 0 && (quote < 0 || nextBackslash < quote)) {
          escaped = true;
          pos = nextBackslash + 1;
          continue;
        }
        if (quote < 0) {
          pos = end;
          break;
        }
        inString = false;
        pos = quote + 1;
        continue;
      }
      const byte = chunk[pos] as number;
      pos += 1;
      if (byte === QUOTE) inString = true;
      else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) depth += 1;
      else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
        depth -= 1;
        if (depth === 0) {
          keep(chunk, pieceFrom, pos);
          yield finish();
          pieceFrom = -1;
        }
      }
    }
    if (pieceFrom >= 0) keep(chunk, pieceFrom, end);
    consumed += end;
  }
  if (start >= 0) {
    if (garbage) yield finish();
    else {
      const bytes = length > maxRecordBytes ? Buffer.alloc(0) : Buffer.concat(parts);
      yield { kind: "invalid", index, offset: start, reason: "truncated", bytes, length };
    }
  }
}
