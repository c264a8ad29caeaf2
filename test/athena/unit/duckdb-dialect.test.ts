import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { duckDbType, eventsViewSql, TRINO_SHIMS } from "../../../src/athena/duckdb-dialect.ts";
import { type DuckDbSession, openDuckDbSession } from "../../../src/athena/duckdb-session.ts";

let session: DuckDbSession;
let dir: string;
beforeAll(async () => {
  session = await openDuckDbSession();
  dir = await mkdtemp(join(tmpdir(), "duckdb-dialect-"));
});
afterAll(async () => {
  session.close();
  await rm(dir, { recursive: true, force: true });
});

const one = async (sql: string, parameters: (string | number)[] = []) =>
  (await session.query(sql, parameters))[0];

describe("the Trino shims give Trino's answers in DuckDB", () => {
  test("each shim is needed: plain DuckDB lacks the function or gives another answer", async () => {
    const instance = await DuckDBInstance.create(":memory:");
    const plain = await instance.connect();
    const probes: Record<string, string> = {
      from_iso8601_timestamp: "SELECT from_iso8601_timestamp('2026-11-18T22:30:00Z') IS NOT NULL AS v",
      day_of_week: "SELECT day_of_week(TIMESTAMP '2026-11-22 12:00:00') = 7 AS v",
      regexp_like: "SELECT regexp_like('x GRANT', 'GRANT') AS v",
      element_at: "SELECT element_at(MAP {'a': '1'}, 'a') = '1' AS v",
    };
    try {
      expect(TRINO_SHIMS.map((shim) => shim.name).sort()).toEqual(Object.keys(probes).sort());
      for (const sql of Object.values(probes)) {
        const answer = await plain.runAndReadAll(sql).then(
          (reader) => reader.getRowObjectsJS()[0]?.v,
          () => "no such function or types",
        );
        expect(answer).not.toBe(true);
        await expect(session.query(sql)).resolves.toEqual([{ v: true }]);
      }
    } finally {
      plain.closeSync();
      instance.closeSync();
    }
  });

  test("day_of_week is ISO: Monday 1 … Sunday 7", async () => {
    // 2026-11-16 is a Monday.
    const days = await session.query(
      "SELECT day_of_week(from_iso8601_timestamp(d)) AS d FROM (VALUES ('2026-11-16T00:00:00.000000Z'), ('2026-11-21T12:00:00.000000Z'), ('2026-11-22T23:59:59.999999Z')) AS t(d) ORDER BY d",
    );
    expect(days.map((row) => row.d)).toEqual([1, 6, 7]);
  });

  test("from_iso8601_timestamp reads Z and offsets as instants; hour() of a Z time is the UTC hour", async () => {
    expect(
      await one(
        "SELECT from_iso8601_timestamp(?) = from_iso8601_timestamp(?) AS same, hour(from_iso8601_timestamp(?)) AS h",
        ["2026-11-18T22:30:00Z", "2026-11-19T04:00:00+05:30", "2026-11-18T22:30:00.123456Z"],
      ),
    ).toEqual({ same: true, h: 22 });
  });

  test("from_iso8601_timestamp keeps milliseconds only, as Trino's timestamp(3) does", async () => {
    expect(
      await one(
        "SELECT from_iso8601_timestamp(?) = from_iso8601_timestamp(?) AS same, from_iso8601_timestamp(?) < from_iso8601_timestamp(?) AS less",
        [
          "2026-11-18T22:30:00.123001Z",
          "2026-11-18T22:30:00.123999Z",
          "2026-11-18T22:30:00.123999Z",
          "2026-11-18T22:30:00.124000Z",
        ],
      ),
    ).toEqual({ same: true, less: true });
  });

  test("element_at of a missing map key is NULL, of a present one its value", async () => {
    expect(
      await one("SELECT element_at(MAP {'a': '1'}, 'a') AS a, element_at(MAP {'a': '1'}, 'b') AS b"),
    ).toEqual({
      a: "1",
      b: null,
    });
  });

  test("regexp_like matches anywhere unless anchored", async () => {
    expect(
      await one(
        "SELECT regexp_like('x GRANT', 'GRANT') AS anywhere, regexp_like('x GRANT', '^GRANT') AS anchored",
      ),
    ).toEqual({ anywhere: true, anchored: false });
  });
});

describe("duckDbType maps the table's Hive types", () => {
  test.each([
    ["string", "VARCHAR"],
    ["bigint", "BIGINT"],
    ["int", "INTEGER"],
    ["array<string>", "VARCHAR[]"],
    ["map<string,string>", "MAP(VARCHAR, VARCHAR)"],
    ["map<string, array<bigint>>", "MAP(VARCHAR, BIGINT[])"],
  ])("%s → %s", (hive, duck) => {
    expect(duckDbType(hive)).toBe(duck);
  });

  test("refuses a type it does not know", () => {
    expect(() => duckDbType("struct<a:string>")).toThrow("struct<a:string>");
  });
});

describe("eventsViewSql reads files the way the Hive JSON SerDe reads them", () => {
  test("columns by JSON key, values of varying JSON type as the column type, partition and $path", async () => {
    const path = join(dir, "a'b.gz");
    const lines = [
      {
        dbUserName: "alice",
        exitCode: "28P01",
        rowCount: 3,
        paramList: ["1"],
        engineNativeAuditFields: { A: 1 },
      },
      {
        dbUserName: "BOB",
        exitCode: 1017,
        rowCount: null,
        paramList: null,
        engineNativeAuditFields: {},
        extra: {},
      },
    ];
    await writeFile(path, gzipSync(lines.map((line) => JSON.stringify(line)).join("\n")));
    const keys: Record<string, string> = {
      dbusername: "dbUserName",
      exitcode: "exitCode",
      rowcount: "rowCount",
      paramlist: "paramList",
      enginenativeauditfields: "engineNativeAuditFields",
    };
    const sql = eventsViewSql({
      table: "events",
      bucket: "bucket",
      columns: [
        { Name: "dbusername", Type: "string" },
        { Name: "exitcode", Type: "string" },
        { Name: "rowcount", Type: "bigint" },
        { Name: "paramlist", Type: "array<string>" },
        { Name: "enginenativeauditfields", Type: "map<string,string>" },
      ],
      partitionColumn: "datehour",
      jsonKeyOf: (name) => keys[name] ?? name,
      objects: [{ path, key: "decrypted/raw/2026/11/18/22/a'b.gz", partition: "2026/11/18/22" }],
    });
    await session.query(sql);
    const rows = await session.query(
      `SELECT dbusername, exitcode, rowcount, paramlist, element_at(enginenativeauditfields, 'A') AS a, datehour, "$path" AS p FROM events ORDER BY dbusername`,
    );
    expect(rows).toEqual([
      {
        dbusername: "BOB",
        exitcode: "1017",
        rowcount: null,
        paramlist: null,
        a: null,
        datehour: "2026/11/18/22",
        p: "s3://bucket/decrypted/raw/2026/11/18/22/a'b.gz",
      },
      {
        dbusername: "alice",
        exitcode: "28P01",
        rowcount: 3,
        paramlist: ["1"],
        a: "1",
        datehour: "2026/11/18/22",
        p: "s3://bucket/decrypted/raw/2026/11/18/22/a'b.gz",
      },
    ]);
  });

  test("refuses an empty object list", () => {
    expect(() =>
      eventsViewSql({
        table: "t",
        bucket: "b",
        columns: [],
        partitionColumn: "p",
        jsonKeyOf: (n) => n,
        objects: [],
      }),
    ).toThrow("no objects");
  });
});
