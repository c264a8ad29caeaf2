/**
 * A reader of JSON text, in bytes, that accepts only what `JSON.stringify(JSON.parse(text))` would
 * write back byte for byte, so a caller may copy the bytes instead of parsing and serializing:
 * - no whitespace between tokens;
 * - strings escaped exactly as `JSON.stringify` escapes (`\"`, `\\`, `\b\f\n\r\t`, `\u00xx` in
 *   lower case for the other control characters): one way to write each string, so equal keys
 *   have equal bytes;
 * - numbers written as `String(Number(text))` writes them (no `-0`, `1.0`, `1e2`, lost digits);
 * - no key twice in one object (parsing keeps the last value), no key starting with a digit
 *   (parsing moves integer keys first), at most {@link MAX_KEYS} keys in one object, nesting at
 *   most {@link MAX_DEPTH} deep.
 * Every function returns the index just past what it read, or -1 for anything else, valid JSON or
 * not. Bytes must be valid UTF-8 (checked by the caller, once), and reads past the end must see
 * `undefined`: give it a buffer that ends where the text ends.
 *
 * Each object's keys go in a hash table of its depth: only one object per depth is open at a time.
 * An object's keys are those noted with its stamp (from {@link openObject}).
 */

export const QUOTE = 0x22;
export const COMMA = 0x2c;
export const COLON = 0x3a;
export const OPEN_ARRAY = 0x5b;
export const CLOSE_ARRAY = 0x5d;
export const OPEN_OBJECT = 0x7b;
export const CLOSE_OBJECT = 0x7d;
const BACKSLASH = 0x5c;
const MINUS = 0x2d;

/** Deepest nesting of objects and arrays (the outermost value is at depth 0). */
export const MAX_DEPTH = 32;
const SLOT_BITS = 9;
const SLOTS = 1 << SLOT_BITS;
/** Most keys in one object: half its table, so that finding a repeated key stays cheap. */
const MAX_KEYS = SLOTS / 2;
const MAX_PROBES = 16;
/** Stamps restart past this (between texts): a 64 MiB text opens fewer than 2^25 objects. */
const STAMP_LIMIT = 2 ** 30;

const TRUE = Buffer.from("true");
const FALSE = Buffer.from("false");
export const NULL = Buffer.from("null");

/** What the last read key or string was like. */
export const lastRead = {
  /** The hash of the key {@link keyEnd} read last (see {@link isKey}). */
  hash: 0,
  /** Whether the string {@link valueEnd} read last holds an escape (read it right after). */
  escaped: false,
};

/** Per depth, per slot: the stamp of the object the key belongs to, its hash, start and length. */
const keys = new Int32Array((MAX_DEPTH + 1) * SLOTS * 4);
const keyCounts = new Int32Array(MAX_DEPTH + 1);
let stamp = 0;

/** Starts reading a new text: call it when no object is open. */
export function restartKeys(): void {
  if (stamp <= STAMP_LIMIT) return;
  keys.fill(0);
  stamp = 0;
}

/** Opens an object at `depth`: the stamp its keys are noted with. */
export function openObject(depth: number): number {
  keyCounts[depth] = 0;
  stamp += 1;
  return stamp;
}

/** The end of the JSON value at `i` whose container is at `depth`. */
export function valueEnd(b: Buffer, i: number, depth: number): number {
  const c = b[i];
  if (c === QUOTE) return stringEnd(b, i + 1);
  if (c === OPEN_OBJECT) return depth >= MAX_DEPTH ? -1 : objectEnd(b, i + 1, depth + 1);
  if (c === OPEN_ARRAY) return depth >= MAX_DEPTH ? -1 : arrayEnd(b, i + 1, depth + 1);
  if (c === 0x74) return literalEnd(b, i, TRUE);
  if (c === 0x66) return literalEnd(b, i, FALSE);
  if (c === 0x6e) return literalEnd(b, i, NULL);
  if (c === MINUS || isDigit(c)) return numberEnd(b, i);
  return -1;
}

/**
 * Reads the key whose content starts at `i` (after its quote), of the object at `depth` opened
 * with `objectStamp`. Returns the index of its closing quote, which a colon follows, and leaves its
 * hash in {@link lastRead}; -1 when the key is not canonical, starts with a digit, is the object's
 * second of that name or one too many.
 */
export function keyEnd(b: Buffer, i: number, depth: number, objectStamp: number): number {
  const start = i;
  const end = b.length;
  let hash = 0;
  for (;;) {
    if (i >= end) return -1;
    const c = b[i] as number;
    if (c === QUOTE) break;
    if (c === BACKSLASH) {
      const next = escapeEnd(b, i + 1);
      if (next < 0) return -1;
      for (; i < next; i += 1) hash = (Math.imul(hash, 31) + (b[i] as number)) | 0;
    } else if (c < 0x20) return -1;
    else {
      hash = (Math.imul(hash, 31) + c) | 0;
      i += 1;
    }
  }
  if (b[i + 1] !== COLON || isDigit(b[start])) return -1;
  const length = i - start;
  const base = depth * SLOTS;
  let slot = Math.imul(hash, 0x9e3779b1) >>> (32 - SLOT_BITS);
  for (let probe = 0; ; probe += 1) {
    // Keys made to share a hash would make each lookup long: past a few probes, leave it to the parser.
    if (probe === MAX_PROBES) return -1;
    const at = (base + slot) * 4;
    if (keys[at] !== objectStamp) {
      const count = keyCounts[depth] as number;
      if (count === MAX_KEYS) return -1;
      keyCounts[depth] = count + 1;
      keys[at] = objectStamp;
      keys[at + 1] = hash;
      keys[at + 2] = start;
      keys[at + 3] = length;
      break;
    }
    if (keys[at + 1] === hash && keys[at + 3] === length) {
      const other = keys[at + 2] as number;
      if (b.compare(b, other, other + length, start, i) === 0) return -1;
    }
    slot = (slot + 1) & (SLOTS - 1);
  }
  lastRead.hash = hash;
  return i;
}

