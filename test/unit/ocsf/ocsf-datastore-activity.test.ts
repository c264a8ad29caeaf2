/**
 * DAS events of all four engines as OCSF 1.1.0 Datastore Activity rows, validated against the class
 * as the schema's own files define it (test/fixtures/ocsf-1.1.0, copied from ocsf/ocsf-schema v1.1.0).
 */
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { eventTimeOf } from "../../../src/lines/normalize-event.ts";
import {
  buildEvents,
  ENGINES,
  type Engine,
  type Event,
  seededRandom,
} from "../../../src/local/das-events.ts";
import {
  createDatastoreActivityMapper,
  type DatastoreActivity,
  MAX_STRING,
  type RecordSource,
} from "../../../src/ocsf/datastore-activity.ts";
import { type Finding, loadEventClass, schemaDirectory, validateEvent } from "../../support/ocsf-schema.ts";

const FIXTURE = fileURLToPath(new URL("../../fixtures/ocsf-1.1.0", import.meta.url));
const schema = loadEventClass(schemaDirectory(FIXTURE), "datastore_activity");
const map = createDatastoreActivityMapper({
  region: "eu-west-1",
  accountId: "123456789012",
  productVersion: "0.1.0",
});

const sourceOf = (engine: Engine): RecordSource => ({
  ...(engine.startsWith("aurora") ? { clusterId: "cluster-P74MFUJBI3PYA2N5L22YVVX3VY" } : {}),
  instanceId: "db-KBKJGYAAF5QT253EYKEI37WBCY",
  fallbackTimeMs: 0,
});

/** Generated events of one engine: 2 400 of them, with failed and successful logins among them. */
function eventsOf(engine: Engine): Event[] {
  const random = seededRandom(17);
  const timeMs = Date.UTC(2026, 10, 25, 10, 15, 42, 123);
  return Array.from({ length: 1200 }, (_, sequence) =>
    buildEvents(engine, 2, { random, timeMs, sequence }),
  ).flat();
}

function rowOf(event: Event, engine: Engine): DatastoreActivity {
  const row = map(event, sourceOf(engine));
  if (row === undefined) throw new Error("an activity record gave no row");
  return row;
}

/** Validates a JSON round trip of the row (what a reader sees), keeping errors and warnings. */
function problems(row: unknown): Finding[] {
  return validateEvent(schema, JSON.parse(JSON.stringify(row))).filter((finding) => finding.level !== "note");
}

describe("the class compiled from the OCSF v1.1.0 files", () => {
  test("is Datastore Activity 6005 in category 6, with the requirements its files give", () => {
    expect(schema.uid).toBe(6005);
    expect(schema.attributes.category_uid?.enum).toEqual({ "6": { caption: "Application Activity" } });
    const required = Object.entries(schema.attributes)
      .filter(([, attribute]) => attribute.requirement === "required")
      .map(([name, attribute]) =>
        attribute.profile === undefined ? name : `${name} (${attribute.profile})`,
      );
    // From base_event (metadata, severity_id), its includes (classification, occurrence), the cloud
    // profile, and the class itself (actor, src_endpoint).
    expect(required.sort()).toEqual(
      [
        "activity_id",
        "actor",
        "category_uid",
        "class_uid",
        "cloud (cloud)",
        "metadata",
        "severity_id",
        "src_endpoint",
        "time",
        "type_uid",
      ].sort(),
    );
    expect(schema.constraints.at_least_one).toEqual(["database", "databucket", "table"]);
    expect(Object.keys(schema.attributes.activity_id?.enum ?? {})).toEqual([
      "0",
      "1",
      "2",
      "3",
      "4",
      "5",
      "6",
      "7",
      "99",
    ]);
  });
});

