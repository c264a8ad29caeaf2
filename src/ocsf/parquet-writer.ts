import { once } from "node:events";
import type { Writable } from "node:stream";
import type { ColumnChunk } from "hyparquet";
import { ByteWriter, ParquetWriter } from "hyparquet-writer";
import { writeColumn } from "hyparquet-writer/src/column.js";
import { snappyCompress } from "hyparquet-writer/src/snappy.js";
import type { ColumnEncoder, PageData } from "hyparquet-writer/src/types.js";
import type { DatastoreActivity } from "./datastore-activity.ts";
import { type Column, DATASTORE_ACTIVITY_COLUMNS } from "./datastore-activity-columns.ts";

/**
 * Rows of one Parquet file, in row groups of `rowGroupRows`: each group is encoded when it fills
 * and its bytes go to `out` at once (waiting for `drain`), so memory holds one group's rows and
 * bytes, whatever the number of rows. SNAPPY, one column per leaf of `DATASTORE_ACTIVITY_COLUMNS`
 * (src/ocsf/README.md says why hyparquet-writer).
 *
 * Each row is shredded into its leaf columns' values and Dremel levels as it is added (see
 * {@link Leaf}), and each leaf is encoded by hyparquet-writer's own `writeColumn`. The writer's
 * `write()` would hold the group's rows, then walk every row once per leaf, growing arrays as it
 * goes: most of its time and garbage (BENCHMARKS.md, "Parquet without the row walk"). The header,
 * the row groups' metadata and the footer stay the writer's.
 */
export class ParquetRowWriter {
  readonly #out: Writable;
  readonly #bytes = new ByteWriter(1 << 20);
  readonly #writer: ParquetWriter;
  readonly #rowGroupRows: number;
  readonly #leaves: Leaf[] = [];
  readonly #shred: Shred;
  #pending = 0;
  #rows = 0;

