import { isUtf8 } from "node:buffer";
import type { LineCounts, LineOptions } from "./format-lines.ts";
import type { LineBuffer } from "./line-buffer.ts";
import { normalizedMembersOf } from "./normalize-event.ts";

/**
 * Writes the lines of one inflated inner record straight from its bytes, when that gives exactly
 * what `recordLines(text, JSON.parse(text))` gives, and returns `true`; otherwise writes nothing,
 * counts nothing and returns `false`, and the caller parses and serializes the record.
 *
 * Parsing each record into objects and serializing each event again is most of the cost of a
 * record with many events, and of the garbage it leaves. Yet RDS writes its JSON as
 * `JSON.stringify` does: no spaces, the same escapes, the same number forms. So an event's line is
 * its own bytes, with the origin and normalized members written before its closing brace.
 *
 * The record is read in full, checked as JSON, before anything is written. The bytes are taken only
 * when serializing the parsed record could not change them:
 * - valid UTF-8, and no whitespace but around the whole record;
 * - strings escaped exactly as `JSON.stringify` escapes (`\"`, `\\`, `\b\f\n\r\t`, `\u00xx` for the
 *   other control characters): one way to write each string, so equal keys have equal bytes;
 * - numbers written as `String(Number(text))` writes them (no `-0`, `1.0`, `1e2`, lost digits);
 * - no key twice in one object (parsing keeps the last value), no key starting with a digit
 *   (parsing moves integer keys first), no more than {@link MAX_KEYS} keys in one object, no nesting
 *   deeper than {@link MAX_DEPTH};
 * - an object at the top with a `databaseActivityEventList` array of objects.
 * Anything else, valid or not, is left to the parser, whose verdict stands. test/unit/
 * slice-record-lines.test.ts checks both ways give the same bytes on generated and altered records.
 */
export function sliceRecordLines(
  record: Buffer,
  options: LineOptions,
  counts: LineCounts,
  out: LineBuffer,
): boolean {
  let start = 0;
  let end = record.length;
  while (start < end && isSpace(record[start] as number)) start += 1;
  while (end > start && isSpace(record[end - 1] as number)) end -= 1;
  if (record[start] !== OPEN_OBJECT) return false;
  // Reads past the record's end see `undefined`, which matches no expected byte.
  const bytes = record.subarray(start, end);
  if (!isUtf8(bytes)) return false;
  // Stamps restart between records, when no object is open; a record (at most 64 MiB) opens far
  // fewer than 2^30 objects, so they stay below 2^31.
  if (scan.stamp > STAMP_LIMIT) {
    scan.keys.fill(0);
    scan.stamp = 0;
  }
  scan.events = 0;
  scan.list = false;
  scan.clusterAt = -1;
  scan.instanceAt = -1;
  scan.members = options.format === "events";
  if (readTop(bytes, 1) !== bytes.length || !scan.list) return false;
  if (options.format === "records") {
    out.copy(bytes, 0, bytes.length);
    out.byte(NEWLINE);
    return true;
  }
  writeEvents(bytes, options.includeHeartbeats, counts, out);
  return true;
}

/** Most keys in one object, so that finding a repeated key stays cheap (half the table's slots). */
const SLOT_BITS = 9;
const SLOTS = 1 << SLOT_BITS;
const MAX_KEYS = SLOTS / 2;
const STAMP_LIMIT = 2 ** 30;
/** Deepest nesting of objects and arrays inside an event. */
const MAX_DEPTH = 32;

const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const MINUS = 0x2d;
const NEWLINE = 0x0a;

const LIST_KEY = Buffer.from("databaseActivityEventList");
const CLUSTER_KEY = Buffer.from("clusterId");
const INSTANCE_KEY = Buffer.from("instanceId");
const TYPE_KEY = Buffer.from("type");
const LOG_TIME_KEY = Buffer.from("logTime");
const START_TIME_KEY = Buffer.from("startTime");
const SERVER_TYPE_KEY = Buffer.from("serverType");
const EVENT_TIME_KEY = Buffer.from("eventTime");
const ENGINE_KEY = Buffer.from("engine");
const HEARTBEAT = Buffer.from('"heartbeat"');
const LIST_HASH = hashOf("databaseActivityEventList");
const CLUSTER_HASH = hashOf("clusterId");
const INSTANCE_HASH = hashOf("instanceId");
const TYPE_HASH = hashOf("type");
const LOG_TIME_HASH = hashOf("logTime");
const START_TIME_HASH = hashOf("startTime");
const SERVER_TYPE_HASH = hashOf("serverType");
const EVENT_TIME_HASH = hashOf("eventTime");
const ENGINE_HASH = hashOf("engine");
const TRUE = Buffer.from("true");
const FALSE = Buffer.from("false");
const NULL = Buffer.from("null");

