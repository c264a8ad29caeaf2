import { describe, expect, test } from "vitest";
import { RecordError } from "../../../src/config/errors.ts";
import { parseInner } from "../../../src/decrypt/record-decryptor.ts";
import { type LineCounts, type LineOptions, recordLines } from "../../../src/lines/format-lines.ts";
import { LineBuffer } from "../../../src/lines/line-buffer.ts";
import { sliceRecordLines } from "../../../src/lines/slice-record-lines.ts";
import { buildEvents, ENGINES, seededRandom } from "../../../src/local/das-events.ts";
import { type EventPolicy, NO_POLICY } from "../../../src/policy/event-policy.ts";

const ALL_OPTIONS: LineOptions[] = [
  { format: "events", includeHeartbeats: false },
  { format: "events", includeHeartbeats: true },
  { format: "records", includeHeartbeats: false },
];

const policy = (changes: Partial<EventPolicy>): EventPolicy => ({ ...NO_POLICY, ...changes });
const HASH_KEY = new Uint8Array(32).fill(9);
/** Policies that change events in every way, each alone and all at once. */
const POLICIES: EventPolicy[] = [
  policy({
    excludeUsers: ["alice", "rdsadmin"],
    excludeDatabases: ["postgres"],
    excludeCommands: ["delete"],
  }),
  policy({ redactParams: "drop" }),
  policy({ redactParams: "hash", paramHashKey: HASH_KEY }),
  policy({ redactSqlLiterals: true }),
  policy({ redactFields: ["remoteHost", "connection_id", "SYSTEM_PRIVILEGE_USED"] }),
  policy({ redactFields: ["type", "logTime", "serverType", "eventTime", "commandText", "paramList"] }),
  policy({
    excludeUsers: ["bob"],
    redactParams: "hash",
    paramHashKey: HASH_KEY,
    redactSqlLiterals: true,
    redactFields: ["remoteHost", "engineNativeAuditFields"],
  }),
];
const POLICY_OPTIONS: LineOptions[] = POLICIES.flatMap((p) => [
  { format: "events", includeHeartbeats: false, policy: p },
  { format: "events", includeHeartbeats: true, policy: p },
]);

/** What parsing and serializing gives (the reference): the lines, or the record's failure reason. */
function parsed(bytes: Buffer, options: LineOptions) {
  const counts: LineCounts = { events: 0, heartbeatsDropped: 0 };
  const text = bytes.toString("utf8");
  try {
    return { lines: Buffer.from(recordLines(text, parseInner(text), options, counts)), counts };
  } catch (error) {
    if (!(error instanceof RecordError)) throw error;
    return { reason: error.reason, counts };
  }
}

/**
 * Both ways on one record. When the bytes are taken, parsing must succeed with the very same bytes
 * and counts; when they are not, nothing may have been written or counted.
 */
function bothWays(input: Buffer | string, options: LineOptions): boolean {
  const bytes = typeof input === "string" ? Buffer.from(input) : input;
  const out = new LineBuffer(16);
  out.text("before|");
  const counts: LineCounts = { events: 0, heartbeatsDropped: 0 };
  const taken = sliceRecordLines(bytes, options, counts, out);
  const written = Buffer.from(out.take()).subarray("before|".length);
  const reference = parsed(bytes, options);
  if (taken) {
    expect(reference.reason).toBeUndefined();
    expect(written.toString("latin1")).toBe(reference.lines?.toString("latin1"));
    expect(counts).toEqual(reference.counts);
  } else {
    expect(written.length).toBe(0);
    expect(counts).toEqual({ events: 0, heartbeatsDropped: 0 });
  }
  return taken;
}

function inner(events: unknown[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    type: "DatabaseActivityMonitoringRecord",
    clusterId: "cluster-A",
    instanceId: "db-B",
    databaseActivityEventList: events,
    ...extra,
  });
}