  constructor(out: Writable, rowGroupRows = 10_000) {
    this.#out = out;
    this.#rowGroupRows = rowGroupRows;
    // The writer calls this after its footer: the last bytes leave then.
    this.#bytes.finish = () => this.#hand();
    this.#writer = new ParquetWriter({
      writer: this.#bytes,
      schema: PARQUET_SCHEMA as never,
      codec: "SNAPPY",
      createdBy: "das-decrypt",
    });
    this.#shred = shredderOf(
      DATASTORE_ACTIVITY_COLUMNS,
      [PARQUET_SCHEMA[0] as SchemaElement],
      (path, repeated) => {
        const leaf = new Leaf(path, repeated, rowGroupRows);
        this.#leaves.push(leaf);
        return leaf;
      },
    );
  }

  /** Rows written so far (handed to the writer, encoded or pending). */
  get rows(): number {
    return this.#rows;
  }

  /** Adds one row, shredded into its leaf columns at once; encodes and hands over a full row group. */
  async add(row: DatastoreActivity): Promise<void> {
    this.#shred(row, -1);
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

  /** One row group, recorded in the writer as its own `write()` records one. */
  async #writeGroup(): Promise<void> {
    const rows = this.#pending;
    this.#pending = 0;
    const writer = this.#writer;
    const start = this.#bytes.offset;
    const columns: ColumnChunk[] = [];
    let uncompressed = 0n;
    for (const leaf of this.#leaves) {
      const result = writeColumn({ writer: this.#bytes, column: leaf.encoder, pageData: leaf.take() });
      columns.push(result.chunk);
      writer.pendingIndexes.push(result);
      uncompressed += result.chunk.meta_data?.total_uncompressed_size ?? 0n;
    }
    writer.num_rows += BigInt(rows);
    writer.row_groups.push({
      columns,
      total_byte_size: uncompressed,
      num_rows: BigInt(rows),
      total_compressed_size: BigInt(this.#bytes.offset - start),
    });
    await this.#hand();
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

/** Adds a value (a row, or a member of one) to the leaves under it; `definition` is its parent's level. */
type Shred = (value: unknown, definition: number) => void;

/**
 * One leaf column of the row group being filled: its values (`null` where the level is below the
 * leaf's maximum) and their Dremel definition and repetition levels, as hyparquet-writer's own
 * `encodeNestedValues` gives them (a test holds the two equal). The arrays are kept from group to
 * group, so filling one allocates nothing but what outgrows the last.
 */
class Leaf {
  readonly encoder: ColumnEncoder;
  readonly #maxDefinitionLevel: number;
  readonly #repeated: boolean;
  #values: unknown[];
  #definitionLevels: Uint8Array;
  #repetitionLevels: Uint8Array;
  #count = 0;

  constructor(schemaPath: SchemaElement[], repeated: boolean, capacity: number) {
    this.encoder = {
      columnName: schemaPath
        .slice(1)
        .map((node) => node.name)
        .join("."),
      element: schemaPath[schemaPath.length - 1] as never,
      schemaPath: schemaPath as never,
      codec: "SNAPPY",
      compressors: { SNAPPY: snappyCompress },
      stats: true,
      pageSize: PAGE_BYTES,
      columnIndex: false,
      offsetIndex: true,
    };
    this.#maxDefinitionLevel = schemaPath.filter(
      (node) => node.repetition_type === "OPTIONAL" || node.repetition_type === "REPEATED",
    ).length;
    this.#repeated = repeated;
    this.#values = new Array(capacity).fill(null);
    this.#definitionLevels = new Uint8Array(capacity);
    this.#repetitionLevels = new Uint8Array(repeated ? capacity : 0);
  }

  /** A value at `definition`: the first of its row (`repetition` 0) or a later one of a list or map. */
  add(value: unknown, definition: number, repetition = 0): void {
    const at = this.#count;
    if (at === this.#definitionLevels.length) this.#grow();
    this.#values[at] = value;
    this.#definitionLevels[at] = definition;
    if (this.#repeated) this.#repetitionLevels[at] = repetition;
    this.#count = at + 1;
  }

  /**
   * The group's values and levels, for `writeColumn` at once (they are views of the arrays the next
   * group fills); the leaf starts the next group empty.
   */
  take(): PageData {
    const count = this.#count;
    this.#count = 0;
    return {
      values: (count === this.#values.length ? this.#values : this.#values.slice(0, count)) as never,
      definitionLevels: this.#definitionLevels.subarray(0, count) as never,
      // Empty for a leaf that does not repeat, as the writer expects.
      repetitionLevels: this.#repetitionLevels.subarray(0, this.#repeated ? count : 0) as never,
      maxDefinitionLevel: this.#maxDefinitionLevel,
    };
  }

  #grow(): void {
    const capacity = this.#definitionLevels.length * 2;
    const definitionLevels = new Uint8Array(capacity);
    definitionLevels.set(this.#definitionLevels);
    this.#definitionLevels = definitionLevels;
    if (this.#repeated) {
      const repetitionLevels = new Uint8Array(capacity);
      repetitionLevels.set(this.#repetitionLevels);
      this.#repetitionLevels = repetitionLevels;
    }
    this.#values.length = capacity;
    this.#values.fill(null, this.#count);
  }
}

/** Makes the leaf column at `schemaPath` (in schema order, one call per leaf). */
type NewLeaf = (schemaPath: SchemaElement[], repeated: boolean) => Leaf;

/** Data pages of about this many value bytes at most (hyparquet-writer's default). */
const PAGE_BYTES = 1 << 20;

/**
 * The shredder of a struct of `columns` whose schema path is `parent` (the row: the root, at level
 * -1), making one {@link Leaf} per leaf column with `newLeaf`, in schema order. A present optional
 * struct raises the level by one; so do a present list or map, each of their entries, and a present
 * element or value. The nesting is `elements()`': OPTIONAL LIST, REPEATED `list`, OPTIONAL `element`;
 * OPTIONAL MAP, REPEATED `key_value`, REQUIRED `key`, OPTIONAL `value`.
 */
function shredderOf(columns: readonly Column[], parent: SchemaElement[], newLeaf: NewLeaf): Shred {
  const members = columns.map((column): [string, Shred] => [
    column.name,
    columnShredder(column, parent, newLeaf),
  ]);
  return (value, definition) => {
    const struct = value as Record<string, unknown> | null | undefined;
    if (struct === null || struct === undefined) {
      for (const [, shred] of members) shred(undefined, definition);
      return;
    }
    for (const [name, shred] of members) shred(struct[name], definition + 1);
  };
}

function columnShredder(column: Column, parent: SchemaElement[], newLeaf: NewLeaf): Shred {
  const [top, ...below] = elements(column) as [SchemaElement, ...SchemaElement[]];
  const path = [...parent, top];
  const present = (value: unknown): boolean => value !== null && value !== undefined;
  switch (column.type) {
    case "struct":
      return shredderOf(column.fields, path, newLeaf);
    case "list<string>": {
      const element = newLeaf([...path, ...below], true);
      return (value, definition) => {
        if (!present(value)) return element.add(null, definition);
        if (!Array.isArray(value)) throw new TypeError(`parquet column ${column.name} must be a list`);
        if (value.length === 0) return element.add(null, definition + 1);
        value.forEach((item, index) => {
          element.add(present(item) ? item : null, definition + (present(item) ? 3 : 2), index === 0 ? 0 : 1);
        });
      };
    }
    case "map<string,string>": {
      const [entry, keyElement, valueElement] = below as [SchemaElement, SchemaElement, SchemaElement];
      const keys = newLeaf([...path, entry, keyElement], true);
      const values = newLeaf([...path, entry, valueElement], true);
      return (value, definition) => {
        if (!present(value)) {
          keys.add(null, definition);
          return values.add(null, definition);
        }
        let index = 0;
        for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
          keys.add(key, definition + 2, index === 0 ? 0 : 1);
          values.add(present(item) ? item : null, definition + (present(item) ? 3 : 2), index === 0 ? 0 : 1);
          index += 1;
        }
        if (index === 0) {
          keys.add(null, definition + 1);
          values.add(null, definition + 1);
        }
      };
    }
    default: {
      const leaf = newLeaf(path, false);
      // The writer takes INT64 as `bigint`.
      const int64 = column.type === "int64";
      return (value, definition) => {
        if (!present(value)) return leaf.add(null, definition);
        leaf.add(int64 && typeof value === "number" ? BigInt(value) : value, definition + 1);
      };
    }
  }
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
