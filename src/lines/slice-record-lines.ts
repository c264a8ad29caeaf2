import { isUtf8 } from "node:buffer";
import {
  DROP,
  type EventPolicy,
  exclusionOf,
  FILTER_REASONS,
  isUnreadableStatement,
  noneFiltered,
  redactedParams,
  redactedStatement,
  redactNativeFields,
} from "../policy/event-policy.ts";
import {
  CLOSE_ARRAY,
  CLOSE_OBJECT,
  COMMA,
  isKey,
  type KeyName,
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
import { engineFor, normalizedMembersOf } from "./normalize-event.ts";

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
 * parser, whose verdict stands. test/unit/lines/slice-record-lines.test.ts checks that both ways give the
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
  const { policy } = options;
  // A record line holds the whole record: with a policy, it is parsed and serialized.
  if (policy !== undefined && options.format === "records") return false;
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
  found.includeHeartbeats = options.includeHeartbeats;
  found.edits = 0;
  usePolicy(policy);
  if (readTop(bytes, 1) !== bytes.length || !found.list) return false;
  if (options.format === "records") {
    out.copy(bytes, 0, bytes.length);
    out.byte(NEWLINE);
    return true;
  }
  writeEvents(bytes, counts, out);
  return true;
}

const NEWLINE = 0x0a;
/** Events a record's tables keep room for between records (they grow for a larger one). */
const KEPT_EVENTS = 1024;
/** Edits a record's tables keep room for between records. */
const KEPT_EDITS = 4096;
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
const USER = keyName("dbUserName");
const DATABASE = keyName("databaseName");
const COMMAND = keyName("command");
const COMMAND_TEXT = keyName("commandText");
const PARAM_LIST = keyName("paramList");
const NATIVE_FIELDS = keyName("engineNativeAuditFields");
const HEARTBEAT = Buffer.from('"heartbeat"');
/** An event's verdict, in `found.verdicts`: written, or dropped by the filter of that reason. */
const KEPT = 0;

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
  includeHeartbeats: false,
  /**
   * With a policy: per event, {@link KEPT} or 1 + the index of the filter reason that drops it, and
   * what redaction did (bit 1: changed it, bit 2: replaced its statement whole).
   */
  verdicts: new Int32Array(KEPT_EVENTS),
  redactions: new Int32Array(KEPT_EVENTS),
  /** Per event, its edits: `edits` indexes from `editsFrom[n]` up to `editsFrom[n + 1]`. */
  editsFrom: new Int32Array(KEPT_EVENTS + 1),
  /**
   * The record's edits, in the order of their members: where the member starts (its key's quote),
   * where its value starts and ends, and what replaces the value (`null`: the member is dropped;
   * `undefined`: nothing, the member is kept as it is).
   */
  edits: 0,
  editMembers: new Int32Array(KEPT_EDITS),
  editValues: new Int32Array(KEPT_EDITS),
  editEnds: new Int32Array(KEPT_EDITS),
  editTexts: [] as (string | null | undefined)[],
  /** The last `serverType` value's bytes and value: one stream, one engine. */
  serverType: Buffer.alloc(0),
  serverTypeValue: undefined as unknown,
};

/** The policy of the record being read, and the names of the fields it drops. */
const rules = {
  policy: undefined as EventPolicy | undefined,
  fields: [] as KeyName[],
  /** The hashes of the keys the policy reads: other members go past without a look. */
  hashes: new Set<number>(),
  /** The low byte of each of those hashes, so that most members are passed over by one lookup. */
  slots: new Uint8Array(256),
  /** Which members are looked at: only those the policy acts on. */
  filters: false,
  params: false,
  statements: false,
};

function usePolicy(policy: EventPolicy | undefined): void {
  if (policy === rules.policy) return;
  rules.policy = policy;
  rules.fields = policy === undefined ? [] : policy.redactFields.map(keyName);
  rules.filters =
    policy !== undefined &&
    policy.excludeUsers.length + policy.excludeDatabases.length + policy.excludeCommands.length > 0;
  rules.params = policy !== undefined && policy.redactParams !== "keep";
  rules.statements = policy?.redactSqlLiterals === true;
  rules.hashes.clear();
  rules.slots.fill(0);
  if (policy === undefined) return;
  const read: KeyName[] = [SERVER_TYPE, ...rules.fields];
  if (rules.filters) read.push(USER, DATABASE, COMMAND);
  if (rules.statements) read.push(COMMAND_TEXT);
  if (rules.params) read.push(PARAM_LIST);
  if (rules.fields.length > 0) read.push(NATIVE_FIELDS);
  for (const name of read) {
    rules.hashes.add(name.hash);
    rules.slots[name.hash & 0xff] = 1;
  }
}

