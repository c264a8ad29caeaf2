import { describe, expect, test } from "vitest";
import type { EventColumn } from "../../../src/athena/event-columns.ts";
import { findSchemaDrift, fitsType } from "../../../src/athena/schema-drift.ts";

const COLUMNS: EventColumn[] = [
  { jsonKey: "dbUserName", type: "string", comment: "" },
  { jsonKey: "rowCount", type: "bigint", comment: "" },
  { jsonKey: "paramList", type: "array<string>", comment: "" },
  { jsonKey: "engineNativeAuditFields", type: "map<string,string>", comment: "" },
];
const LINE = {
  dbUserName: "alice",
  rowCount: 3,
  paramList: ["1"],
  engineNativeAuditFields: { A: 1, B: null },
};
const NONE = { unknownMembers: [], unusedColumns: [], typeMismatches: [], caseMismatches: [] };

describe("findSchemaDrift compares output lines and table columns both ways", () => {
  test("no drift when every member has a column and every column is filled", () => {
    expect(findSchemaDrift([LINE, { dbUserName: null }], COLUMNS)).toEqual(NONE);
  });

  test("a member the output gained is reported", () => {
    expect(findSchemaDrift([{ ...LINE, newField: 1 }], COLUMNS).unknownMembers).toEqual(["newField"]);
  });

  test("a column the output no longer fills is reported", () => {
    const { rowCount: _dropped, ...rest } = LINE;
    expect(findSchemaDrift([rest], COLUMNS).unusedColumns).toEqual(["rowCount"]);
  });

  test("a value the column type cannot hold is reported", () => {
    const drift = findSchemaDrift([{ ...LINE, dbUserName: { nested: true }, rowCount: "12" }], COLUMNS);
    expect(drift.typeMismatches).toEqual(["dbUserName: object in string", "rowCount: string in bigint"]);
  });

  test("a member that differs from its column only in case is reported", () => {
    const drift = findSchemaDrift([{ ...LINE, DBUserName: "bob" }], COLUMNS);
    expect(drift.caseMismatches).toEqual(["DBUserName (column dbUserName)"]);
  });
});

describe("fitsType follows what the Hive JSON SerDe accepts", () => {
  test.each([
    ["string", "x", true],
    ["string", 12, true],
    ["string", false, true],
    ["string", [], false],
    ["string", {}, false],
    ["bigint", 2 ** 40, true],
    ["bigint", 1.5, false],
    ["int", 2 ** 31, false],
    ["array<string>", ["a", 1, null], true],
    ["array<string>", [["a"]], false],
    ["map<string,string>", { a: 1, b: true }, true],
    ["map<string,string>", { a: { b: 1 } }, false],
    ["map<string,string>", ["a"], false],
    ["bigint", null, true],
  ] as const)("%s holds %j: %s", (type, value, fits) => {
    expect(fitsType(value, type)).toBe(fits);
  });
});
