/**
 * The answers the saved queries must give, computed in plain TypeScript from the inner records the
 * fixture generator encrypted (not from the function's output), for comparison with DuckDB's.
 */
import type { Engine, Event } from "../../../src/local/das-events.ts";

/** One generated activity event with where it ends up. */
export interface SourceEvent {
  readonly engine: Engine;
  readonly event: Event;
  /** Partition value of the object it is in (`yyyy/MM/dd/HH` of the raw key). */
  readonly datehour: string;
  /** `s3://bucket/decrypted/…` of the output object. */
  readonly sourceObject: string;
}

type Row = Record<string, unknown>;
const str = (value: unknown): string | null => (value === null || value === undefined ? null : String(value));

/** `2026-11-18 22:30:05.123456+00` / `…1234568+00` / no zone → `2026-11-18T22:30:05.123456Z` (fixtures are UTC). */
export function isoOf(logTime: unknown): string {
  const match = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})\.(\d+)/.exec(String(logTime));
  if (match === null) throw new Error("fixture event without a logTime");
  return `${match[1]}T${match[2]}.${(match[3] ?? "").slice(0, 6).padEnd(6, "0")}Z`;
}

export function inRange(events: readonly SourceEvent[], first: string, last: string): SourceEvent[] {
  return events.filter((e) => e.datehour >= first && e.datehour <= last);
}

/** How each engine reports a failed login in the fixtures (das-format.md §6). */
export function isFailedLogin({ engine, event }: SourceEvent): boolean {
  switch (engine) {
    case "aurora-postgresql":
      return event.exitCode === "28P01";
    case "aurora-mysql":
      return event.command === "FAILED_CONNECT";
    case "oracle":
      return event.command === "LOGON" && event.exitCode !== 0;
    case "sqlserver":
      return event.command === "LOGIN FAILED";
  }
}

const CHANGE = /^(CREATE|ALTER|DROP|GRANT|REVOKE)\b/;

export function isDdlOrPrivilegeChange({ engine, event }: SourceEvent): boolean {
  if (engine === "aurora-postgresql") return event.class === "DDL" || event.class === "ROLE";
  if (engine === "aurora-mysql") return event.class === "MAIN" && CHANGE.test(String(event.commandText));
  return CHANGE.test(String(event.command));
}

export function isOutsideBusinessHours({ event }: SourceEvent): boolean {
  const time = new Date(isoOf(event.logTime));
  const hour = time.getUTCHours();
  const day = time.getUTCDay();
  return hour < 8 || hour >= 18 || day === 0 || day === 6;
}

const SERVICE_USERS = new Set(["rdsadmin", "rdssec", "rdsproxyadmin"]);

/** Groups by engine, user and host with count and first/last time, sorted as the saved queries sort. */
export function byUserAndHost(events: readonly SourceEvent[], countName: string): Row[] {
  const groups = new Map<
    string,
    { engine: string; user: string | null; host: string | null; times: string[] }
  >();
  for (const e of events) {
    const user = str(e.event.dbUserName);
    const host = str(e.event.remoteHost);
    const id = JSON.stringify([e.engine, user, host]);
    const group = groups.get(id) ?? { engine: e.engine, user, host, times: [] };
    group.times.push(isoOf(e.event.logTime));
    groups.set(id, group);
  }
  return [...groups.values()]
    .map((g) => ({
      engine: g.engine,
      dbusername: g.user,
      remotehost: g.host,
      [countName]: g.times.length,
      first_seen: [...g.times].sort()[0],
      last_seen: [...g.times].sort().at(-1),
    }))
    .sort(
      (a, b) =>
        (b[countName] as number) - (a[countName] as number) ||
        compare(a.engine, b.engine) ||
        compare(a.dbusername, b.dbusername) ||
        compare(a.remotehost, b.remotehost),
    );
}

export function expectedOutsideBusinessHours(events: readonly SourceEvent[]): Row[] {
  const kept = events.filter(
    (e) =>
      typeof e.event.dbUserName === "string" &&
      !SERVICE_USERS.has(e.event.dbUserName.toLowerCase()) &&
      isOutsideBusinessHours(e),
  );
  return byUserAndHost(kept, "events");
}

export function expectedTopStatements(events: readonly SourceEvent[], limit = 50): Row[] {
  const groups = new Map<string, { row: Row; users: Set<string> }>();
  for (const { engine, event } of events) {
    const text = event.commandText;
    if (typeof text !== "string" || text === "" || event.class === "AUX") continue;
    const id = JSON.stringify([engine, event.command, text]);
    const group = groups.get(id) ?? {
      row: { engine, command: str(event.command), commandtext: text, executions: 0 },
      users: new Set<string>(),
    };
    group.row.executions = (group.row.executions as number) + 1;
    if (event.dbUserName !== null && event.dbUserName !== undefined)
      group.users.add(String(event.dbUserName));
    groups.set(id, group);
  }
  return [...groups.values()]
    .map(({ row, users }): Row => ({ ...row, users: users.size }))
    .sort(
      (a, b) =>
        (b.executions as number) - (a.executions as number) ||
        compare(a.engine, b.engine) ||
        compare(a.command, b.command) ||
        compare(a.commandtext, b.commandtext),
    )
    .slice(0, limit);
}

/** Events sorted as `ORDER BY eventtime, engine`. */
export function byTime(events: readonly SourceEvent[]): SourceEvent[] {
  return [...events].sort(
    (a, b) => compare(isoOf(a.event.logTime), isoOf(b.event.logTime)) || compare(a.engine, b.engine),
  );
}

/** Binary string order with NULLs last, as Trino and DuckDB sort ascending. */
function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return 1;
  if (b === null || b === undefined) return -1;
  return String(a) < String(b) ? -1 : 1;
}
