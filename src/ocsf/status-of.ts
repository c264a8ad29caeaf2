import type { EngineName } from "../lines/normalize-event.ts";
import { ACTIVITY, type ActivityId } from "./activity-of.ts";
import { asColumnText, isFailedLogin } from "./failed-login.ts";

/** OCSF `status_id` values (base event). */
export const STATUS = { Unknown: 0, Success: 1, Failure: 2 } as const;
export type StatusName = keyof typeof STATUS;

/**
 * Did the activity succeed, as far as the engine says (das-format.md §6)?
 * - Aurora PostgreSQL reports a failure as an `ERROR` event of its own, with the SQLSTATE in
 *   `exitCode`: classes `00`–`02` are success or warnings, any other is a failure; a statement
 *   event carries no result (Unknown), a `CONNECT` is only written once the login succeeded.
 * - Aurora MySQL: `exitCode` `0` succeeded, another code failed, `""` (AUX events) says nothing.
 * - RDS for Oracle: `exitCode` is the return code, 0 for success.
 * - RDS for SQL Server: `exitCode` is the audit's `succeeded` flag: 1 success, 0 failure.
 * A Connect fails exactly when {@link isFailedLogin} says so, so counting Connect + Failure rows gives
 * the saved query's failed-login count; a Connect whose code looks like a failure by any other rule
 * is Unknown.
 */
export function statusOf(
  event: Readonly<Record<string, unknown>>,
  engine: EngineName | undefined,
  activity: ActivityId,
): StatusName {
  if (activity === ACTIVITY.Connect) {
    if (isFailedLogin(event, engine)) return "Failure";
    const engineSays = engineStatus(event, engine);
    return engineSays === "Failure" ? "Unknown" : engineSays;
  }
  return engineStatus(event, engine);
}

function engineStatus(event: Readonly<Record<string, unknown>>, engine: EngineName | undefined): StatusName {
  const code = asColumnText(event.exitCode)?.trim() ?? "";
  switch (engine) {
    case "aurora-postgresql":
      if (event.command === "ERROR") return "Failure";
      if (code !== "") return /^0[012]/.test(code) || code === "0" ? "Success" : "Failure";
      return event.command === "CONNECT" ? "Success" : "Unknown";
    case "aurora-mysql":
    case "oracle":
      if (code === "") return "Unknown";
      return code === "0" ? "Success" : "Failure";
    case "sqlserver":
      if (code === "1" || code === "true") return "Success";
      return code === "0" || code === "false" ? "Failure" : "Unknown";
    default:
      return "Unknown";
  }
}