describe.each(ENGINES)("%s events as OCSF rows", (engine) => {
  const events = eventsOf(engine);

  test("every row is valid against the schema: no error, no warning", () => {
    const seen = new Map<string, Finding>();
    for (const event of events)
      for (const finding of problems(rowOf(event, engine))) seen.set(finding.code + finding.path, finding);
    expect([...seen.values()]).toEqual([]);
  });

  test("a failed login is a Connect that failed, a successful one a Connect that did not", () => {
    const logins = events.map((event) => rowOf(event, engine)).filter((row) => row.activity_id === 3);
    const failed = logins.filter((row) => row.status_id === 2);
    expect(failed.length).toBeGreaterThan(10);
    expect(logins.length - failed.length).toBeGreaterThan(10);
    for (const row of failed) expect(row.status).toBe("Failure");
    for (const row of logins) if (row.status_id !== 2) expect(row.status_id).toBe(1);
  });

  test("time is the event's UTC time in epoch milliseconds; the engine's text stays in metadata", () => {
    for (const event of events.slice(0, 50)) {
      const row = rowOf(event, engine);
      expect(row.time).toBe(Date.parse(eventTimeOf(event) ?? "none"));
      expect(row.time).toBe(Date.UTC(2026, 10, 25, 10, 15, 42, 123));
      expect(row.metadata.original_time).toBe(event.logTime);
    }
  });

  test("every member of the event is in the row or in unmapped, except nulls and blanks", () => {
    for (const event of events.slice(0, 200)) {
      const row = rowOf(event, engine);
      const text = JSON.stringify(row);
      for (const [key, value] of Object.entries(event)) {
        if (value === null || value === "" || key === "type" || (Array.isArray(value) && value.length === 0))
          continue;
        const shown = typeof value === "string" ? value : JSON.stringify(value);
        expect(text.includes(JSON.stringify(shown).slice(1, -1)), `${key} is kept`).toBe(true);
      }
    }
  });

  test("a heartbeat gives no row", () => {
    expect(map({ type: "heartbeat" }, sourceOf(engine))).toBeUndefined();
  });
});

describe("one row, field by field", () => {
  // The real decrypted Aurora PostgreSQL 13.4 event of das-format.md §6: a wrong password.
  const wrongPassword: Event = {
    logTime: "2022-03-27 13:05:16.607273+00",
    statementId: 2,
    substatementId: 1,
    objectType: null,
    command: "ERROR",
    objectName: null,
    databaseName: "test",
    dbUserName: "postgres",
    remoteHost: "172.31.20.245",
    remotePort: "52864",
    sessionId: "6240610c.1dda",
    rowCount: null,
    commandText: null,
    paramList: [],
    pid: 7642,
    clientApplication: "",
    exitCode: "28P01",
    class: "MISC",
    serverVersion: "13.4.1",
    serverType: "PostgreSQL",
    serviceName: "Amazon Aurora PostgreSQL-Compatible edition",
    serverHost: "172.31.34.221",
    netProtocol: "TCP",
    dbProtocol: "Postgres 3.0",
    type: "record",
    startTime: "2022-03-27 13:05:16.607269+00",
    errorMessage: 'password authentication failed for user "postgres"',
  };

  test("the real PostgreSQL wrong-password event maps member by member", () => {
    const row = rowOf(wrongPassword, "aurora-postgresql");
    expect(problems(row)).toEqual([]);
    expect(row).toMatchObject({
      activity_id: 3,
      activity_name: "Connect",
      type_uid: 600503,
      type_name: "Datastore Activity: Connect",
      status_id: 2,
      status: "Failure",
      status_code: "28P01",
      time: Date.UTC(2022, 2, 27, 13, 5, 16, 607),
      start_time: Date.UTC(2022, 2, 27, 13, 5, 16, 607),
      metadata: {
        version: "1.1.0",
        product: { name: "das-decrypt", feature: { name: "aurora-postgresql", version: "13.4.1" } },
        event_code: "ERROR",
        original_time: "2022-03-27 13:05:16.607273+00",
        log_name: "aws-rds-das-cluster-P74MFUJBI3PYA2N5L22YVVX3VY",
      },
      cloud: { provider: "AWS", region: "eu-west-1", account: { uid: "123456789012" } },
      actor: { user: { name: "postgres" }, session: { uid: "6240610c.1dda" } },
      src_endpoint: { ip: "172.31.20.245", port: 52864 },
      dst_endpoint: { ip: "172.31.34.221", instance_uid: "db-KBKJGYAAF5QT253EYKEI37WBCY" },
      database: { name: "test", uid: "cluster-P74MFUJBI3PYA2N5L22YVVX3VY", type_id: 1 },
    });
    expect(row.status_detail).toBe(wrongPassword.errorMessage);
    expect(row.query_info).toBeUndefined();
    expect(row.unmapped).toEqual({
      statementId: "2",
      substatementId: "1",
      pid: "7642",
      // A blank string of a member with no OCSF home stays as RDS wrote it.
      clientApplication: "",
      class: "MISC",
      serverType: "PostgreSQL",
      netProtocol: "TCP",
      dbProtocol: "Postgres 3.0",
    });
  });

  test("empty hosts (AWS's own CONNECT sample) still give a valid source endpoint", () => {
    const row = rowOf(
      { ...wrongPassword, command: "CONNECT", exitCode: null, remoteHost: "", serverHost: "" },
      "aurora-postgresql",
    );
    expect(problems(row)).toEqual([]);
    expect(row.src_endpoint).toEqual({ name: "unknown", port: 52864 });
    expect(row).toMatchObject({ activity_id: 3, status_id: 1 });
  });

  test("SQL longer than an OCSF string is cut in query_info and kept whole in unmapped", () => {
    const commandText = `SELECT '${"x".repeat(MAX_STRING)}'`;
    const row = rowOf(
      { ...wrongPassword, command: "SELECT", exitCode: null, commandText },
      "aurora-postgresql",
    );
    expect(problems(row)).toEqual([]);
    expect(row.query_info?.query_string.length).toBe(MAX_STRING);
    expect(row.unmapped?.commandText).toBe(commandText);
  });

  test("members RDS may add later pass through in unmapped, as text", () => {
    const row = rowOf({ ...wrongPassword, newField: { a: 1 }, newFlag: true }, "aurora-postgresql");
    expect(row.unmapped).toMatchObject({ newField: '{"a":1}', newFlag: "true" });
    expect(problems(row)).toEqual([]);
  });

  test("an event with no readable time takes the record's fallback time", () => {
    const row = map({ ...wrongPassword, logTime: "yesterday", startTime: null }, { fallbackTimeMs: 42 });
    expect(row?.time).toBe(42);
    expect(row?.unmapped?.logTime).toBe("yesterday");
    expect(problems(row)).toEqual([]);
  });
});

