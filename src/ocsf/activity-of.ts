import type { EngineName } from "../lines/normalize-event.ts";
import { isFailedLogin } from "./failed-login.ts";

/** OCSF 1.1 Datastore Activity `activity_id` values (class 6005). */
export const ACTIVITY = {
  Read: 1,
  Update: 2,
  Connect: 3,
  Query: 4,
  Write: 5,
  Create: 6,
  Delete: 7,
  Other: 99,
} as const;

export type ActivityName = keyof typeof ACTIVITY;
export type ActivityId = (typeof ACTIVITY)[ActivityName];

/**
 * The activity a statement's leading keyword stands for, the same in every engine's command names
 * (PostgreSQL command tags, MySQL statements, Oracle `ACTION_NAME`, SQL Server action names).
 * GRANT/REVOKE, transaction control, SET, VACUUM, DISCONNECT/LOGOFF/LOGOUT and the like stay Other.
 */
const BY_KEYWORD: Readonly<Record<string, ActivityName>> = {
  SELECT: "Read",
  INSERT: "Write",
  MERGE: "Write",
  REPLACE: "Write",
  UPSERT: "Write",
  LOAD: "Write",
  COPY: "Write",
  UPDATE: "Update",
  ALTER: "Update",
  RENAME: "Update",
  CREATE: "Create",
  DELETE: "Delete",
  DROP: "Delete",
  TRUNCATE: "Delete",
  CONNECT: "Connect",
  LOGON: "Connect",
  FAILED_CONNECT: "Connect",
  CHANGE_USER: "Connect",
  QUERY: "Query",
  EXPLAIN: "Query",
  SHOW: "Query",
  DESCRIBE: "Query",
  DESC: "Query",
  WITH: "Query",
  CALL: "Query",
  EXECUTE: "Query",
  EXEC: "Query",
  DO: "Query",
  FETCH: "Query",
};

/**
 * The OCSF activity of one DAS event, and the name to show for it: the caption for a mapped
 * activity, the engine's own command for Other (OCSF asks for the source's value there; none when
 * the event names no command).
 * - A failed login ({@link isFailedLogin}) is a Connect, whatever the command says (PostgreSQL
 *   reports it as `ERROR`).
 * - Aurora MySQL names every statement `QUERY`: its SQL text's first keyword decides (and names an
 *   Other), and Query is what is left when there is no text.
 * - Aurora PostgreSQL `COPY` reads or writes: its `class` (READ / WRITE) decides.
 * - SQL Server `LOGIN SUCCEEDED` / `LOGIN FAILED` are Connects; `LOGOUT` is Other.
 */
export function activityOf(
  event: Readonly<Record<string, unknown>>,
  engine: EngineName | undefined,
): { readonly id: ActivityId; readonly name?: string } {
  let command = typeof event.command === "string" ? event.command.trim() : "";
  let keyword = leadingKeyword(command);
  if (engine === "aurora-mysql" && keyword === "QUERY") {
    // The statement's own keyword is the source's name for what it did.
    const statement = leadingKeyword(event.commandText);
    if (statement !== "") [keyword, command] = [statement, statement];
  }
  let activity: ActivityName | undefined = BY_KEYWORD[keyword];
  if (keyword === "LOGIN") activity = "Connect";
  if (keyword === "COPY" && event.class === "READ") activity = "Read";
  if (isFailedLogin(event, engine)) activity = "Connect";
  if (activity !== undefined) return { id: ACTIVITY[activity], name: activity };
  return command === "" ? { id: ACTIVITY.Other } : { id: ACTIVITY.Other, name: command };
}

/** The first word of a command or SQL text, upper-cased, after blanks, `(` and comments. */
export function leadingKeyword(text: unknown): string {
  if (typeof text !== "string") return "";
  const rest = text.replace(/^(?:\s+|\(|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*/, "");
  return /^[A-Za-z_]+/.exec(rest)?.[0].toUpperCase() ?? "";
}
