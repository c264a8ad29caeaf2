/**
 * The Glue table and the saved queries of resources/athena.yml, run by DuckDB over real output of
 * the handler (all four engines), answers checked against the generated inner records.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  type AthenaTemplate,
  loadAthenaTemplate,
  namedQuery,
  resolveValue,
} from "../../../src/athena/athena-template.ts";
import { duckDbType, eventsViewSql } from "../../../src/athena/duckdb-dialect.ts";
import { type DuckDbSession, openDuckDbSession } from "../../../src/athena/duckdb-session.ts";
import {
  EVENT_COLUMNS,
  type EventColumn,
  isHiveType,
  PARTITION_COLUMN,
} from "../../../src/athena/event-columns.ts";
import { dateProjection, partitionOf } from "../../../src/athena/projection.ts";
import { findSchemaDrift } from "../../../src/athena/schema-drift.ts";
import { ENGINES } from "../../../src/local/das-events.ts";
import { type LocalStack, startLocalStack } from "../../../src/local/stack.ts";
import { buildCorpus, type Corpus } from "../support/audit-corpus.ts";
import {
  byTime,
  byUserAndHost,
  expectedOutsideBusinessHours,
  expectedTopStatements,
  inRange,
  isDdlOrPrivilegeChange,
  isFailedLogin,
  isoOf,
} from "../support/expected-answers.ts";

const BUCKET = "das-athena";
/** What serverless.yml gives `custom.athena` in this set-up: OUTPUT_PREFIX `decrypted/` + raw prefix `raw/`. */
const VARS = {
  "self:custom.athena.bucket": BUCKET,
  "self:custom.athena.eventsPrefix": "decrypted/raw/",
  "self:custom.athena.projectionStart": "2024/01/01/00",
};
const ALL = ["2026/11/18/00", "2026/11/21/23"] as const;

let stack: LocalStack;
let root: string;
let corpus: Corpus;
let template: AthenaTemplate;
let db: DuckDbSession;
let lines: Record<string, unknown>[];

beforeAll(async () => {
  stack = await startLocalStack();
  stack.createBucket(BUCKET);
  root = await mkdtemp(join(tmpdir(), "athena-duckdb-"));
  corpus = await buildCorpus(stack, BUCKET, root);
  lines = [];
  for (const key of corpus.outputKeys) {
    const text = gunzipSync(await readFile(join(root, key))).toString("utf8");
    for (const line of text.split("\n")) if (line !== "") lines.push(JSON.parse(line));
  }
  template = loadAthenaTemplate();
  const parameters = Object.fromEntries(
    Object.entries(template.table.parameters).map(([name, value]) => [name, resolveValue(value, VARS)]),
  );
  const projection = dateProjection(parameters, PARTITION_COLUMN.name);
  db = await openDuckDbSession();
  await db.query(
    eventsViewSql({
      table: template.table.name,
      bucket: projection.bucket,
      columns: template.table.columns,
      partitionColumn: PARTITION_COLUMN.name,
      jsonKeyOf,
      objects: corpus.outputKeys.flatMap((key) => {
        const partition = partitionOf(projection, key, new Date());
        return partition === undefined ? [] : [{ path: join(root, key), key, partition }];
      }),
    }),
  );
}, 60_000);