describe("the validator rejects what OCSF 1.1 does not allow", () => {
  const good = rowOf(eventsOf("aurora-mysql")[0] as Event, "aurora-mysql");
  const broken = (change: (row: Record<string, unknown>) => void): Finding[] => {
    const row = JSON.parse(JSON.stringify(good)) as Record<string, unknown>;
    change(row);
    return problems(row);
  };
  const at = (object: unknown, key: string) => (object as Record<string, Record<string, unknown>>)[key] ?? {};

  test("the unbroken row is valid", () => {
    expect(problems(good)).toEqual([]);
  });

  test.each([
    [
      "a missing required attribute",
      (r: Record<string, unknown>) => delete r.actor,
      "attribute_required_missing",
      "actor",
    ],
    [
      "a missing required nested attribute",
      (r: Record<string, unknown>) => delete at(at(r, "metadata"), "product").vendor_name,
      "attribute_required_missing",
      "metadata.product.vendor_name",
    ],
    [
      "a wrong type",
      (r: Record<string, unknown>) => (r.time = "2026-11-25T10:00:00Z"),
      "attribute_wrong_type",
      "time",
    ],
    [
      "a wrong nested type",
      (r: Record<string, unknown>) => (at(r, "src_endpoint").port = "40000"),
      "attribute_wrong_type",
      "src_endpoint.port",
    ],
    [
      "an unknown attribute",
      (r: Record<string, unknown>) => (r.engine = "aurora-mysql"),
      "attribute_unknown",
      "engine",
    ],
    [
      "an unknown nested attribute",
      (r: Record<string, unknown>) => (at(at(r, "actor"), "user").host = "x"),
      "attribute_unknown",
      "actor.user.host",
    ],
    [
      "an activity outside the enum",
      (r: Record<string, unknown>) => (r.activity_id = 8),
      "attribute_enum_value_unknown",
      "activity_id",
    ],
    [
      "a type_uid that does not match",
      (r: Record<string, unknown>) => (r.type_uid = 600504),
      "type_uid_incorrect",
      "type_uid",
    ],
    [
      "a port out of range",
      (r: Record<string, unknown>) => (at(r, "src_endpoint").port = 70000),
      "attribute_value_exceeds_range",
      "src_endpoint.port",
    ],
    [
      "no database, databucket or table",
      (r: Record<string, unknown>) => {
        delete r.database;
        delete r.table;
      },
      "constraint_failed",
      "",
    ],
    [
      "the cloud profile without cloud",
      (r: Record<string, unknown>) => delete r.cloud,
      "attribute_required_missing",
      "cloud",
    ],
    [
      "a profile the class does not have",
      (r: Record<string, unknown>) => (at(r, "metadata").profiles = ["host"]),
      "profile_unknown",
      "metadata.profiles[0]",
    ],
  ])("%s", (_, change, code, path) => {
    expect(broken(change)).toContainEqual({ level: "error", code, path });
  });

  test("a caption that does not match its id is a warning", () => {
    expect(broken((r) => (r.type_name = "Datastore Activity: Delete"))).toEqual([
      { level: "warning", code: "attribute_enum_sibling_incorrect", path: "type_name" },
    ]);
  });

  test("anything goes inside unmapped, and cloud is optional without the cloud profile", () => {
    expect(broken((r) => (r.unmapped = { nested: { deep: [1, { x: null }] } }))).toEqual([]);
    expect(
      broken((r) => {
        delete r.cloud;
        at(r, "metadata").profiles = [];
      }),
    ).toEqual([]);
  });
});

