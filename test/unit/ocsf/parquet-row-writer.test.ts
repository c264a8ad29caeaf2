/**
 * ParquetRowWriter across row groups: rows shredded into leaf columns as they come, written a group
 * at a time, read back by DuckDB (a Parquet reader that is not the writer's) exactly as mapped, and
 * byte for byte the file hyparquet-writer's own `write()` makes of the same rows.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { ByteWriter, ParquetWriter } from "hyparquet-writer";
import { afterAll, beforeAll, expect, test } from "vitest";
import { type DuckDbSession, openDuckDbSession } from "../../../src/athena/duckdb-session.ts";
import { buildEvents, ENGINES, seededRandom } from "../../../src/local/das-events.ts";
import {
  createDatastoreActivityMapper,
  type DatastoreActivity,
} from "../../../src/ocsf/datastore-activity.ts";
import { DATASTORE_ACTIVITY_COLUMNS } from "../../../src/ocsf/datastore-activity-columns.ts";
import { PARQUET_SCHEMA, ParquetRowWriter } from "../../../src/ocsf/parquet-writer.ts";

let db: DuckDbSession;
let root: string;
beforeAll(async () => {
  db = await openDuckDbSession();
  root = await mkdtemp(join(tmpdir(), "das-parquet-"));
});
afterAll(async () => {
  db.close();
  await rm(root, { recursive: true, force: true });
});

function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, member]) => member !== null)
      .map(([name, member]) => [name, withoutNulls(member)]),
  );
}

function mappedRows(): DatastoreActivity[] {
  const map = createDatastoreActivityMapper({ region: "eu-west-1", accountId: "123456789012" });
  const random = seededRandom(11);
  const rows: DatastoreActivity[] = [];
  for (const engine of ENGINES) {
    for (let sequence = 0; sequence < 12; sequence += 1) {
      for (const event of buildEvents(engine, 2, { random, timeMs: Date.UTC(2026, 10, 25), sequence })) {
        const row = map(event, { clusterId: "cluster-A", instanceId: "db-B", fallbackTimeMs: 0 });
        if (row !== undefined) rows.push(row);
      }
    }
  }
  return rows;
}

async function written(rows: readonly DatastoreActivity[], rowGroupRows: number): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on("data", (chunk: Buffer) => chunks.push(chunk));
  const writer = new ParquetRowWriter(out, rowGroupRows);
  for (const row of rows) await writer.add(row);
  await writer.close();
  expect(writer.rows).toBe(rows.length);
  return Buffer.concat(chunks);
}

test("rows of all four engines in row groups of 7 come back as mapped, in order, 7 to a group", async () => {
  const rows = mappedRows();
  const file = join(root, "rows.parquet");
  await writeFile(file, await written(rows, 7));

  const read = await db.query(`SELECT to_json(t)::VARCHAR AS j FROM read_parquet('${file}') t`);
  // What a reader sees of a row: its JSON (int64 times as numbers, absent members as nulls).
  expect(read.map((row) => withoutNulls(JSON.parse(String(row.j))))).toEqual(
    JSON.parse(JSON.stringify(rows)),
  );
  const groups = await db.query(
    `SELECT row_group_id, max(row_group_num_rows) AS n FROM parquet_metadata('${file}') GROUP BY 1 ORDER BY 1`,
  );
  expect(groups.map((group) => group.n)).toEqual(
    Array.from({ length: Math.ceil(rows.length / 7) }, (_, index) => Math.min(7, rows.length - index * 7)),
  );
  expect(rows.length).toBeGreaterThan(7 * 3);
});

test("the file is byte for byte what hyparquet-writer's own write() makes of the rows, odd nestings included", async () => {
  const [first, second, third] = mappedRows() as [DatastoreActivity, DatastoreActivity, DatastoreActivity];
  // Absent and empty structs, lists and maps, and null members inside them: each a level of its own.
  const odd = [
    { ...first, unmapped: {} },
    { ...first, metadata: { ...first.metadata, profiles: [] }, actor: undefined },
    {
      ...second,
      metadata: { ...second.metadata, profiles: ["a", null, "b"] },
      unmapped: { k: null, l: "v" },
    },
    { ...third, metadata: undefined, src_endpoint: {}, unmapped: undefined },
  ] as unknown as DatastoreActivity[];
  const rows = [...odd, ...mappedRows(), ...odd];

  const bytes = new ByteWriter();
  const library = new ParquetWriter({
    writer: bytes,
    schema: PARQUET_SCHEMA as never,
    codec: "SNAPPY",
    createdBy: "das-decrypt",
  });
  await library.write({
    rowGroupSize: 7,
    columnData: DATASTORE_ACTIVITY_COLUMNS.map((column) => ({
      name: column.name,
      data: rows.map((row) => {
        const value = (row as unknown as Record<string, unknown>)[column.name];
        if (value === undefined) return null;
        return column.type === "int64" && typeof value === "number" ? BigInt(value) : value;
      }),
    })),
  });
  await library.finish();

  expect((await written(rows, 7)).equals(Buffer.from(bytes.getBytes()))).toBe(true);
});
