import { isUtf8 } from "node:buffer";
import {
  CLOSE_ARRAY,
  CLOSE_OBJECT,
  COMMA,
  isKey,
  keyEnd,
  keyName,
  lastRead,
  NULL,
  OPEN_ARRAY,
  OPEN_OBJECT,
  openObject,
  QUOTE,
  restartKeys,
  sameBytes,
  valueEnd,
} from "./canonical-json.ts";
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
 * The record is read in full before anything is written. Its bytes are taken only when they are
 * valid UTF-8, an object (with whitespace around it at most) with a `databaseActivityEventList`
 * array of objects, and everything in it is written as serializing would write it
 * (`canonical-json.ts` says how that is checked). Anything else, valid or not, is left to the
 * parser, whose verdict stands. test/unit/slice-record-lines.test.ts checks that both ways give the
 * same bytes on generated, hand-picked and altered records.
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
  // The reader needs a buffer that ends where the record ends.
  const bytes = record.subarray(start, end);
  if (!isUtf8(bytes)) return false;
  restartKeys();
  forgetLargeRecord();
  found.events = 0;
  found.list = false;
  found.clusterAt = -1;
  found.instanceAt = -1;
  found.members = options.format === "events";
  if (readTop(bytes, 1) !== bytes.length || !found.list) return false;
  if (options.format === "records") {
    out.copy(bytes, 0, bytes.length);
    out.byte(NEWLINE);
    return true;
  }
  writeEvents(bytes, options.includeHeartbeats, counts, out);
  return true;
}

const NEWLINE = 0x0a;
/** Events a record's tables keep room for between records (they grow for a larger one). */
const KEPT_EVENTS = 1024;
/** Depths of the top object and of the events (in the list, in the top object). */
const TOP = 0;
const EVENT = 2;

const LIST = keyName("databaseActivityEventList");
const CLUSTER = keyName("clusterId");
const INSTANCE = keyName("instanceId");
const TYPE = keyName("type");
const LOG_TIME = keyName("logTime");
const START_TIME = keyName("startTime");
const SERVER_TYPE = keyName("serverType");
const EVENT_TIME = keyName("eventTime");
const ENGINE = keyName("engine");
const HEARTBEAT = Buffer.from('"heartbeat"');

/**
 * What reading one record found, reused from record to record (a thread reads one at a time).
 * Per event: where it starts and ends, whether it is a heartbeat, and its normalized members.
 */