describe("sliceRecordLines gives what parsing gives, on the records RDS writes", () => {
  test.each(ENGINES)("%s: every generated record is taken from its bytes, in every format", (engine) => {
    const random = seededRandom(7);
    for (let n = 0; n < 60; n += 1) {
      const events = buildEvents(engine, 1 + (n % 23), {
        random,
        timeMs: Date.UTC(2026, 10, 25, 10) + n * 997,
        sequence: n * 23,
      });
      if (n % 5 === 0) events.push({ type: "heartbeat" });
      const text = inner(events, n % 3 === 0 ? { clusterId: undefined } : {});
      for (const options of ALL_OPTIONS) expect(bothWays(text, options)).toBe(true);
    }
  });

  test("strings as JSON.stringify escapes them are taken: every control character, quotes, non-ASCII", () => {
    const every = Array.from({ length: 0x20 }, (_, c) => String.fromCharCode(c)).join("");
    const texts = [every, 'a "quoted" \\ path', "é ü 中文 🎉 \u2028\u2029 \u007f", "", "/slash/"];
    for (const value of texts) {
      const text = inner([{ type: "record", commandText: value, [value]: 1 }]);
      for (const options of ALL_OPTIONS) expect(bothWays(text, options)).toBe(true);
    }
  });

  test("values of every kind and nested objects are taken", () => {
    const event = {
      type: "record",
      logTime: "2022-03-27 13:05:16.607273+00",
      serverType: "PostgreSQL",
      exitCode: null,
      ok: true,
      no: false,
      numbers: [0, -1, 1.5, -2.25e-7, 1e21, 123456789012345, 5e-324, 1.7976931348623157e308],
      paramList: ["1", "x@example.com", []],
      engineNativeAuditFields: { A: { B: [{ C: {} }] }, __proto__x: 1 },
      empty: {},
    };
    for (const options of ALL_OPTIONS)
      expect(bothWays(inner([event, {}, { type: "heartbeat" }]), options)).toBe(true);
    expect(bothWays('{"databaseActivityEventList":[]}', ALL_OPTIONS[0] as LineOptions)).toBe(true);
    expect(bothWays(' \n{"databaseActivityEventList":[{}]}\r\n\t', ALL_OPTIONS[0] as LineOptions)).toBe(true);
    expect(
      bothWays(
        '{"databaseActivityEventList":[{}],"__proto__":{"clusterId":1}}',
        ALL_OPTIONS[0] as LineOptions,
      ),
    ).toBe(true);
  });

  test("origin members of any JSON value, in either order, or null", () => {
    const list = '"databaseActivityEventList":[{"type":"record"},{}]';
    for (const [cluster, instance] of [
      ['"c"', '"i"'],
      ["null", '"i"'],
      ['"c"', "null"],
      ["7", '{"a":[1,"b"]}'],
      ['"é\\n"', "false"],
    ]) {
      for (const options of ALL_OPTIONS) {
        expect(bothWays(`{"instanceId":${instance},${list},"clusterId":${cluster}}`, options)).toBe(true);
        expect(bothWays(`{"clusterId":${cluster},"instanceId":${instance},${list}}`, options)).toBe(true);
      }
    }
  });

  test("events that carry their own eventTime or engine, or times in other forms", () => {
    const events = [
      { type: "record", eventTime: "mine", logTime: "2022-03-27 13:05:16+00", serverType: "MySQL" },
      {
        type: "record",
        engine: null,
        logTime: 5,
        startTime: "2021-12-28 17:03:35.000000",
        serverType: "oracle",
      },
      { type: "record", logTime: "nonsense", startTime: null, serverType: 3 },
      { type: "record", logTime: "2022-03-27\t13:05:16+00", serverType: "SQL\nSERVER" },
      { type: "heartbeat", logTime: "2022-10-07 02:54:59.1+05:30" },
      { type: ["heartbeat"] },
      { type: "heartbeat\n" },
    ];
    for (const options of ALL_OPTIONS) expect(bothWays(inner(events), options)).toBe(true);
  });
});