afterAll(async () => {
  db?.close();
  await stack?.stop();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

/** The member a Glue column reads (the SerDe matches case-insensitively; DuckDB needs the exact key). */
function jsonKeyOf(column: string): string {
  const found = EVENT_COLUMNS.find((candidate) => candidate.jsonKey.toLowerCase() === column);
  if (found === undefined) throw new Error(`column ${column} is not in event-columns.ts`);
  return found.jsonKey;
}

const run = (name: string, parameters: (string | number)[]) =>
  db.query(namedQuery(template, name).queryString, parameters);

describe("the handler's output has exactly the table's fields (schema drift)", () => {
  test("every member of every line of all four engines has a column of a fitting type, and every column is filled", () => {
    expect(new Set(lines.map((line) => line.engine))).toEqual(new Set(ENGINES));
    // Both the column list in code and the table as the template declares it (names and types).
    const tableColumns: EventColumn[] = template.table.columns.map((column) => {
      if (!isHiveType(column.Type)) throw new Error(`column ${column.Name} has type ${column.Type}`);
      return { jsonKey: jsonKeyOf(column.Name), type: column.Type, comment: column.Comment ?? "" };
    });
    for (const columns of [EVENT_COLUMNS, tableColumns]) {
      expect(findSchemaDrift(lines, columns)).toEqual({
        unknownMembers: [],
        unusedColumns: [],
        typeMismatches: [],
        caseMismatches: [],
      });
    }
  });
});

describe("DuckDB reads the output as the Glue table declares it", () => {
  test("the view has the table's columns with the matching types, then the partition and $path", async () => {
    const described = await db.query(`DESCRIBE ${template.table.name}`);
    expect(described.map((row) => [row.column_name, row.column_type])).toEqual([
      ...template.table.columns.map((column) => [column.Name, duckDbType(column.Type)]),
      [PARTITION_COLUMN.name, "VARCHAR"],
      ["$path", "VARCHAR"],
    ]);
  });

  test("one row per output line, per engine, every object under its Firehose hour", async () => {
    const rows = await db.query(
      "SELECT engine, datehour, count(*) AS n FROM events GROUP BY engine, datehour ORDER BY engine, datehour",
    );
    const expected = new Map<string, number>();
    for (const e of corpus.events) {
      const id = `${e.engine} ${e.datehour}`;
      expected.set(id, (expected.get(id) ?? 0) + 1);
    }
    expect(rows.map((row) => [`${row.engine} ${row.datehour}`, row.n])).toEqual([...expected].sort());
    expect(rows.reduce((sum, row) => sum + (row.n as number), 0)).toBe(lines.length);
  });

  test("values of varying JSON types arrive as text; paramList and engineNativeAuditFields stay queryable", async () => {
    const rows = await db.query(
      `SELECT engine, count(*) FILTER (WHERE element_at(enginenativeauditfields, 'RETURN_CODE') = '1017') AS ora_1017,
              count(*) FILTER (WHERE element_at(enginenativeauditfields, 'action_id') = 'LGIF') AS mssql_lgif,
              count(*) FILTER (WHERE contains(paramlist, 'x@example.com')) AS with_bind,
              count(*) FILTER (WHERE exitcode = '28P01') AS pg_28p01
       FROM events GROUP BY engine ORDER BY engine`,
    );
    const count = (engine: string, test: (event: Record<string, unknown>) => boolean) =>
      corpus.events.filter((e) => e.engine === engine && test(e.event)).length;
    expect(rows).toEqual(
      [...ENGINES].sort().map((engine) => ({
        engine,
        ora_1017: count(engine, (e) => engine === "oracle" && e.exitCode === 1017),
        mssql_lgif: count(engine, (e) => engine === "sqlserver" && e.command === "LOGIN FAILED"),
        with_bind: count(engine, (e) => Array.isArray(e.paramList) && e.paramList.includes("x@example.com")),
        pg_28p01: count(engine, (e) => e.exitCode === "28P01"),
      })),
    );
    expect(rows.find((row) => row.engine === "oracle")?.ora_1017).toBeGreaterThan(0);
  });
});

describe("each saved query gives the answer computed from the generated records", () => {
  test("failed-logins-by-user-and-host, whole range and one hour", async () => {
    const failed = corpus.events.filter(isFailedLogin);
    expect(new Set(failed.map((e) => e.engine))).toEqual(new Set(ENGINES));
    expect(await run("failed-logins-by-user-and-host", [...ALL])).toEqual(
      byUserAndHost(failed, "failed_logins"),
    );
    const night = ["2026/11/18/22", "2026/11/18/22"] as const;
    const nightRows = await run("failed-logins-by-user-and-host", [...night]);
    expect(nightRows).toEqual(byUserAndHost(inRange(failed, ...night), "failed_logins"));
    expect(nightRows.length).toBeLessThan(byUserAndHost(failed, "failed_logins").length);
  });

  test("ddl-and-privilege-changes", async () => {
    const changes = byTime(corpus.events.filter(isDdlOrPrivilegeChange));
    const rows = await run("ddl-and-privilege-changes", [...ALL]);
    expect(new Set(rows.map((row) => row.engine))).toEqual(new Set(ENGINES));
    expect(
      rows.map((row) => [row.eventtime, row.engine, row.command, row.objectname, row.source_object]),
    ).toEqual(
      changes.map((e) => [
        isoOf(e.event.logTime),
        e.engine,
        e.event.command,
        e.event.objectName,
        e.sourceObject,
      ]),
    );
  });

  test("user-activity-in-time-range: one user, any case, from inclusive, to exclusive", async () => {
    const night = ["2026/11/18/22", "2026/11/18/22"] as const;
    const analyst = byTime(
      inRange(corpus.events, ...night).filter((e) => String(e.event.dbUserName).toLowerCase() === "analyst"),
    );
    // The range starts exactly at one of the user's events and ends exactly at a later one.
    const from = isoOf(analyst[2]?.event.logTime);
    const to = isoOf(analyst[analyst.length - 3]?.event.logTime);
    // Athena compares these timestamps at millisecond precision (timestamp(3)).
    const ms = (iso: string) => iso.slice(0, 23);
    const expected = analyst.filter((e) => {
      const time = ms(isoOf(e.event.logTime));
      return time >= ms(from) && time < ms(to);
    });
    const rows = await run("user-activity-in-time-range", [...night, "Analyst", from, to]);
    expect(new Set(rows.map((row) => row.engine)).size).toBeGreaterThan(1);
    expect(ms(String(rows[0]?.eventtime))).toBe(ms(from));
    expect(rows.map((row) => ms(String(row.eventtime)))).not.toContain(ms(to));
    expect(rows.map((row) => [row.eventtime, row.engine, row.commandtext, row.source_object])).toEqual(
      expected.map((e) => [isoOf(e.event.logTime), e.engine, e.event.commandText, e.sourceObject]),
    );
  });

  test("top-statements", async () => {
    const rows = await run("top-statements", [...ALL]);
    expect(rows).toHaveLength(50);
    expect(rows).toEqual(expectedTopStatements(corpus.events));
  });

  test("activity-outside-business-hours (UTC; the 08:00 and 18:00 edges fall inside objects)", async () => {
    const rows = await run("activity-outside-business-hours", [...ALL]);
    const expected = expectedOutsideBusinessHours(corpus.events);
    expect(rows).toEqual(expected);
    const times = rows.flatMap((row) => [row.first_seen, row.last_seen]) as string[];
    // Both edges: 07:59:59 is outside and 08:00 inside; 17:59:59 is inside and 18:00 outside.
    expect(times.some((time) => time.startsWith("2026-11-19T07:59:59"))).toBe(true);
    expect(times.some((time) => time.startsWith("2026-11-19T18:00:00"))).toBe(true);
    expect(
      times.some((time) => time.startsWith("2026-11-19T08:00:") || time.startsWith("2026-11-19T17:")),
    ).toBe(false);
  });

  test("access-to-table: one object name, any case", async () => {
    const expected = byTime(
      corpus.events.filter((e) => String(e.event.objectName).toLowerCase() === "payroll"),
    );
    const rows = await run("access-to-table", [...ALL, "PayRoll"]);
    expect(new Set(rows.map((row) => row.engine))).toEqual(new Set(ENGINES));
    expect(
      rows.map((row) => [row.eventtime, row.engine, row.dbusername, row.command, row.source_object]),
    ).toEqual(
      expected.map((e) => [
        isoOf(e.event.logTime),
        e.engine,
        e.event.dbUserName,
        e.event.command,
        e.sourceObject,
      ]),
    );
  });
});
