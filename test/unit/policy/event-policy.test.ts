import { createHmac } from "node:crypto";
import { describe, expect, test } from "vitest";
import { loadConfig } from "../../../src/config/config.ts";
import { ConfigError } from "../../../src/config/errors.ts";
import { recordLines } from "../../../src/lines/format-lines.ts";
import {
  type EventPolicy,
  exclusionOf,
  isPolicyActive,
  NO_POLICY,
  redactEvent,
} from "../../../src/policy/event-policy.ts";

const policy = (changes: Partial<EventPolicy>): EventPolicy => ({ ...NO_POLICY, ...changes });
const BASE = { DAS_RESOURCE_ID: "cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ" };

describe("filters: exact, case-insensitive matches on dbUserName, databaseName and command", () => {
  const p = policy({
    excludeUsers: ["rdsadmin"],
    excludeDatabases: ["rdsadmin_db"],
    excludeCommands: ["select"],
  });
  test.each([
    [{ dbUserName: "RDSADMIN" }, "user"],
    [{ dbUserName: "rdsadmin2" }, undefined],
    [{ databaseName: "RdsAdmin_DB" }, "database"],
    [{ command: "SELECT" }, "command"],
    [{ command: "SELECT INTO" }, undefined],
    [{ dbUserName: 7, command: null }, undefined],
    [{ dbUserName: "rdsadmin", command: "select" }, "user"],
  ])("%j → %s", (event, reason) => {
    expect(exclusionOf(event, p)).toBe(reason);
  });
});

describe("redaction", () => {
  test("REDACT_PARAMS=drop removes paramList, whatever its value; keep leaves it", () => {
    for (const value of [["a@b.c"], [], null]) {
      const event: Record<string, unknown> = { paramList: value, command: "SELECT" };
      expect(redactEvent(event, policy({ redactParams: "drop" }))).toBe(true);
      expect(event).toEqual({ command: "SELECT" });
    }
    const kept = { paramList: ["x"] };
    expect(redactEvent(kept, NO_POLICY)).toBe(false);
    expect(kept).toEqual({ paramList: ["x"] });
  });

  test("REDACT_PARAMS=hash replaces each bind value by its HMAC-SHA-256 (hex); null stays null; equal values hash alike", () => {
    const key = new Uint8Array(32).fill(7);
    const p = policy({ redactParams: "hash", paramHashKey: key });
    const event: Record<string, unknown> = { paramList: ["a@b.c", 42, null, "a@b.c"] };
    expect(redactEvent(event, p)).toBe(true);
    const expected = (text: string) => createHmac("sha256", key).update(text).digest("hex");
    expect(event.paramList).toEqual([expected("a@b.c"), expected("42"), null, expected("a@b.c")]);
    expect(redactEvent({ paramList: [] }, p)).toBe(false);
    expect(redactEvent({ paramList: null }, p)).toBe(false);
  });

  test("REDACT_FIELDS removes fields by name, from the event and from engineNativeAuditFields", () => {
    const event = {
      remoteHost: "10.0.0.1",
      commandText: "SELECT 1",
      engineNativeAuditFields: { remoteHost: "10.0.0.1", STATEMENT: "x", KEEP: 1 },
    };
    expect(redactEvent(event, policy({ redactFields: ["remoteHost", "STATEMENT"] }))).toBe(true);
    expect(event).toEqual({ commandText: "SELECT 1", engineNativeAuditFields: { KEEP: 1 } });
    expect(redactEvent({ other: 1 }, policy({ redactFields: ["remoteHost"] }))).toBe(false);
  });

  test("the formatter counts filtered events by reason and redacted events, and writes the rest", () => {
    const record = {
      instanceId: "db-1",
      databaseActivityEventList: [
        { type: "record", dbUserName: "rdsadmin", command: "SELECT" },
        { type: "record", dbUserName: "app", command: "DELETE", paramList: ["secret"] },
        { type: "record", dbUserName: "app", command: "SELECT", paramList: ["secret"] },
        { type: "heartbeat" },
      ],
    };
    const counts = { events: 0, heartbeatsDropped: 0 };
    const options = {
      format: "events" as const,
      includeHeartbeats: false,
      policy: policy({ excludeUsers: ["rdsadmin"], excludeCommands: ["delete"], redactParams: "drop" }),
    };
    const lines = recordLines(JSON.stringify(record), structuredClone(record), options, counts);
    expect(lines).toBe('{"type":"record","dbUserName":"app","command":"SELECT","instanceId":"db-1"}\n');
    expect(counts).toEqual({
      events: 1,
      heartbeatsDropped: 1,
      filtered: { user: 1, database: 0, command: 1 },
      redacted: 1,
    });
  });

  test("an empty policy is inactive (lines may come straight from the record's bytes)", () => {
    expect(isPolicyActive(NO_POLICY)).toBe(false);
    expect(isPolicyActive(policy({ redactParams: "drop" }))).toBe(true);
    expect(isPolicyActive(policy({ redactFields: ["x"] }))).toBe(true);
  });
});

describe("configuration", () => {
  test("lists are trimmed, empty entries ignored, matches lower-cased; field names kept as written", () => {
    const { eventPolicy } = loadConfig({
      ...BASE,
      EXCLUDE_USERS: " RDSADMIN, rdsproxyadmin ,,",
      EXCLUDE_DATABASES: "Tmp",
      EXCLUDE_COMMANDS: "SELECT",
      REDACT_PARAMS: "DROP",
      REDACT_FIELDS: "remoteHost, STATEMENT",
    });
    expect(eventPolicy).toEqual({
      excludeUsers: ["rdsadmin", "rdsproxyadmin"],
      excludeDatabases: ["tmp"],
      excludeCommands: ["select"],
      redactParams: "drop",
      redactSqlLiterals: false,
      redactFields: ["remoteHost", "STATEMENT"],
    });
    expect(loadConfig(BASE).eventPolicy).toEqual(NO_POLICY);
  });

  test.each([
    [{ REDACT_PARAMS: "hash" }, /PARAM_HASH_KEY_ID is required with REDACT_PARAMS=hash/],
    [{ REDACT_PARAMS: "scramble" }, /REDACT_PARAMS.*keep, drop, hash/],
    [{ REDACT_FIELDS: "remote-host" }, /REDACT_FIELDS.*remote-host/],
  ])("%j is refused, naming the variable", (env, message) => {
    expect(() => loadConfig({ ...BASE, ...env })).toThrow(ConfigError);
    expect(() => loadConfig({ ...BASE, ...env })).toThrow(message);
  });
});
