import { describe, expect, test } from "vitest";
import { recordLines } from "../../../src/lines/format-lines.ts";
import {
  engineOf,
  eventTimeOf,
  normalizedFields,
  normalizedMembers,
  toUtcIsoTime,
} from "../../../src/lines/normalize-event.ts";
import { buildEvents, ENGINES, seededRandom } from "../../../src/local/das-events.ts";

describe("toUtcIsoTime turns every engine's time format into fixed-width ISO-8601 UTC", () => {
  test.each([
    ["Aurora PostgreSQL, +00", "2022-03-27 13:05:16.607273+00", "2022-03-27T13:05:16.607273Z"],
    ["Aurora MySQL, +00", "2026-11-18 22:31:02.004100+00", "2026-11-18T22:31:02.004100Z"],
    ["Oracle, no zone (UTC)", "2021-12-28 17:03:35.000000", "2021-12-28T17:03:35.000000Z"],
    [
      "SQL Server, 7 fractional digits cut to 6",
      "2022-10-06 21:24:59.9422268+00",
      "2022-10-06T21:24:59.942226Z",
    ],
    ["no fraction", "2022-10-06 21:24:59+00", "2022-10-06T21:24:59.000000Z"],
    ["3 fractional digits padded", "2022-10-06 21:24:59.5+00", "2022-10-06T21:24:59.500000Z"],
    ["ISO with T and Z", "2022-10-06T21:24:59.123Z", "2022-10-06T21:24:59.123000Z"],
    ["positive offset hh:mm", "2022-10-07 02:54:59.1+05:30", "2022-10-06T21:24:59.100000Z"],
    [
      "negative offset hhmm, crossing midnight",
      "2022-10-06 20:00:00.000001-0500",
      "2022-10-07T01:00:00.000001Z",
    ],
    ["negative offset, crossing a year", "2021-12-31 23:30:00-01", "2022-01-01T00:30:00.000000Z"],
    ["leap day", "2024-02-29 00:00:00+00", "2024-02-29T00:00:00.000000Z"],
    ["offset +0000 and a comma", "2024-02-29 00:00:00,25+0000", "2024-02-29T00:00:00.250000Z"],
    ["offset -00:00", "2024-02-29 00:00:00-00:00", "2024-02-29T00:00:00.000000Z"],
    ["surrounding spaces", "  2024-02-29 00:00:00+00 ", "2024-02-29T00:00:00.000000Z"],
  ])("%s", (_name, input, expected) => {
    expect(toUtcIsoTime(input)).toBe(expected);
  });

  test.each([
    ["not a string", 1_700_000_000_000],
    ["null", null],
    ["empty", ""],
    ["date only", "2022-10-06"],
    ["month 13", "2022-13-06 21:24:59+00"],
    ["February 30", "2022-02-30 21:24:59+00"],
    ["hour 24", "2022-10-06 24:00:00+00"],
    ["offset hour 24", "2022-10-06 21:24:59+24"],
    ["text after the zone", "2022-10-06 21:24:59+00 UTC"],
    ["two-digit year", "22-10-06 21:24:59+00"],
    ["a comma and no digits", "2022-10-06 21:24:59,+00"],
    ["13 fractional digits", "2022-10-06 21:24:59.1234567890123+00"],
    ["a letter in the time", "2022-10-06 21:2a:59+00"],
    ["a slash in the date", "2022/10/06 21:24:59+00"],
    ["a one-digit offset", "2022-10-06 21:24:59+5"],
    ["an offset with a dash", "2022-10-06 21:24:59+05-30"],
    ["an offset of 60 minutes", "2022-10-06 21:24:59+05:60"],
    ["a zone name", "2022-10-06 21:24:59 UTC"],
  ])("gives undefined for %s", (_name, input) => {
    expect(toUtcIsoTime(input)).toBeUndefined();
  });
});

test("toUtcIsoTime: the same second in other zones, with other fractions, in any order", () => {
  const inputs = [
    ["2022-10-06 21:24:59.1+00", "2022-10-06T21:24:59.100000Z"],
    ["2022-10-06 21:24:59.2+01", "2022-10-06T20:24:59.200000Z"],
    ["2022-10-06 21:24:59.3+00", "2022-10-06T21:24:59.300000Z"],
    ["2022-10-06 21:24:59.4", "2022-10-06T21:24:59.400000Z"],
    ["2022-10-06 21:24:59.5+00 UTC", undefined],
    ["2022-10-06 21:24:59.6+00", "2022-10-06T21:24:59.600000Z"],
  ] as const;
  for (const [input, expected] of [...inputs, ...[...inputs].reverse()])
    expect(toUtcIsoTime(input)).toBe(expected);
});

