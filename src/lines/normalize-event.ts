/**
 * Normalized members added to each `events` line so one query works across engines: every engine
 * writes its times in its own format and names itself in its own way (see das-format.md §6).
 */

/** The engines that write Database Activity Streams. */
export type EngineName = "aurora-postgresql" | "aurora-mysql" | "oracle" | "sqlserver";

/** The members this module adds, by name; an event that already has one of them keeps its own. */
export interface NormalizedFields {
  /** ISO-8601 UTC with microseconds, fixed width (`2026-11-25T10:00:00.123456Z`), so it also sorts as text. */
  eventTime?: string;
  engine?: EngineName;
}

/**
 * Converts a DAS time string to ISO-8601 UTC with exactly six fractional digits (extra digits are
 * cut, missing ones padded with zeros). Accepts `2022-03-27 13:05:16.607273+00` (Aurora),
 * `2022-10-06 21:24:59.9422268+00` (SQL Server, 7 digits), `2021-12-28 17:03:35.000000` (Oracle, no
 * zone: taken as UTC, which is how RDS writes it), and ISO forms with `T`, `Z`, `+05:30` or `-0500`.
 * Returns `undefined` for anything else (never throws): the original field stays in the line anyway.
 */
export function toUtcIsoTime(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const text = value.trim();
  if (!hasDateTimeShape(text)) return undefined;
  let at = 19;
  let fraction = "";
  if (text[at] === "." || text[at] === ",") {
    const start = at + 1;
    at = start;
    while (at < text.length && isDigit(text.charCodeAt(at))) at += 1;
    if (at === start || at - start > 12) return undefined;
    fraction = text.slice(start, Math.min(at, start + 6));
  }
  while (text[at] === " " || text[at] === "\t") at += 1;
  const zone = text.slice(at);
  // Events arrive in time order, many per second: the checks and date arithmetic run once per second.
  const head = text.slice(0, 19);
  if (head !== last.head || zone !== last.zone) last = { head, zone, utc: utcSecond(text, zone) };
  return last.utc === undefined ? undefined : `${last.utc}.${fraction.padEnd(6, "0")}Z`;
}

let last: { head: string; zone: string; utc: string | undefined } = { head: "", zone: "", utc: undefined };

const DIGIT_POSITIONS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];

