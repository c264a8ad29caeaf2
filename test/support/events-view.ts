/**
 * The Glue table of resources/athena.yml as a DuckDB view over output objects copied to local
 * files, so a test can run the saved queries on what the handler wrote (as test/athena does on its
 * corpus).
 */
import { type AthenaTemplate, loadAthenaTemplate, resolveValue } from "../../src/athena/athena-template.ts";
import { eventsViewSql } from "../../src/athena/duckdb-dialect.ts";
import type { DuckDbSession } from "../../src/athena/duckdb-session.ts";
import { EVENT_COLUMNS, PARTITION_COLUMN } from "../../src/athena/event-columns.ts";
import { dateProjection, partitionOf } from "../../src/athena/projection.ts";

/** Creates the `events` view over `objects` (output key → local path) of `bucket`; the template. */
export async function createEventsView(
  db: DuckDbSession,
  bucket: string,
  objects: readonly { readonly key: string; readonly path: string }[],
): Promise<AthenaTemplate> {
  const template = loadAthenaTemplate();
  const parameters = Object.fromEntries(
    Object.entries(template.table.parameters).map(([name, value]) => [
      name,
      resolveValue(value, {
        "self:custom.athena.bucket": bucket,
        "self:custom.athena.eventsPrefix": "decrypted/raw/",
        "self:custom.athena.projectionStart": "2024/01/01/00",
      }),
    ]),
  );
  const projection = dateProjection(parameters, PARTITION_COLUMN.name);
  await db.query(
    eventsViewSql({
      table: template.table.name,
      bucket: projection.bucket,
      columns: template.table.columns,
      partitionColumn: PARTITION_COLUMN.name,
      jsonKeyOf: (column) =>
        EVENT_COLUMNS.find((candidate) => candidate.jsonKey.toLowerCase() === column)?.jsonKey ?? column,
      objects: objects.map(({ key, path }) => ({
        path,
        key,
        partition: partitionOf(projection, key, new Date()) as string,
      })),
    }),
  );
  return template;
}