/**
 * What reading one record found, reused from record to record (a thread reads one at a time).
 * Per event: where it starts and ends, whether it is a heartbeat, and its normalized members.
 */
const scan = {
  events: 0,
  list: false,
  clusterAt: -1,
  clusterEnd: -1,
  instanceAt: -1,
  instanceEnd: -1,
  /** Whether to work out each event's normalized members (the `events` format). */
  members: true,
  starts: new Int32Array(64),
  ends: new Int32Array(64),
  heartbeats: new Uint8Array(64),
  normalized: [] as string[],
  /**
   * The keys of the objects being read, in one hash table per depth (only one object per depth is
   * open at a time): per slot, the stamp of the object the key belongs to, its hash, start, length.
   */
  keys: new Int32Array((MAX_DEPTH + 2) * SLOTS * 4),
  keyCount: new Int32Array(MAX_DEPTH + 2),
  stamp: 0,
  /** The hash of the key {@link keyEndIn} read last. */
  hash: 0,
  /** The last `serverType` value's bytes and value: one stream, one engine. */
  serverType: Buffer.alloc(0),
  serverTypeValue: undefined as unknown,
  /** Set by {@link stringEnd} when the string it read holds an escape. */
  escaped: false,
};

/** The members of the event being read that its normalized members depend on. */
const event = {
  type: -1,
  typeEnd: -1,
  logTime: undefined as unknown,
  startTime: undefined as unknown,
  serverType: undefined as unknown,
  hasEventTime: false,
  hasEngine: false,
};

/** Reads the top object's members from `i` (after its `{`); the end of the object, or -1. */
function readTop(b: Buffer, i: number): number {
  if (b[i] === CLOSE_OBJECT) return i + 1;
  const table = 0;
  const stamp = nextStamp(table);
  for (;;) {
    if (b[i] !== QUOTE) return -1;
    const keyStart = i + 1;
    const keyEnd = keyEndIn(b, keyStart, table, stamp);
    if (keyEnd < 0) return -1;
    i = keyEnd + 2;
    if (scan.hash === LIST_HASH && same(b, keyStart, keyEnd, LIST_KEY)) {
      if (b[i] !== OPEN_ARRAY) return -1;
      i = readEvents(b, i + 1);
      scan.list = true;
    } else if (scan.hash === CLUSTER_HASH && same(b, keyStart, keyEnd, CLUSTER_KEY)) {
      scan.clusterAt = i;
      i = valueEnd(b, i, 1);
      scan.clusterEnd = i;
    } else if (scan.hash === INSTANCE_HASH && same(b, keyStart, keyEnd, INSTANCE_KEY)) {
      scan.instanceAt = i;
      i = valueEnd(b, i, 1);
      scan.instanceEnd = i;
    } else i = valueEnd(b, i, 1);
    if (i < 0) return -1;
    if (b[i] === COMMA) i += 1;
    else if (b[i] === CLOSE_OBJECT) return i + 1;
    else return -1;
  }
}

/** Reads the event list from `i` (after its `[`); every element must be an object. */
function readEvents(b: Buffer, i: number): number {
  if (b[i] === CLOSE_ARRAY) return i + 1;
  for (;;) {
    if (b[i] !== OPEN_OBJECT) return -1;
    const start = i;
    i = readEvent(b, i + 1);
    if (i < 0) return -1;
    addEvent(b, start, i);
    if (b[i] === COMMA) i += 1;
    else if (b[i] === CLOSE_ARRAY) return i + 1;
    else return -1;
  }
}

