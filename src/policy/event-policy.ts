import { createHmac, createSecretKey, type KeyObject } from "node:crypto";
import { engineOf } from "../lines/normalize-event.ts";
import { redactSqlLiterals, UNREADABLE_SQL } from "./redact-sql.ts";

/** An activity event as RDS wrote it; every field passes through untouched. */
export type ActivityEvent = Record<string, unknown>;

/**
 * Which events are written and what of them: noise filters and redaction, applied to every event
 * before it becomes a line, in both output formats. Plain data, so it crosses to decryption
 * workers with the line options. Lists are lower-cased once, at configuration.
 */
export interface EventPolicy {
  /** `dbUserName` values (lower case) whose events are dropped. */
  readonly excludeUsers: readonly string[];
  /** `databaseName` values (lower case) whose events are dropped. */
  readonly excludeDatabases: readonly string[];
  /** `command` values (lower case) whose events are dropped. */
  readonly excludeCommands: readonly string[];
  /**
   * Bind values (`paramList`): kept as they are, removed, or each replaced by its keyed hash
   * (HMAC-SHA-256, hex), so equal values stay joinable without being readable.
   */
  readonly redactParams: "keep" | "drop" | "hash";
  /** The HMAC key of `hash`: derived at cold start from KMS (`param-hash-key.ts`), never configured. */
  readonly paramHashKey?: Uint8Array;
  /** Event fields removed by name, also from the members of `engineNativeAuditFields`. */
  readonly redactFields: readonly string[];
  /**
   * Literals in `commandText` replaced by `?` and comments removed, by the engine's lexical rules
   * (`redact-sql.ts`); a statement the lexer cannot read is replaced whole by {@link UNREADABLE_SQL}.
   */
  readonly redactSqlLiterals: boolean;
}

/** Why an event was filtered out; counted per reason. */
export type FilterReason = "user" | "database" | "command";
export const FILTER_REASONS: readonly FilterReason[] = ["user", "database", "command"];

/** A count of zero for every filter reason, to add to. */
export function noneFiltered(): Record<FilterReason, number> {
  return { user: 0, database: 0, command: 0 };
}

export const NO_POLICY: EventPolicy = Object.freeze({
  excludeUsers: [],
  excludeDatabases: [],
  excludeCommands: [],
  redactParams: "keep",
  redactFields: [],
  redactSqlLiterals: false,
});

/** Whether the policy changes anything: if not, lines may be written straight from the record's bytes. */
export function isPolicyActive(policy: EventPolicy): boolean {
  return (
    policy.excludeUsers.length > 0 ||
    policy.excludeDatabases.length > 0 ||
    policy.excludeCommands.length > 0 ||
    policy.redactParams !== "keep" ||
    policy.redactFields.length > 0 ||
    policy.redactSqlLiterals
  );
}

/** The filter that drops the event (case-insensitive, exact), or `undefined` when it is kept. */
export function exclusionOf(event: ActivityEvent, policy: EventPolicy): FilterReason | undefined {
  if (matches(event.dbUserName, policy.excludeUsers)) return "user";
  if (matches(event.databaseName, policy.excludeDatabases)) return "database";
  if (matches(event.command, policy.excludeCommands)) return "command";
  return undefined;
}

/**
 * Removes what the policy redacts from the event, in place.
 * @returns whether anything was removed.
 */
export function redactEvent(event: ActivityEvent, policy: EventPolicy): boolean {
  let changed = false;
  if (policy.redactParams !== "keep" && "paramList" in event) {
    const params = redactedParams(event.paramList, policy);
    if (params !== event.paramList) {
      if (params === DROP) delete event.paramList;
      else event.paramList = params;
      changed = true;
    }
  }
  if (policy.redactSqlLiterals) {
    const text = redactedStatement(event.commandText, engineOf(event));
    if (text !== event.commandText) {
      event.commandText = text;
      changed = true;
    }
  }
  if (policy.redactFields.length === 0) return changed;
  const native = event.engineNativeAuditFields;
  if (typeof native === "object" && native !== null && !Array.isArray(native)) {
    if (redactNativeFields(native as Record<string, unknown>, policy)) changed = true;
  }
  for (const name of policy.redactFields) {
    if (Object.hasOwn(event, name)) {
      delete event[name];
      changed = true;
    }
  }
  return changed;
}

/** What {@link redactedParams} gives for a `paramList` that is removed. */
export const DROP = Symbol("drop");

/**
 * A `paramList` value as the policy writes it: {@link DROP} (`drop`), a new array of keyed hashes
 * (`hash`, a non-empty array), or the value itself when nothing changes.
 */
export function redactedParams(value: unknown, policy: EventPolicy): unknown {
  if (policy.redactParams === "drop") return DROP;
  if (policy.redactParams !== "hash" || !Array.isArray(value) || value.length === 0) return value;
  const key = policy.paramHashKey;
  if (key === undefined) throw new Error("REDACT_PARAMS=hash without its key");
  return value.map((item: unknown) => hashParam(item, key));
}

/** A `commandText` value with its literals redacted; anything but a non-empty string is left as it is. */
export function redactedStatement(value: unknown, engine: ReturnType<typeof engineOf>): unknown {
  if (typeof value !== "string" || value === "") return value;
  return redactSqlLiterals(value, engine);
}

/** Whether the statement was replaced whole, because its text could not be read. */
export function isUnreadableStatement(value: unknown): boolean {
  return value === UNREADABLE_SQL;
}

/**
 * Removes the redacted fields from an `engineNativeAuditFields` object, in place.
 * @returns whether any was there.
 */
export function redactNativeFields(native: Record<string, unknown>, policy: EventPolicy): boolean {
  let changed = false;
  for (const name of policy.redactFields) {
    if (Object.hasOwn(native, name)) {
      delete native[name];
      changed = true;
    }
  }
  return changed;
}

/**
 * A bind value's keyed hash: HMAC-SHA-256 of its text (a string as is, anything else as JSON), in
 * hex. `null` stays `null`: it holds nothing to hide and says the value was absent.
 */
function hashParam(value: unknown, key: Uint8Array): string | null {
  if (value === null) return null;
  const text = typeof value === "string" ? value : JSON.stringify(value);
  const hasher = hasherOf(key);
  let hash = hasher.recent.get(text);
  if (hash === undefined) {
    hash = createHmac("sha256", hasher.key).update(text, "utf8").digest("hex");
    // Bind values repeat (ids, states, the same user's address): the recent ones are not hashed again.
    if (hasher.recent.size >= RECENT_HASHES) hasher.recent.clear();
    hasher.recent.set(text, hash);
  }
  return hash;
}

/** Bind values whose hashes are kept, per key; past this many the table starts again. */
const RECENT_HASHES = 4096;
const hashers = new WeakMap<Uint8Array, { key: KeyObject; recent: Map<string, string> }>();

/** The key as a KeyObject (made once, not for every value) and its recent hashes. */
function hasherOf(key: Uint8Array) {
  let hasher = hashers.get(key);
  if (hasher === undefined) {
    hasher = { key: createSecretKey(key), recent: new Map() };
    hashers.set(key, hasher);
  }
  return hasher;
}

function matches(value: unknown, list: readonly string[]): boolean {
  return list.length > 0 && typeof value === "string" && list.includes(value.toLowerCase());
}