const found = {
  events: 0,
  list: false,
  clusterAt: -1,
  clusterEnd: -1,
  instanceAt: -1,
  instanceEnd: -1,
  /** Whether to work out each event's normalized members (the `events` format). */
  members: true,
  starts: new Int32Array(KEPT_EVENTS),
  ends: new Int32Array(KEPT_EVENTS),
  heartbeats: new Int32Array(KEPT_EVENTS),
  normalized: [] as string[],
  /** The last `serverType` value's bytes and value: one stream, one engine. */
  serverType: Buffer.alloc(0),
  serverTypeValue: undefined as unknown,
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
  const stamp = openObject(TOP);
  for (;;) {
    if (b[i] !== QUOTE) return -1;
    const keyStart = i + 1;
    const keyStop = keyEnd(b, keyStart, TOP, stamp);
    if (keyStop < 0) return -1;
    const hash = lastRead.hash;
    i = keyStop + 2;
    if (isKey(b, keyStart, keyStop, hash, LIST)) {
      if (b[i] !== OPEN_ARRAY) return -1;
      i = readEvents(b, i + 1);
      found.list = true;
    } else if (isKey(b, keyStart, keyStop, hash, CLUSTER)) {
      found.clusterAt = i;
      i = valueEnd(b, i, TOP);
      found.clusterEnd = i;
    } else if (isKey(b, keyStart, keyStop, hash, INSTANCE)) {
      found.instanceAt = i;
      i = valueEnd(b, i, TOP);
      found.instanceEnd = i;
    } else i = valueEnd(b, i, TOP);
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
  const stamp = openObject(EVENT);
  for (;;) {
    if (b[i] !== QUOTE) return -1;
    const keyStart = i + 1;
    const keyStop = keyEnd(b, keyStart, EVENT, stamp);
    if (keyStop < 0) return -1;
    const hash = lastRead.hash;
    const at = keyStop + 2;
    i = valueEnd(b, at, EVENT);
    if (i < 0) return -1;
    const escaped = lastRead.escaped;
    if (isKey(b, keyStart, keyStop, hash, TYPE)) {
      event.type = at;
      event.typeEnd = i;
    } else if (isKey(b, keyStart, keyStop, hash, LOG_TIME)) {
      if (found.members) event.logTime = stringAt(b, at, i, escaped);
    } else if (isKey(b, keyStart, keyStop, hash, START_TIME)) {
      if (found.members) event.startTime = stringAt(b, at, i, escaped);
    } else if (isKey(b, keyStart, keyStop, hash, SERVER_TYPE)) {
      if (found.members) event.serverType = serverTypeAt(b, at, i, escaped);
    } else if (isKey(b, keyStart, keyStop, hash, EVENT_TIME)) {
      event.hasEventTime = true;
    } else if (isKey(b, keyStart, keyStop, hash, ENGINE)) {
      event.hasEngine = true;
    }
    if (b[i] === COMMA) i += 1;
    else if (b[i] === CLOSE_OBJECT) return i + 1;
    else return -1;
  }
}

function addEvent(b: Buffer, start: number, end: number): void {
  const n = found.events;
  if (n === found.starts.length) {
    found.starts = grow(found.starts);
    found.ends = grow(found.ends);
    found.heartbeats = grow(found.heartbeats);
  }
  found.starts[n] = start;
  found.ends[n] = end;
  found.heartbeats[n] = event.type >= 0 && sameBytes(b, event.type, event.typeEnd, HEARTBEAT) ? 1 : 0;
  if (found.members) found.normalized[n] = normalizedMembersOf(event);
  found.events = n + 1;
}

/** The events' lines: each event's bytes, then the origin members and its normalized members. */
function writeEvents(b: Buffer, includeHeartbeats: boolean, counts: LineCounts, out: LineBuffer): void {
  let origin = "";
  if (found.clusterAt >= 0 && !sameBytes(b, found.clusterAt, found.clusterEnd, NULL))
    origin += `,"clusterId":${b.toString("utf8", found.clusterAt, found.clusterEnd)}`;
  if (found.instanceAt >= 0 && !sameBytes(b, found.instanceAt, found.instanceEnd, NULL))
    origin += `,"instanceId":${b.toString("utf8", found.instanceAt, found.instanceEnd)}`;
  for (let n = 0; n < found.events; n += 1) {
    if (!includeHeartbeats && found.heartbeats[n] === 1) {
      counts.heartbeatsDropped += 1;
      continue;
    }
    counts.events += 1;
    const start = found.starts[n] as number;
    const end = found.ends[n] as number;
    const suffix = origin + (found.normalized[n] as string);
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
}

/** Drops what a record with very many events left (its event tables and members), before the next. */
function forgetLargeRecord(): void {
  found.normalized.length = 0;
  if (found.starts.length <= KEPT_EVENTS) return;
  found.starts = new Int32Array(KEPT_EVENTS);
  found.ends = new Int32Array(KEPT_EVENTS);
  found.heartbeats = new Int32Array(KEPT_EVENTS);
}

/** `serverType`'s value, as {@link stringAt}; the same bytes as the last event's give the same string. */
function serverTypeAt(b: Buffer, start: number, end: number, escaped: boolean): unknown {
  if (sameBytes(b, start, end, found.serverType)) return found.serverTypeValue;
  found.serverType = Buffer.from(b.subarray(start, end));
  found.serverTypeValue = stringAt(b, start, end, escaped);
  return found.serverTypeValue;
}

/** The value at `[start, end)` as a JS string when it is a string (`escaped`: it holds escapes), else `null`. */
function stringAt(b: Buffer, start: number, end: number, escaped: boolean): unknown {
  if (b[start] !== QUOTE) return null;
  return escaped ? JSON.parse(b.toString("utf8", start, end)) : b.toString("utf8", start + 1, end - 1);
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function grow(array: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const grown = new Int32Array(array.length * 2);
  grown.set(array);
  return grown;
}