describe("with filters and redaction, sliceRecordLines gives what parsing gives", () => {
  test.each(ENGINES)("%s: every generated record is taken from its bytes, under every policy", (engine) => {
    const random = seededRandom(11);
    let written = 0;
    for (let n = 0; n < 40; n += 1) {
      const events = buildEvents(engine, 1 + (n % 23), {
        random,
        timeMs: Date.UTC(2026, 10, 25, 10) + n * 997,
        sequence: n * 23,
      });
      if (n % 5 === 0) events.push({ type: "heartbeat" });
      const text = inner(events, n % 3 === 0 ? { clusterId: undefined } : {});
      for (const options of POLICY_OPTIONS) expect(bothWays(text, options)).toBe(true);
      const out = new LineBuffer(16);
      sliceRecordLines(
        Buffer.from(text),
        POLICY_OPTIONS[0] as LineOptions,
        { events: 0, heartbeatsDropped: 0 },
        out,
      );
      written += out.take().length;
    }
    expect(written).toBeGreaterThan(0);
  });

  test("members dropped first, last, side by side, or all of them; values replaced next to dropped ones", () => {
    const drop = policy({
      redactFields: ["a", "b", "c"],
      redactParams: "hash",
      paramHashKey: HASH_KEY,
      redactSqlLiterals: true,
    });
    const events = [
      { a: 1, keep: 2 },
      { keep: 1, a: 2 },
      { a: 1, b: 2, keep: 3, c: 4 },
      { a: 1, b: 2, c: 3 },
      { a: 1, paramList: ["x"], b: 2 },
      { paramList: ["x"], a: 1, commandText: "SELECT 'x'", serverType: "PostgreSQL" },
      { commandText: "SELECT 'x'", serverType: "PostgreSQL", c: { a: 1 } },
      { engineNativeAuditFields: { a: 1, b: 2 } },
      { engineNativeAuditFields: { keep: 1, a: [1] }, a: 3 },
      { engineNativeAuditFields: [1], paramList: null },
      { paramList: [], commandText: "", logTime: "2022-03-27 13:05:16+00" },
      {},
    ];
    for (const includeHeartbeats of [false, true]) {
      const options: LineOptions = { format: "events", includeHeartbeats, policy: drop };
      expect(bothWays(inner(events), options)).toBe(true);
      expect(bothWays(inner(events, { clusterId: null, instanceId: null }), options)).toBe(true);
    }
  });

  test("filters read escaped and non-string values as parsing does", () => {
    const filter = policy({ excludeUsers: ["é\\"], excludeCommands: ["select"] });
    const events = [
      { dbUserName: "É\\", command: "x" },
      { dbUserName: "é\\\n" },
      { dbUserName: 1, command: "SELECT" },
      { dbUserName: null, command: ["select"] },
      { type: "heartbeat", dbUserName: "é\\" },
    ];
    const text = inner(events);
    for (const includeHeartbeats of [false, true])
      expect(bothWays(text, { format: "events", includeHeartbeats, policy: filter })).toBe(true);
  });

  test("with a policy, the records format is left to the parser", () => {
    const text = inner([{ type: "record", paramList: ["x"] }]);
    expect(
      bothWays(text, { format: "records", includeHeartbeats: false, policy: POLICIES[1] as EventPolicy }),
    ).toBe(false);
  });
});