describe("rows share what repeats, and only that", () => {
  test("each of 2,400 events per engine, mapped one after another by one mapper, gives the row a new mapper gives it", () => {
    for (const engine of ENGINES) {
      const events = eventsOf(engine);
      const rows = events.map((event) => rowOf(event, engine));
      events.forEach((event, index) => {
        const alone = createDatastoreActivityMapper({
          region: "eu-west-1",
          accountId: "123456789012",
          productVersion: "0.1.0",
        })(event, sourceOf(engine));
        expect(rows[index]).toEqual(alone);
      });
      // The generated events repeat their users and hosts: their sub-objects are the same objects.
      const users = new Set(rows.map((row) => row.actor.user.name));
      expect(new Set(rows.map((row) => row.actor.user)).size).toBeLessThan(rows.length);
      expect(users.size).toBeGreaterThan(1);
    }
  });

  test("two events that differ only in a shared member get different sub-objects", () => {
    const [event] = eventsOf("aurora-postgresql").filter((e) => e.type === "record" && e.remotePort !== null);
    const base = event as Event;
    const source = sourceOf("aurora-postgresql");
    for (const [member, value, path] of [
      ["dbUserName", "someone_else", ["actor", "user", "name"]],
      ["sessionId", "65a1b2c3.99", ["actor", "session", "uid"]],
      ["remoteHost", "10.9.9.9", ["src_endpoint", "ip"]],
      ["remotePort", "1", ["src_endpoint", "port"]],
      ["serverHost", "10.8.8.8", ["dst_endpoint", "ip"]],
      ["databaseName", "other_db", ["database", "name"]],
      ["objectName", "other_table", ["table", "name"]],
      ["serverVersion", "99.1", ["metadata", "product", "feature", "version"]],
    ] as const) {
      const first = map(base, source) as unknown as Record<string, unknown>;
      const second = map({ ...base, [member]: value }, source) as unknown as Record<string, unknown>;
      const read = (row: unknown) =>
        path.reduce<unknown>((at, key) => (at as Record<string, unknown>)?.[key], row);
      expect(read(second), member).toBe(member === "remotePort" ? 1 : value);
      expect(read(first), member).not.toBe(read(second));
    }
  });

  test('an absent member and one that reads "undefined" are not the same sub-object', () => {
    const [event] = eventsOf("aurora-postgresql").filter((e) => e.type === "record");
    const source = sourceOf("aurora-postgresql");
    const mapper = createDatastoreActivityMapper();
    const absent = mapper({ ...event, dbUserName: null, remoteHost: null, databaseName: null }, source);
    const named = mapper(
      { ...event, dbUserName: "undefined", remoteHost: "undefined", databaseName: "undefined" },
      source,
    );
    expect(absent?.actor.user.name).toBe("unknown");
    expect(absent?.src_endpoint.name).toBe("unknown");
    expect(named?.actor.user.name).toBe("undefined");
    expect(named?.src_endpoint.hostname).toBe("undefined");
    expect(named?.database.name).toBe("undefined");
  });

  test("a shared sub-object cannot be changed through a row", () => {
    const [a, b] = eventsOf("aurora-mysql")
      .filter((e) => e.type === "record")
      .map((event) => rowOf(event, "aurora-mysql"));
    expect(Object.isFrozen(a?.cloud)).toBe(true);
    expect(Object.isFrozen(a?.metadata.product.feature)).toBe(true);
    expect(() => {
      (a as DatastoreActivity).src_endpoint.port = 1;
    }).toThrow(TypeError);
    expect(b?.metadata.product).toBe(a?.metadata.product);
  });
});