/** Reads one event's members from `i` (after its `{`), noting those the normalized members need. */
function readEvent(b: Buffer, i: number): number {
  event.type = -1;
  event.logTime = undefined;
  event.startTime = undefined;
  event.serverType = undefined;
  event.hasEventTime = false;
  event.hasEngine = false;
  if (b[i] === CLOSE_OBJECT) return i + 1;
  const table = 1;
  const stamp = nextStamp(table);
  for (;;) {
    if (b[i] !== QUOTE) return -1;
    const keyStart = i + 1;
    const keyEnd = keyEndIn(b, keyStart, table, stamp);
    if (keyEnd < 0) return -1;
    const hash = scan.hash;
    const at = keyEnd + 2;
    i = valueEnd(b, at, 2);
    if (i < 0) return -1;
    if (hash === TYPE_HASH && same(b, keyStart, keyEnd, TYPE_KEY)) {
      event.type = at;
      event.typeEnd = i;
    } else if (hash === LOG_TIME_HASH && same(b, keyStart, keyEnd, LOG_TIME_KEY)) {
      if (scan.members) event.logTime = stringAt(b, at, i);
    } else if (hash === START_TIME_HASH && same(b, keyStart, keyEnd, START_TIME_KEY)) {
      if (scan.members) event.startTime = stringAt(b, at, i);
    } else if (hash === SERVER_TYPE_HASH && same(b, keyStart, keyEnd, SERVER_TYPE_KEY)) {
      if (scan.members) event.serverType = serverTypeAt(b, at, i);
    } else if (hash === EVENT_TIME_HASH && same(b, keyStart, keyEnd, EVENT_TIME_KEY)) {
      event.hasEventTime = true;
    } else if (hash === ENGINE_HASH && same(b, keyStart, keyEnd, ENGINE_KEY)) {
      event.hasEngine = true;
    }
    if (b[i] === COMMA) i += 1;
    else if (b[i] === CLOSE_OBJECT) return i + 1;
    else return -1;
  }
}

function addEvent(b: Buffer, start: number, end: number): void {
  const n = scan.events;
  if (n === scan.starts.length) {
    scan.starts = grow(scan.starts);
    scan.ends = grow(scan.ends);
    const heartbeats = new Uint8Array(n * 2);
    heartbeats.set(scan.heartbeats);
    scan.heartbeats = heartbeats;
  }
  scan.starts[n] = start;
  scan.ends[n] = end;
  scan.heartbeats[n] = event.type >= 0 && sameRange(b, event.type, event.typeEnd, HEARTBEAT) ? 1 : 0;
  if (scan.members) {
    scan.normalized[n] = normalizedMembersOf(event);
  }
  scan.events = n + 1;
}

/** The events' lines: each event's bytes, then the origin members and its normalized members. */
function writeEvents(b: Buffer, includeHeartbeats: boolean, counts: LineCounts, out: LineBuffer): void {
  let origin = "";
  if (scan.clusterAt >= 0 && !isNull(b, scan.clusterAt, scan.clusterEnd))
    origin += `,"clusterId":${b.toString("utf8", scan.clusterAt, scan.clusterEnd)}`;
  if (scan.instanceAt >= 0 && !isNull(b, scan.instanceAt, scan.instanceEnd))
    origin += `,"instanceId":${b.toString("utf8", scan.instanceAt, scan.instanceEnd)}`;
  for (let n = 0; n < scan.events; n += 1) {
    if (!includeHeartbeats && scan.heartbeats[n] === 1) {
      counts.heartbeatsDropped += 1;
      continue;
    }
    counts.events += 1;
    const start = scan.starts[n] as number;
    const end = scan.ends[n] as number;
    const suffix = origin + (scan.normalized[n] as string);
    if (end - start === 2) {
      // `{}`: the members go in without a leading comma.
      out.text(suffix === "" ? "{}\n" : `{${suffix.slice(1)}}\n`);
      continue;
    }
    out.copy(b, start, end - 1);
    out.text(suffix);
    out.byte(CLOSE_OBJECT);
    out.byte(NEWLINE);
  }
  scan.normalized.length = 0;
}

/** The end of the JSON value at `i`, or -1 when it is not one that serializing would leave as it is. */
function valueEnd(b: Buffer, i: number, depth: number): number {
  const c = b[i];
  if (c === QUOTE) return stringEnd(b, i + 1);
  if (c === OPEN_OBJECT) return depth > MAX_DEPTH ? -1 : objectEnd(b, i + 1, depth + 1);
  if (c === OPEN_ARRAY) return depth > MAX_DEPTH ? -1 : arrayEnd(b, i + 1, depth + 1);
  if (c === 0x74) return literalEnd(b, i, TRUE);
  if (c === 0x66) return literalEnd(b, i, FALSE);
  if (c === 0x6e) return literalEnd(b, i, NULL);
  if (c === MINUS || (c !== undefined && c >= 0x30 && c <= 0x39)) return numberEnd(b, i);
  return -1;
}

