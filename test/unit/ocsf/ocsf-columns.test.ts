/**
 * The Parquet/Arrow columns of a Datastore Activity row: they hold every member a row can have, with
 * the type OCSF 1.1's dictionary gives that attribute (read from the schema's own files).
 */
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { buildEvents, ENGINES, seededRandom } from "../../../src/local/das-events.ts";
import { createDatastoreActivityMapper } from "../../../src/ocsf/datastore-activity.ts";
import {
  DATASTORE_ACTIVITY_COLUMNS,
  type LeafType,
  leafColumns,
} from "../../../src/ocsf/datastore-activity-columns.ts";
import {
  baseTypeOf,
  loadEventClass,
  type OcsfAttribute,
  type OcsfShape,
  schemaDirectory,
} from "../../support/ocsf-schema.ts";

const schema = loadEventClass(
  schemaDirectory(fileURLToPath(new URL("../../fixtures/ocsf-1.1.0", import.meta.url))),
  "datastore_activity",
);
const columns = new Map(leafColumns().map((column) => [column.path, column.type]));

/** The OCSF attribute at a dotted path, walking through the objects. */
function attributeAt(path: string): OcsfAttribute | undefined {
  let shape: OcsfShape | undefined = schema;
  let attribute: OcsfAttribute | undefined;
  for (const name of path.split(".")) {
    attribute = shape?.attributes[name];
    shape = attribute?.objectType === undefined ? undefined : schema.objects.get(attribute.objectType);
  }
  return attribute;
}

/** The column type an OCSF attribute takes. */
function columnTypeOf(attribute: OcsfAttribute): LeafType | "struct" {
  if (attribute.type === "object_t")
    return attribute.objectType === "object" ? "map<string,string>" : "struct";
  const primitive = baseTypeOf(baseTypeOf(attribute.type, schema.types), schema.types);
  const scalar = ({ integer_t: "int32", long_t: "int64", string_t: "string", json_t: "string" } as const)[
    primitive as "integer_t"
  ];
  if (scalar === undefined) throw new Error(`no column type for ${attribute.type}`);
  return attribute.isArray ? (`list<${scalar}>` as LeafType) : scalar;
}

describe("the Datastore Activity columns", () => {
  test("each column has the type OCSF gives its attribute", () => {
    const mismatches = leafColumns()
      .map(({ path, type }) => {
        const attribute = attributeAt(path);
        return { path, type, ocsf: attribute === undefined ? "no such attribute" : columnTypeOf(attribute) };
      })
      .filter(({ type, ocsf }) => type !== ocsf);
    expect(mismatches).toEqual([]);
  });

  test("every member of every row is a column of the right type", () => {
    const map = createDatastoreActivityMapper({
      region: "eu-west-1",
      accountId: "123456789012",
      productVersion: "1",
    });
    const random = seededRandom(5);
    const missing = new Set<string>();
    for (const engine of ENGINES) {
      for (let sequence = 0; sequence < 400; sequence += 1) {
        for (const event of buildEvents(engine, 2, { random, timeMs: 0, sequence })) {
          const row = map(event, { clusterId: "cluster-A", instanceId: "db-B", fallbackTimeMs: 0 });
          for (const [path, value] of leaves(row)) {
            const type = columns.get(path);
            if (type === undefined || !fits(type, value)) missing.add(`${path} (${type ?? "no column"})`);
          }
        }
      }
    }
    expect([...missing]).toEqual([]);
  });

  test("the top-level columns are the row's members in OCSF order: classification, status, times, objects", () => {
    expect(DATASTORE_ACTIVITY_COLUMNS.map((column) => column.name).slice(0, 4)).toEqual([
      "activity_id",
      "activity_name",
      "category_uid",
      "category_name",
    ]);
    expect(new Set(DATASTORE_ACTIVITY_COLUMNS.map((column) => column.name)).size).toBe(
      DATASTORE_ACTIVITY_COLUMNS.length,
    );
  });
});

/** Dotted paths and values of a row's leaves; `unmapped` and lists are leaves. */
function leaves(value: unknown, prefix = ""): [string, unknown][] {
  if (typeof value !== "object" || value === null || Array.isArray(value) || prefix === "unmapped.") {
    return [[prefix.slice(0, -1), value]];
  }
  return Object.entries(value).flatMap(([key, member]) => leaves(member, `${prefix}${key}.`));
}

function fits(type: LeafType, value: unknown): boolean {
  switch (type) {
    case "int32":
      return Number.isInteger(value) && Math.abs(value as number) < 2 ** 31;
    case "int64":
      return Number.isSafeInteger(value);
    case "string":
      return typeof value === "string";
    case "list<string>":
      return Array.isArray(value) && value.every((item) => typeof item === "string");
    case "map<string,string>":
      return (
        typeof value === "object" &&
        value !== null &&
        Object.values(value).every((item) => typeof item === "string")
      );
  }
}
