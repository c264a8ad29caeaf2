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

// `2022-03-27 13:05:16.607273+00` (Aurora), `2022-10-06 21:24:59.9422268+00` (SQL Server, 7 digits),
// `2021-12-28 17:03:35.000000` (Oracle, no zone), and ISO forms with `T`, `Z` or `+05:30`.
const DAS_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,12}))?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * Converts a DAS time string to ISO-8601 UTC with exactly six fractional digits (extra digits are
 * cut, missing ones padded with zeros). A time without a zone is taken as UTC, which is how RDS
 * writes Oracle's `logTime`. Returns `undefined` for anything else (never throws): the original
 * field stays in the line either way.
 */
export function toUtcIsoTime(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const match = DAS_TIME.exec(value.trim());
  if (match === null) return undefined;
  const [, year, month, day, hour, minute, second, fraction = "", zone = "Z"] = match;
  const [y, mo, d, h, mi, s] = [year, month, day, hour, minute, second].map(Number) as number[];
  if (y === undefined || mo === undefined || d === undefined) return undefined;
  if (h === undefined || mi === undefined || s === undefined) return undefined;
  if (y < 1000 || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || s > 59) {
    return undefined;
  }
  const offsetMinutes = zoneOffsetMinutes(zone);
  if (offsetMinutes === undefined) return undefined;
  const utcMs = Date.UTC(y, mo - 1, d, h, mi, s) - offsetMinutes * 60_000;
  const iso = new Date(utcMs).toISOString();
  // Shifting by the zone can leave the four-digit year range; such a time is not a DAS time.
  if (iso.length !== 24) return undefined;
  return `${iso.slice(0, 19)}.${fraction.slice(0, 6).padEnd(6, "0")}Z`;
}

/** The event's time as ISO-8601 UTC: `logTime`, else `startTime` (Oracle and SQL Server leave it null). */
export function eventTimeOf(event: Readonly<Record<string, unknown>>): string | undefined {
  return toUtcIsoTime(event.logTime) ?? toUtcIsoTime(event.startTime);
}

/**
 * The engine that wrote the event, from `serverType` (`PostgreSQL`, `MySQL`, `oracle`, `SQLSERVER`,
 * in whatever case). `undefined` when the event names none (heartbeats) or an unknown one.
 */
export function engineOf(event: Readonly<Record<string, unknown>>): EngineName | undefined {
  const serverType = event.serverType;
  if (typeof serverType !== "string") return undefined;
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
  const fields: NormalizedFields = {};
  if (!Object.hasOwn(event, "eventTime")) {
    const eventTime = eventTimeOf(event);
    if (eventTime !== undefined) fields.eventTime = eventTime;
  }
  if (!Object.hasOwn(event, "engine")) {
    const engine = engineOf(event);
    if (engine !== undefined) fields.engine = engine;
  }
  return fields;
}

/** `normalizedFields` as JSON members with their leading commas, ready to append inside an object. */
export function normalizedMembers(event: Readonly<Record<string, unknown>>): string {
  const fields = normalizedFields(event);
  let members = "";
  if (fields.eventTime !== undefined) members += `,"eventTime":"${fields.eventTime}"`;
  if (fields.engine !== undefined) members += `,"engine":"${fields.engine}"`;
  return members;
}

function zoneOffsetMinutes(zone: string): number | undefined {
  if (zone === "Z") return 0;
  const sign = zone.startsWith("-") ? -1 : 1;
  const digits = zone.slice(1).replace(":", "");
  const hours = Number(digits.slice(0, 2));
  const minutes = digits.length > 2 ? Number(digits.slice(2)) : 0;
  if (hours > 23 || minutes > 59) return undefined;
  return sign * (hours * 60 + minutes);
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}