/** A key to look for: its bytes, and the hash {@link keyEnd} gives it. */
export interface KeyName {
  readonly bytes: Buffer;
  readonly hash: number;
}

export function keyName(name: string): KeyName {
  const bytes = Buffer.from(name);
  let hash = 0;
  for (const c of bytes) hash = (Math.imul(hash, 31) + c) | 0;
  return { bytes, hash };
}

/** Whether the key {@link keyEnd} read at `b[start, stop)`, with hash `hash`, is `name`. */
export function isKey(b: Buffer, start: number, stop: number, hash: number, name: KeyName): boolean {
  return hash === name.hash && sameBytes(b, start, stop, name.bytes);
}

/** Whether `b[start, end)` holds exactly `expected`. */
export function sameBytes(b: Buffer, start: number, end: number, expected: Buffer): boolean {
  if (end - start !== expected.length) return false;
  for (let i = 0; i < expected.length; i += 1) if (b[start + i] !== expected[i]) return false;
  return true;
}

function objectEnd(b: Buffer, i: number, depth: number): number {
  if (b[i] === CLOSE_OBJECT) return i + 1;
  const objectStamp = openObject(depth);
  for (;;) {
    if (b[i] !== QUOTE) return -1;
    const end = keyEnd(b, i + 1, depth, objectStamp);
    if (end < 0) return -1;
    i = valueEnd(b, end + 2, depth);
    if (i < 0) return -1;
    if (b[i] === COMMA) i += 1;
    else if (b[i] === CLOSE_OBJECT) return i + 1;
    else return -1;
  }
}

function arrayEnd(b: Buffer, i: number, depth: number): number {
  if (b[i] === CLOSE_ARRAY) return i + 1;
  for (;;) {
    i = valueEnd(b, i, depth);
    if (i < 0) return -1;
    if (b[i] === COMMA) i += 1;
    else if (b[i] === CLOSE_ARRAY) return i + 1;
    else return -1;
  }
}

/** The end of the string whose content starts at `i` (just past its closing quote). */
function stringEnd(b: Buffer, i: number): number {
  const end = b.length;
  lastRead.escaped = false;
  while (i < end) {
    const c = b[i] as number;
    if (c === QUOTE) return i + 1;
    if (c === BACKSLASH) {
      i = escapeEnd(b, i + 1);
      if (i < 0) return -1;
      lastRead.escaped = true;
    } else if (c < 0x20) return -1;
    else i += 1;
  }
  return -1;
}

/** After the backslash at `i - 1`: the end of an escape `JSON.stringify` writes. */
function escapeEnd(b: Buffer, i: number): number {
  const c = b[i];
  // \" \\ \b \f \n \r \t
  if (c === QUOTE || c === BACKSLASH || c === 0x62 || c === 0x66 || c === 0x6e || c === 0x72 || c === 0x74)
    return i + 1;
  if (c !== 0x75 || b[i + 1] !== 0x30 || b[i + 2] !== 0x30) return -1;
  // \u00xx, lower-case hex, only for the control characters without a short escape.
  const high = b[i + 3];
  const low = hexDigit(b[i + 4]);
  if ((high !== 0x30 && high !== 0x31) || low < 0) return -1;
  const code = (high - 0x30) * 16 + low;
  if (code === 0x08 || code === 0x09 || code === 0x0a || code === 0x0c || code === 0x0d) return -1;
  return i + 5;
}

function hexDigit(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

/** The end of the number at `i`: valid JSON, written as `String(Number(text))` writes it. */
function numberEnd(b: Buffer, i: number): number {
  const start = i;
  if (b[i] === MINUS) i += 1;
  const first = b[i];
  if (first === 0x30) i += 1;
  else if (isDigit(first)) {
    i += 1;
    while (isDigit(b[i])) i += 1;
  } else return -1;
  const next = b[i];
  const simple = next !== 0x2e && next !== 0x65 && next !== 0x45;
  // Integers of up to 15 digits are exact and written back digit for digit (but for `-0`).
  if (simple && i - start <= 15) return b[start] === MINUS && first === 0x30 ? -1 : i;
  if (next === 0x2e) {
    i += 1;
    if (!isDigit(b[i])) return -1;
    while (isDigit(b[i])) i += 1;
  }
  if (b[i] === 0x65 || b[i] === 0x45) {
    i += 1;
    if (b[i] === 0x2b || b[i] === MINUS) i += 1;
    if (!isDigit(b[i])) return -1;
    while (isDigit(b[i])) i += 1;
  }
  const text = b.toString("latin1", start, i);
  return String(Number(text)) === text ? i : -1;
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

function literalEnd(b: Buffer, i: number, literal: Buffer): number {
  return sameBytes(b, i, i + literal.length, literal) ? i + literal.length : -1;
}