describe("sliceRecordLines leaves to the parser what serializing would change or what is not JSON", () => {
  const cases: [string, string][] = [
    ["a space between members", '{"databaseActivityEventList":[{"a":1, "b":2}]}'],
    ["a space inside an event", '{"databaseActivityEventList":[{ "a":1}]}'],
    ["an escaped slash", '{"databaseActivityEventList":[{"a":"\\/"}]}'],
    ["a \\u escape of a printable character", '{"databaseActivityEventList":[{"a":"\\u0041"}]}'],
    ["a \\u escape with a short form", '{"databaseActivityEventList":[{"a":"\\u000a"}]}'],
    ["upper-case hex", '{"databaseActivityEventList":[{"a":"\\u001F"}]}'],
    ["a lone surrogate escape", '{"databaseActivityEventList":[{"a":"\\ud800"}]}'],
    ["an escaped surrogate pair", '{"databaseActivityEventList":[{"a":"\\ud83c\\udf89"}]}'],
    ["1.0", '{"databaseActivityEventList":[{"a":1.0}]}'],
    ["1e5", '{"databaseActivityEventList":[{"a":1e5}]}'],
    ["1E+21", '{"databaseActivityEventList":[{"a":1E+21}]}'],
    ["-0", '{"databaseActivityEventList":[{"a":-0}]}'],
    ["an integer past 2^53", '{"databaseActivityEventList":[{"a":12345678901234567890}]}'],
    ["a key twice in an event", '{"databaseActivityEventList":[{"a":1,"b":2,"a":3}]}'],
    ["a key twice in a nested object", '{"databaseActivityEventList":[{"n":{"x":1,"x":1}}]}'],
    ["a key twice at the top", '{"clusterId":"a","databaseActivityEventList":[{}],"clusterId":"b"}'],
    ["the list twice", '{"databaseActivityEventList":[{"a":1}],"databaseActivityEventList":[{}]}'],
    ["an integer key", '{"databaseActivityEventList":[{"b":1,"1":2}]}'],
    ["a key starting with a digit", '{"databaseActivityEventList":[{"b":1,"1a":2}]}'],
    ["no list", '{"clusterId":"a"}'],
    ["a list that is not an array", '{"databaseActivityEventList":{}}'],
    ["an event that is not an object", '{"databaseActivityEventList":[{},1]}'],
    ["an event that is null", '{"databaseActivityEventList":[null]}'],
    ["an array at the top", '[{"databaseActivityEventList":[]}]'],
    ["a byte-order mark", '\ufeff{"databaseActivityEventList":[]}'],
    ["trailing bytes", '{"databaseActivityEventList":[]}x'],
    ["two objects", '{"databaseActivityEventList":[]}{}'],
    ["a raw control character in a string", '{"databaseActivityEventList":[{"a":"x\ty"}]}'],
    ["a trailing comma", '{"databaseActivityEventList":[{"a":1,}]}'],
    ["a leading zero", '{"databaseActivityEventList":[{"a":01}]}'],
    ["a bad literal", '{"databaseActivityEventList":[{"a":nul}]}'],
    ["truncated", '{"databaseActivityEventList":[{"a":"b'],
    ["empty", ""],
  ];
  test.each(cases)("%s", (_name, text) => {
    for (const options of ALL_OPTIONS) expect(bothWays(text, options)).toBe(false);
  });

  test("invalid UTF-8 (decoded with replacement characters by the parser's path)", () => {
    for (const bad of [[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82]]) {
      const bytes = Buffer.concat([
        Buffer.from('{"databaseActivityEventList":[{"a":"'),
        Buffer.from(bad),
        Buffer.from('"}]}'),
      ]);
      for (const options of ALL_OPTIONS) expect(bothWays(bytes, options)).toBe(false);
    }
  });

  test("nesting deeper than the limit, repeated keys at the deepest level allowed, and an object with more keys than the limit", () => {
    const deep = `{"databaseActivityEventList":[{"a":${"[".repeat(40)}${"]".repeat(40)}}]}`;
    const nested = (levels: number, innermost: string) =>
      `{"databaseActivityEventList":[{"a":${'{"b":'.repeat(levels)}${innermost}${"}".repeat(levels)}}]}`;
    const wide = inner([Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, i]))]);
    const fits = inner([Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, i]))]);
    for (const options of ALL_OPTIONS) {
      expect(bothWays(deep, options)).toBe(false);
      expect(bothWays(nested(40, "1"), options)).toBe(false);
      // The deepest objects allowed are still checked for repeated keys.
      expect(bothWays(nested(28, '{"x":1,"y":2}'), options)).toBe(true);
      expect(bothWays(nested(28, '{"x":1,"x":2}'), options)).toBe(false);
      expect(bothWays(wide, options)).toBe(false);
      expect(bothWays(fits, options)).toBe(true);
    }
  });
});

describe("sliceRecordLines on records that are costly to read", () => {
  // "Aa" and "BB" hash alike, so keys made of them all share one hash (and one slot).
  const sameHash = (count: number) =>
    Array.from({ length: count }, (_, n) =>
      Array.from({ length: 6 }, (_, bit) => ((n >> bit) & 1 ? "BB" : "Aa")).join(""),
    );

  test("a few keys that share a hash are taken; many are left to the parser", () => {
    const event = (keys: string[]) => Object.fromEntries(keys.map((key, n) => [key, n]));
    for (const options of ALL_OPTIONS) {
      expect(bothWays(inner([event(sameHash(10))]), options)).toBe(true);
      expect(bothWays(inner([event(sameHash(40))]), options)).toBe(false);
    }
  });

  test("a record with thousands of events, then ordinary ones", () => {
    const many = Array.from({ length: 5000 }, (_, n) => ({ type: n % 7 === 0 ? "heartbeat" : "record", n }));
    for (const options of ALL_OPTIONS) {
      expect(bothWays(inner(many), options)).toBe(true);
      expect(bothWays(inner([{ type: "record", n: 1 }, { type: "heartbeat" }]), options)).toBe(true);
    }
  });
});