describe("eventTimeOf", () => {
  test("prefers logTime, falls back to startTime, else undefined", () => {
    expect(eventTimeOf({ logTime: "2022-01-01 00:00:01+00", startTime: "2022-01-01 00:00:00+00" })).toBe(
      "2022-01-01T00:00:01.000000Z",
    );
    expect(eventTimeOf({ logTime: null, startTime: "2022-01-01 00:00:00+00" })).toBe(
      "2022-01-01T00:00:00.000000Z",
    );
    expect(eventTimeOf({ type: "heartbeat" })).toBeUndefined();
  });
});

describe("engineOf", () => {
  test.each([
    ["PostgreSQL", "aurora-postgresql"],
    ["MySQL", "aurora-mysql"],
    ["oracle", "oracle"],
    ["ORACLE", "oracle"],
    ["SQLSERVER", "sqlserver"],
    ["SQL Server", "sqlserver"],
  ])("serverType %s is %s", (serverType, engine) => {
    expect(engineOf({ serverType })).toBe(engine);
  });

  test("undefined for heartbeats, unknown engines and non-strings", () => {
    expect(engineOf({ type: "heartbeat" })).toBeUndefined();
    expect(engineOf({ serverType: "DB2" })).toBeUndefined();
    expect(engineOf({ serverType: 5 })).toBeUndefined();
  });
});

describe("normalizedFields on generated events of every engine", () => {
  test.each(ENGINES)("%s: engine and event time (from the generator's own clock)", (engine) => {
    const timeMs = Date.UTC(2026, 10, 18, 22, 30, 5, 123);
    const events = buildEvents(engine, 6, { random: seededRandom(7), timeMs, sequence: 41 });
    for (const event of events) expect(normalizedFields(event).engine).toBe(engine);
    // The generator writes the milliseconds, then sequence % 1000 as the microsecond digits
    // (Aurora MySQL may reverse the order of one record's events, hence the sorting).
    const expected = [41, 42, 43, 44, 45, 46].map(
      (sequence) => `2026-11-18T22:30:05.123${String(sequence).padStart(3, "0")}Z`,
    );
    expect(events.map((event) => normalizedFields(event).eventTime).sort()).toEqual(expected);
  });
});

describe("normalizedFields never overwrites or duplicates the event's own fields", () => {
  test("an event that has eventTime or engine keeps them and gets only the other", () => {
    const event = { logTime: "2022-01-01 00:00:00+00", serverType: "MySQL", engine: "mine" };
    expect(normalizedFields(event)).toEqual({ eventTime: "2022-01-01T00:00:00.000000Z" });
    expect(normalizedMembers({ ...event, eventTime: 1 })).toBe("");
  });

  test("members are valid JSON to append inside an object", () => {
    const members = normalizedMembers({ logTime: "2022-01-01 00:00:00+00", serverType: "oracle" });
    expect(JSON.parse(`{"a":1${members}}`)).toEqual({
      a: 1,
      eventTime: "2022-01-01T00:00:00.000000Z",
      engine: "oracle",
    });
  });
});

describe("recordLines writes the normalized members after the origin members", () => {
  test("an Aurora PostgreSQL event line ends with clusterId, instanceId, eventTime, engine", async () => {
    const event = { logTime: "2022-03-27 13:05:16.607273+00", serverType: "PostgreSQL", command: "SELECT" };
    const inner = {
      clusterId: "cluster-A",
      instanceId: "db-B",
      databaseActivityEventList: [event, { type: "heartbeat" }],
    };
    const counts = { events: 0, heartbeatsDropped: 0 };
    const options = { format: "events", includeHeartbeats: true } as const;
    expect(recordLines(JSON.stringify(inner), inner, options, counts)).toBe(
      '{"logTime":"2022-03-27 13:05:16.607273+00","serverType":"PostgreSQL","command":"SELECT",' +
        '"clusterId":"cluster-A","instanceId":"db-B","eventTime":"2022-03-27T13:05:16.607273Z","engine":"aurora-postgresql"}\n' +
        '{"type":"heartbeat","clusterId":"cluster-A","instanceId":"db-B"}\n',
    );
  });
});
