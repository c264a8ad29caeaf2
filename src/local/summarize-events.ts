type Line = Record<string, unknown>;

/**
 * Is this event a failed login, whatever the engine? Aurora PostgreSQL: SQLSTATE 28P01; Aurora
 * MySQL: FAILED_CONNECT; RDS for Oracle: LOGON with ORA-01017; RDS for SQL Server: LOGIN FAILED.
 */
export function isFailedLogin(event: Line): boolean {
  const command = String(event.command ?? "");
  return (
    event.exitCode === "28P01" ||
    command === "FAILED_CONNECT" ||
    (command === "LOGON" && String(event.exitCode) === "1017") ||
    command === "LOGIN FAILED"
  );
}

function countBy(lines: Line[], keyOf: (line: Line) => string): [string, number][] {
  const counts = new Map<string, number>();
  for (const line of lines) counts.set(keyOf(line), (counts.get(keyOf(line)) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
}

function table(title: string, rows: [string, number][], limit: number): string {
  const shown = rows.slice(0, limit);
  const width = Math.max(title.length, ...shown.map(([name]) => name.length));
  const body = shown.map(([name, count]) => `  ${name.padEnd(width)}  ${String(count).padStart(6)}`);
  const more = rows.length > limit ? [`  … ${rows.length - limit} more`] : [];
  return [title, ...body, ...more].join("\n");
}

/** A short human summary of decrypted event lines: by engine, by command and user, failed logins. */
export function summarizeEvents(lines: Line[]): string {
  const failed = lines.filter(isFailedLogin);
  return [
    table(
      "events by engine",
      countBy(lines, (l) => String(l.engine ?? l.serverType ?? "?")),
      10,
    ),
    table(
      "events by command",
      countBy(lines, (l) => String(l.command ?? "?")),
      12,
    ),
    table(
      "events by user",
      countBy(lines, (l) => String(l.dbUserName ?? "?")),
      10,
    ),
    table(
      `failed logins (${failed.length}) by user @ host`,
      countBy(
        failed,
        (l) =>
          `${String(l.dbUserName ?? "?")} @ ${String(l.remoteHost ?? "?")} (${String(l.engine ?? l.serverType ?? "?")})`,
      ),
      12,
    ),
  ].join("\n\n");
}
