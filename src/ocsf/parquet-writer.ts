import { once } from "node:events";
import type { Writable } from "node:stream";
import { ByteWriter, ParquetWriter } from "hyparquet-writer";
import type { DatastoreActivity } from "./datastore-activity.ts";
import { type Column, DATASTORE_ACTIVITY_COLUMNS } from "./datastore-activity-columns.ts";

/**
 * Rows of one Parquet file, in row groups of `rowGroupRows`: each group is encoded when it fills
 * and its bytes go to `out` at once (waiting for `drain`), so memory holds one group's rows and
 * bytes, whatever the number of rows. SNAPPY, one column per leaf of `DATASTORE_ACTIVITY_COLUMNS`
 * (src/ocsf/README.md says why hyparquet-writer).
 */
export class ParquetRowWriter {
  readonly #out: Writable;
  readonly #bytes = new ByteWriter(1 << 20);
  readonly #writer: ParquetWriter;
  readonly #rowGroupRows: number;
  /** The rows of the row group being filled, column by column (each row's object is not kept). */
  #columns: unknown[][] = newColumns();
  #pending = 0;
  #rows = 0;

  constructor(out: Writable, rowGroupRows = 10_000) {
    this.#out = out;
    this.#rowGroupRows = rowGroupRows;
    const bytes = this.#bytes as ByteWriter & { flush?: () => Promise<void> };
    // The writer calls these after each row group and after the footer: the bytes leave then.
    bytes.flush = () => this.#hand();
    bytes.finish = () => this.#hand();
    this.#writer = new ParquetWriter({
      writer: this.#bytes,
      schema: PARQUET_SCHEMA as never,
      codec: "SNAPPY",
      createdBy: "das-decrypt",
    });
  }

  /** Rows written so far (handed to the writer, encoded or pending). */
  get rows(): number {
    return this.#rows;
  }

  /**
   * Adds one row; encodes and hands over a row group when one is full. The row is taken apart into
   * its columns at once, so it can die young: rows kept whole until their group is written outlive
   * V8's young generation, and a 10,000-row group of them is garbage the old generation collects
   * only in its full collections.
   */
  async add(row: DatastoreActivity): Promise<void> {
    const values = row as unknown as Record<string, unknown>;
    DATASTORE_ACTIVITY_COLUMNS.forEach((column, index) => {
      (this.#columns[index] as unknown[]).push(columnValue(column, values[column.name]));
    });
    this.#pending += 1;
    this.#rows += 1;
    if (this.#pending >= this.#rowGroupRows) await this.#writeGroup();
  }

  /** Writes the last row group and the footer, then ends `out`. */
  async close(): Promise<void> {
    if (this.#pending > 0) await this.#writeGroup();
    await this.#writer.finish();
    this.#out.end();
  }

  /** Stops the file: `out` is destroyed with `reason`, which aborts its upload. */
  abort(reason: Error): void {
    if (!this.#out.destroyed && !this.#out.writableFinished) this.#out.destroy(reason);
  }

  async #writeGroup(): Promise<void> {
    const columns = this.#columns;
    const rows = this.#pending;
    this.#columns = newColumns();
    this.#pending = 0;
    await this.#writer.write({
      rowGroupSize: rows,
      columnData: DATASTORE_ACTIVITY_COLUMNS.map((column, index) => ({
        name: column.name,
        data: columns[index] as unknown[],
      })),
    });
  }

  async #hand(): Promise<void> {
    const bytes = this.#bytes;
    if (bytes.index === 0) return;
    const chunk = Buffer.from(bytes.getBytes());
    bytes.index = 0;
    if (this.#out.destroyed) throw this.#out.errored ?? new Error("the Parquet output stopped");
    if (!this.#out.write(chunk)) await once(this.#out, "drain");
  }
}

function newColumns(): unknown[][] {
  return DATASTORE_ACTIVITY_COLUMNS.map(() => []);
}

/** A top-level value as the writer takes it: INT64 as `bigint`, absent as `null`. */
function columnValue(column: Column, value: unknown): unknown {
  if (value === undefined) return null;
  if (column.type === "int64" && typeof value === "number") return BigInt(value);
  return value;
}

type SchemaElement = Record<string, unknown>;

const OPTIONAL = { repetition_type: "OPTIONAL" };
const UTF8 = { type: "BYTE_ARRAY", converted_type: "UTF8" };

/** The Parquet schema elements of one column, depth first (lists and maps as the format's spec nests them). */
function elements(column: Column): SchemaElement[] {
  switch (column.type) {
    case "struct":
      return [
        { name: column.name, ...OPTIONAL, num_children: column.fields.length },
        ...column.fields.flatMap(elements),
      ];
    case "string":
      return [{ name: column.name, ...UTF8, ...OPTIONAL }];
    case "int32":
      return [{ name: column.name, type: "INT32", ...OPTIONAL }];
    case "int64":
      return [{ name: column.name, type: "INT64", ...OPTIONAL }];
    case "list<string>":
      return [
        { name: column.name, ...OPTIONAL, converted_type: "LIST", num_children: 1 },
        { name: "list", repetition_type: "REPEATED", num_children: 1 },
        { name: "element", ...UTF8, ...OPTIONAL },
      ];
    case "map<string,string>":
      return [
        { name: column.name, ...OPTIONAL, converted_type: "MAP", num_children: 1 },
        { name: "key_value", repetition_type: "REPEATED", num_children: 2 },
        { name: "key", ...UTF8, repetition_type: "REQUIRED" },
        { name: "value", ...UTF8, ...OPTIONAL },
      ];
  }
}

export const PARQUET_SCHEMA: readonly SchemaElement[] = [
  { name: "root", num_children: DATASTORE_ACTIVITY_COLUMNS.length },
  ...DATASTORE_ACTIVITY_COLUMNS.flatMap(elements),
];