describe("sliceRecordLines agrees with parsing on altered records", () => {
  const random = seededRandom(2026);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const interesting = [...'"\\{}[],: 0-.eEu/n1tfa', "\n", "\t", "\u0001", "é", "🎉"].map((c) =>
    Buffer.from(c),
  );
  const bases = ENGINES.map((engine, n) =>
    Buffer.from(
      inner(buildEvents(engine, 3, { random, timeMs: Date.UTC(2026, 0, 1) + n, sequence: n }), {
        nested: { a: [1, 2.5, "x\ny"], b: null },
      }),
    ),
  );

  test("single changes anywhere: a byte replaced, removed or inserted, the record cut short", () => {
    let taken = 0;
    let left = 0;
    for (let n = 0; n < 4000; n += 1) {
      const base = pick(bases);
      const at = Math.floor(random() * base.length);
      const kind = n % 4;
      const piece = kind === 3 ? Buffer.from([Math.floor(random() * 256)]) : pick(interesting);
      const altered =
        kind === 0
          ? Buffer.concat([base.subarray(0, at), piece, base.subarray(at + 1)])
          : kind === 1
            ? Buffer.concat([base.subarray(0, at), base.subarray(at + 1)])
            : kind === 2
              ? Buffer.concat([base.subarray(0, at), piece, base.subarray(at)])
              : Buffer.concat([base.subarray(0, at), piece]);
      if (bothWays(altered, pick(n % 2 === 0 ? ALL_OPTIONS : POLICY_OPTIONS))) taken += 1;
      else left += 1;
    }
    // Both ways are exercised: many changes keep valid, canonical JSON (inside a string), many do not.
    expect(taken).toBeGreaterThan(500);
    expect(left).toBeGreaterThan(500);
  });

  test("random JSON values, serialized by JSON.stringify or by hand with other spellings", () => {
    const chars = [
      "a",
      "Z",
      "0",
      " ",
      '"',
      "\\",
      "/",
      "\n",
      "\u0000",
      "\u001f",
      "\u007f",
      "é",
      "\u2028",
      "🎉",
      "\ud800",
    ];
    const randomString = () => Array.from({ length: Math.floor(random() * 6) }, () => pick(chars)).join("");
    const numbers = [0, -0, 1, -1, 0.5, 1e21, 1e-7, 2 ** 53 + 2, 123.456, -9.75e100];
    const value = (depth: number): unknown => {
      const roll = random();
      if (depth > 3 || roll < 0.3) return pick([null, true, false, randomString(), pick(numbers)]);
      if (roll < 0.6) return Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1));
      return Object.fromEntries(
        Array.from({ length: Math.floor(random() * 4) }, () => [randomString(), value(depth + 1)]),
      );
    };
    // Writes numbers and escapes as other producers might: the same values, other bytes.
    const otherSpelling = (json: string) =>
      json
        .replace(/\\u00([0-9a-f]{2})/g, (_m, hex: string) => `\\u00${hex.toUpperCase()}`)
        .replace(/:0,/g, ":0.0,")
        .replace(/\//g, "\\/");
    let taken = 0;
    for (let n = 0; n < 1500; n += 1) {
      const events = Array.from({ length: 1 + Math.floor(random() * 3) }, () => {
        const fields = value(1);
        return typeof fields === "object" && fields !== null && !Array.isArray(fields)
          ? { type: pick(["record", "heartbeat"]), ...fields }
          : { type: "record", v: fields };
      });
      const text = inner(events);
      const options = pick(n % 3 === 0 ? POLICY_OPTIONS : ALL_OPTIONS);
      if (bothWays(n % 2 === 0 ? text : otherSpelling(text), options)) taken += 1;
    }
    expect(taken).toBeGreaterThan(300);
  });
});