function objectEnd(b: Buffer, i: number, depth: number): number {
  if (b[i] === CLOSE_OBJECT) return i + 1;
  const table = depth;
  const stamp = nextStamp(table);
  for (;;) {
    if (b[i] !== QUOTE) return -1;
    const keyStart = i + 1;
    const keyEnd = keyEndIn(b, keyStart, table, stamp);
    if (keyEnd < 0) return -1;
    i = valueEnd(b, keyEnd + 2, depth);
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

/**
 * The end of the string whose content starts at `i` (after its closing quote), or -1 when it is
 * unterminated, holds a raw control character or an escape `JSON.stringify` would not write.
 */
function stringEnd(b: Buffer, i: number): number {
  const end = b.length;
  scan.escaped = false;
  while (i < end) {
    const c = b[i] as number;
    if (c === QUOTE) return i + 1;
    if (c === BACKSLASH) {
      i = escapeEnd(b, i + 1);
      if (i < 0) return -1;
      scan.escaped = true;
    } else if (c < 0x20) return -1;
    else i += 1;
  }
  return -1;
}

/** After the backslash at `i - 1`: the end of an escape `JSON.stringify` writes, or -1. */
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

/** The end of the number at `i`, or -1 unless it is valid JSON written as `String(Number(text))`. */
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
  return sameRange(b, i, i + literal.length, literal) ? i + literal.length : -1;
}

/**
 * Reads the key whose content starts at `i`, and its colon, for the object of stamp `stamp` whose
 * keys are noted in table `table`. Returns the index of the key's closing quote (its hash left in
 * `scan.hash`), or -1 when the key is not canonical, starts with a digit, is the object's second of
 * that name or one key too many.
 */
function keyEndIn(b: Buffer, i: number, table: number, stamp: number): number {
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
  const keys = scan.keys;
  const base = table * SLOTS;
  let slot = Math.imul(hash, 0x9e3779b1) >>> (32 - SLOT_BITS);
  for (;;) {
    const at = (base + slot) * 4;
    if (keys[at] !== stamp) {
      const count = scan.keyCount[table] as number;
      if (count === MAX_KEYS) return -1;
      scan.keyCount[table] = count + 1;
      keys[at] = stamp;
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
  scan.hash = hash;
  return i;
}

/** A stamp no object read before has: the keys of the object it is given are those noted with it. */
function nextStamp(table: number): number {
  scan.keyCount[table] = 0;
  scan.stamp += 1;
  return scan.stamp;
}

/** The hash {@link keyEndIn} gives a key of these bytes. */
function hashOf(name: string): number {
  let hash = 0;
  for (const c of Buffer.from(name)) hash = (Math.imul(hash, 31) + c) | 0;
  return hash;
}

/** `serverType`'s value, as {@link stringAt}; the same bytes as the last event's give the same string. */
function serverTypeAt(b: Buffer, start: number, end: number): unknown {
  if (sameRange(b, start, end, scan.serverType)) return scan.serverTypeValue;
  scan.serverType = Buffer.from(b.subarray(start, end));
  scan.serverTypeValue = stringAt(b, start, end);
  return scan.serverTypeValue;
}

/** The string value at `[start, end)` (quotes included) as a JS string; `null` for any other value. */
function stringAt(b: Buffer, start: number, end: number): unknown {
  if (b[start] !== QUOTE) return null;
  // `escaped` still tells about this string: it was the last one read.
  return scan.escaped ? JSON.parse(b.toString("utf8", start, end)) : b.toString("utf8", start + 1, end - 1);
}

function same(b: Buffer, start: number, end: number, name: Buffer): boolean {
  return end - start === name.length && sameRange(b, start, end, name);
}

function sameRange(b: Buffer, start: number, end: number, expected: Buffer): boolean {
  if (end - start !== expected.length) return false;
  for (let i = 0; i < expected.length; i += 1) if (b[start + i] !== expected[i]) return false;
  return true;
}

function isNull(b: Buffer, start: number, end: number): boolean {
  return sameRange(b, start, end, NULL);
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function grow(array: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const grown = new Int32Array(array.length * 2);
  grown.set(array);
  return grown;
}