/** The members of the event being read that its normalized members depend on. */
const event = {
  type: -1,
  typeEnd: -1,
  logTime: undefined as unknown,
  startTime: undefined as unknown,
  serverType: undefined as unknown,
  hasEventTime: false,
  hasEngine: false,
  /** With a policy: the values its filters read, and the `serverType` that names the engine. */
  filter: {
    dbUserName: undefined as unknown,
    databaseName: undefined as unknown,
    command: undefined as unknown,
  },
  engineType: undefined as unknown,
  /** The edit of `commandText`, or -1. */
  statementEdit: -1,
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
  const { policy } = rules;
  if (policy !== undefined) {
    event.filter.dbUserName = undefined;
    event.filter.databaseName = undefined;
    event.filter.command = undefined;
    event.engineType = undefined;
    event.statementEdit = -1;
  }
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
    if (
      policy !== undefined &&
      rules.slots[hash & 0xff] === 1 &&
      rules.hashes.has(hash) &&
      readForPolicy(b, keyStart, keyStop, hash, at, i, escaped)
    ) {
      // Dropped: the member counts for nothing written (the type was read: heartbeats stay heartbeats).
    } else if (isKey(b, keyStart, keyStop, hash, TYPE)) {
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

/**
 * Reads a member the policy acts on: the values its filters compare, and the edits of what it
 * redacts. Returns whether the member is dropped whole (a field redacted by name).
 */
function readForPolicy(
  b: Buffer,
  keyStart: number,
  keyStop: number,
  hash: number,
  at: number,
  end: number,
  escaped: boolean,
): boolean {
  const policy = rules.policy as EventPolicy;
  if (rules.filters) {
    if (isKey(b, keyStart, keyStop, hash, USER)) event.filter.dbUserName = stringAt(b, at, end, escaped);
    else if (isKey(b, keyStart, keyStop, hash, DATABASE))
      event.filter.databaseName = stringAt(b, at, end, escaped);
    else if (isKey(b, keyStart, keyStop, hash, COMMAND)) event.filter.command = stringAt(b, at, end, escaped);
  }
  if (isKey(b, keyStart, keyStop, hash, SERVER_TYPE)) event.engineType = serverTypeAt(b, at, end, escaped);
  for (const field of rules.fields) {
    if (!isKey(b, keyStart, keyStop, hash, field)) continue;
    if (isKey(b, keyStart, keyStop, hash, TYPE)) {
      event.type = at;
      event.typeEnd = end;
    }
    addEdit(keyStart - 1, at, end, null);
    return true;
  }
  if (rules.statements && isKey(b, keyStart, keyStop, hash, COMMAND_TEXT)) {
    // Replaced once the engine is known (`serverType` may come later).
    event.statementEdit = addEdit(keyStart - 1, at, end, stringAt(b, at, end, escaped) as string);
  } else if (rules.params && isKey(b, keyStart, keyStop, hash, PARAM_LIST)) {
    if (policy.redactParams === "drop") {
      addEdit(keyStart - 1, at, end, null);
      return true;
    }
    // Hashing leaves `[]` and anything but an array as it is: no need to parse those.
    if (b[at] !== OPEN_ARRAY || b[at + 1] === CLOSE_ARRAY) return false;
    const value = JSON.parse(b.toString("utf8", at, end));
    const params = redactedParams(value, policy);
    if (params === DROP) {
      addEdit(keyStart - 1, at, end, null);
      return true;
    }
    if (params !== value) addEdit(keyStart - 1, at, end, JSON.stringify(params));
  } else if (
    rules.fields.length > 0 &&
    b[at] === OPEN_OBJECT &&
    isKey(b, keyStart, keyStop, hash, NATIVE_FIELDS)
  ) {
    const native = JSON.parse(b.toString("utf8", at, end));
    if (redactNativeFields(native, policy)) addEdit(keyStart - 1, at, end, JSON.stringify(native));
  }
  return false;
}

/** Notes an edit of the event being read; its index. */
function addEdit(member: number, value: number, end: number, text: string | null | undefined): number {
  const e = found.edits;
  if (e === found.editMembers.length) {
    found.editMembers = grow(found.editMembers);
    found.editValues = grow(found.editValues);
    found.editEnds = grow(found.editEnds);
  }
  found.editMembers[e] = member;
  found.editValues[e] = value;
  found.editEnds[e] = end;
  found.editTexts[e] = text;
  found.edits = e + 1;
  return e;
}

function addEvent(b: Buffer, start: number, end: number): void {
  const n = found.events;
  if (n === found.starts.length) {
    found.starts = grow(found.starts);
    found.ends = grow(found.ends);
    found.heartbeats = grow(found.heartbeats);
    found.verdicts = grow(found.verdicts);
    found.redactions = grow(found.redactions);
    found.editsFrom = grow(found.editsFrom);
  }
  found.starts[n] = start;
  found.ends[n] = end;
  const heartbeat = event.type >= 0 && sameBytes(b, event.type, event.typeEnd, HEARTBEAT);
  found.heartbeats[n] = heartbeat ? 1 : 0;
  if (found.members) found.normalized[n] = normalizedMembersOf(event);
  if (rules.policy !== undefined && !(heartbeat && !found.includeHeartbeats)) judge(n);
  found.events = n + 1;
  found.editsFrom[n + 1] = found.edits;
}

/** The policy's verdict on event `n`, just read, and its statement's redaction. */
function judge(n: number): void {
  const policy = rules.policy as EventPolicy;
  const reason = rules.filters ? exclusionOf(event.filter, policy) : undefined;
  found.verdicts[n] = reason === undefined ? KEPT : 1 + FILTER_REASONS.indexOf(reason);
  let redactions = 0;
  const from = found.editsFrom[n] as number;
  if (event.statementEdit >= 0) {
    const text = found.editTexts[event.statementEdit];
    const redacted = reason === undefined ? redactedStatement(text, engineFor(event.engineType)) : text;
    found.editTexts[event.statementEdit] = redacted === text ? undefined : JSON.stringify(redacted);
    if (isUnreadableStatement(redacted)) redactions |= 2;
  }
  for (let e = from; e < found.edits; e += 1) if (found.editTexts[e] !== undefined) redactions |= 1;
  found.redactions[n] = redactions;
}

/** The events' lines: each event's bytes, then the origin members and its normalized members. */
function writeEvents(b: Buffer, counts: LineCounts, out: LineBuffer): void {
  const { includeHeartbeats } = found;
  const policed = rules.policy !== undefined;
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
    const start = found.starts[n] as number;
    const end = found.ends[n] as number;
    const suffix = origin + (found.normalized[n] as string);
    if (policed) {
      const verdict = found.verdicts[n] as number;
      if (verdict !== KEPT) {
        counts.filtered ??= noneFiltered();
        counts.filtered[FILTER_REASONS[verdict - 1] as keyof typeof counts.filtered] += 1;
        continue;
      }
      counts.events += 1;
      const redactions = found.redactions[n] as number;
      if (redactions !== 0) {
        counts.redacted = (counts.redacted ?? 0) + 1;
        if ((redactions & 2) !== 0) counts.statementsUnreadable = (counts.statementsUnreadable ?? 0) + 1;
        writeEdited(
          b,
          start,
          end,
          found.editsFrom[n] as number,
          found.editsFrom[n + 1] as number,
          suffix,
          out,
        );
        continue;
      }
    } else counts.events += 1;
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

/**
 * One event's line with its edits: the runs of members between edited ones copied as they are, an
 * edited member's value replaced, a dropped member left out with its comma.
 */
function writeEdited(
  b: Buffer,
  start: number,
  end: number,
  from: number,
  to: number,
  suffix: string,
  out: LineBuffer,
): void {
  out.byte(OPEN_OBJECT);
  let written = false;
  let run = start + 1;
  for (let e = from; e < to; e += 1) {
    const text = found.editTexts[e];
    if (text === undefined) continue;
    const member = found.editMembers[e] as number;
    if (member > run) {
      if (written) out.byte(COMMA);
      out.copy(b, run, member - 1);
      written = true;
    }
    if (text !== null) {
      if (written) out.byte(COMMA);
      out.copy(b, member, found.editValues[e] as number);
      out.text(text);
      written = true;
    }
    run = (found.editEnds[e] as number) + 1;
  }
  if (run < end - 1) {
    if (written) out.byte(COMMA);
    out.copy(b, run, end - 1);
    written = true;
  }
  out.text(written || suffix === "" ? suffix : suffix.slice(1));
  out.byte(CLOSE_OBJECT);
  out.byte(NEWLINE);
}

/** Drops what a record with very many events left (its event tables and members), before the next. */
function forgetLargeRecord(): void {
  found.normalized.length = 0;
  found.editTexts.length = 0;
  found.editsFrom[0] = 0;
  if (found.editMembers.length > KEPT_EDITS) {
    found.editMembers = new Int32Array(KEPT_EDITS);
    found.editValues = new Int32Array(KEPT_EDITS);
    found.editEnds = new Int32Array(KEPT_EDITS);
  }
  if (found.starts.length <= KEPT_EVENTS) return;
  found.starts = new Int32Array(KEPT_EVENTS);
  found.ends = new Int32Array(KEPT_EVENTS);
  found.heartbeats = new Int32Array(KEPT_EVENTS);
  found.verdicts = new Int32Array(KEPT_EVENTS);
  found.redactions = new Int32Array(KEPT_EVENTS);
  found.editsFrom = new Int32Array(KEPT_EVENTS + 1);
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