/** `YYYY-MM-DD?HH:MM:SS` at the start of `text` (any digits; ranges are checked by `utcSecond`). */
function hasDateTimeShape(text: string): boolean {
  if (text.length < 19) return false;
  for (const i of DIGIT_POSITIONS) if (!isDigit(text.charCodeAt(i))) return false;
  const separator = text[10];
  return (
    text[4] === "-" &&
    text[7] === "-" &&
    (separator === " " || separator === "T") &&
    text[13] === ":" &&
    text[16] === ":"
  );
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

/** The two-digit number at `i` (digits already checked). */
function twoDigits(text: string, i: number): number {
  return (text.charCodeAt(i) - 48) * 10 + text.charCodeAt(i + 1) - 48;
}

/** `YYYY-MM-DDTHH:MM:SS` in UTC for the local time at the start of `text` in `zone`, or `undefined`. */
function utcSecond(text: string, zone: string): string | undefined {
  const y = twoDigits(text, 0) * 100 + twoDigits(text, 2);
  const mo = twoDigits(text, 5);
  const d = twoDigits(text, 8);
  const h = twoDigits(text, 11);
  const mi = twoDigits(text, 14);
  const s = twoDigits(text, 17);
  if (y < 1000 || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || s > 59) {
    return undefined;
  }
  const offsetMinutes = zoneOffsetMinutes(zone);
  if (offsetMinutes === undefined) return undefined;
  if (offsetMinutes === 0) return `${text.slice(0, 10)}T${text.slice(11, 19)}`;
  const iso = new Date(Date.UTC(y, mo - 1, d, h, mi, s) - offsetMinutes * 60_000).toISOString();
  // Shifting by the zone can leave the four-digit year range; such a time is not a DAS time.
  return iso.length === 24 ? iso.slice(0, 19) : undefined;
}

/** The event's time as ISO-8601 UTC: `logTime`, else `startTime` (Oracle and SQL Server leave it null). */
export function eventTimeOf(event: Readonly<Record<string, unknown>>): string | undefined {
  return eventTimeFrom(event.logTime, event.startTime);
}

function eventTimeFrom(logTime: unknown, startTime: unknown): string | undefined {
  return toUtcIsoTime(logTime) ?? toUtcIsoTime(startTime);
}

/**
 * The engine that wrote the event, from `serverType` (`PostgreSQL`, `MySQL`, `oracle`, `SQLSERVER`,
 * in whatever case). `undefined` when the event names none (heartbeats) or an unknown one.
 */
export function engineOf(event: Readonly<Record<string, unknown>>): EngineName | undefined {
  return engineFor(event.serverType);
}

export function engineFor(serverType: unknown): EngineName | undefined {
  if (typeof serverType !== "string") return undefined;
  // One stream is one engine: the name is worked out once, not for every event.
  if (serverType !== lastEngine.serverType) lastEngine = { serverType, engine: engineNamed(serverType) };
  return lastEngine.engine;
}

let lastEngine: { serverType: string; engine: EngineName | undefined } = {
  serverType: "",
  engine: undefined,
};

function engineNamed(serverType: string): EngineName | undefined {
  const name = serverType.toLowerCase().replace(/[\s_-]/g, "");
  if (name.includes("postgres")) return "aurora-postgresql";
  if (name.includes("mysql")) return "aurora-mysql";
  if (name.includes("oracle")) return "oracle";
  if (name.includes("sqlserver")) return "sqlserver";
  return undefined;
}

/**
 * The normalized fields of one event, only those that could be derived and that the event does not
 * already carry under the same name (its own fields are never overwritten or duplicated).
 */
export function normalizedFields(event: Readonly<Record<string, unknown>>): NormalizedFields {
  return normalizedFieldsOf(normalizationInput(event));
}

/** `normalizedFields` as JSON members with their leading commas, ready to append inside an object. */
export function normalizedMembers(event: Readonly<Record<string, unknown>>): string {
  return normalizedMembersOf(normalizationInput(event));
}

function normalizationInput(event: Readonly<Record<string, unknown>>): NormalizationInput {
  return {
    logTime: event.logTime,
    startTime: event.startTime,
    serverType: event.serverType,
    hasEventTime: Object.hasOwn(event, "eventTime"),
    hasEngine: Object.hasOwn(event, "engine"),
  };
}

/** The event fields the normalized members are derived from, for a reader that has no parsed event. */
export interface NormalizationInput {
  readonly logTime: unknown;
  readonly startTime: unknown;
  readonly serverType: unknown;
  /** The event has a member named `eventTime` (of any value). */
  readonly hasEventTime: boolean;
  /** The event has a member named `engine` (of any value). */
  readonly hasEngine: boolean;
}

/** {@link normalizedFields} from the fields it depends on. */
function normalizedFieldsOf(input: NormalizationInput): NormalizedFields {
  const fields: NormalizedFields = {};
  if (!input.hasEventTime) {
    const eventTime = eventTimeFrom(input.logTime, input.startTime);
    if (eventTime !== undefined) fields.eventTime = eventTime;
  }
  if (!input.hasEngine) {
    const engine = engineFor(input.serverType);
    if (engine !== undefined) fields.engine = engine;
  }
  return fields;
}

/** {@link normalizedMembers} from the fields it depends on. */
export function normalizedMembersOf(input: NormalizationInput): string {
  const fields = normalizedFieldsOf(input);
  let members = "";
  if (fields.eventTime !== undefined) members += `,"eventTime":"${fields.eventTime}"`;
  if (fields.engine !== undefined) members += `,"engine":"${fields.engine}"`;
  return members;
}

/** Minutes east of UTC for `""`, `Z`, `±hh`, `±hhmm` or `±hh:mm`; `undefined` for anything else. */
function zoneOffsetMinutes(zone: string): number | undefined {
  if (zone === "" || zone === "Z") return 0;
  const sign = zone[0] === "+" ? 1 : zone[0] === "-" ? -1 : 0;
  const minutesAt = zone.length === 5 ? 3 : zone.length === 6 && zone[3] === ":" ? 4 : -1;
  if (sign === 0 || (zone.length !== 3 && minutesAt < 0)) return undefined;
  for (const i of minutesAt < 0 ? [1, 2] : [1, 2, minutesAt, minutesAt + 1]) {
    if (!isDigit(zone.charCodeAt(i))) return undefined;
  }
  const hours = twoDigits(zone, 1);
  const minutes = minutesAt < 0 ? 0 : twoDigits(zone, minutesAt);
  if (hours > 23 || minutes > 59) return undefined;
  return sign * (hours * 60 + minutes);
}

function daysIn(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}
