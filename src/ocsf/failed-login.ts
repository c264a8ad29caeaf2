import type { EngineName } from "../lines/normalize-event.ts";

/**
 * Is this event a failed login? The rule of the saved Athena query `failed-logins-by-user-and-host`
 * (resources/athena.yml), member for member, so a count over OCSF rows equals the query's count over
 * the NDJSON output:
 * - Aurora PostgreSQL: `exitCode` `28P01` (wrong password) or `28000` (no pg_hba entry / no role);
 * - Aurora MySQL: `command` `FAILED_CONNECT`;
 * - RDS for Oracle: `command` `LOGON` with an `exitCode` other than 0 (ORA-01017 and the like);
 * - RDS for SQL Server: `command` `LOGIN FAILED`, or audit action `LGIF` in `engineNativeAuditFields`.
 * Values are compared as the query's string columns hold them (a number as its decimal text).
 */
export function isFailedLogin(
  event: Readonly<Record<string, unknown>>,
  engine: EngineName | undefined,
): boolean {
  switch (engine) {
    case "aurora-postgresql": {
      const exitCode = asColumnText(event.exitCode);
      return exitCode === "28P01" || exitCode === "28000";
    }
    case "aurora-mysql":
      return event.command === "FAILED_CONNECT";
    case "oracle": {
      const exitCode = asColumnText(event.exitCode);
      return event.command === "LOGON" && exitCode !== undefined && exitCode !== "0";
    }
    case "sqlserver": {
      const native = event.engineNativeAuditFields;
      const action =
        typeof native === "object" && native !== null ? Reflect.get(native, "action_id") : undefined;
      return event.command === "LOGIN FAILED" || asColumnText(action) === "LGIF";
    }
    default:
      return false;
  }
}

/** A JSON scalar as a string column holds it (`undefined` for null, absent, object or array). */
export function asColumnText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return undefined;
}
