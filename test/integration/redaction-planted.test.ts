/**
 * Personal data planted where engines put it — string literals of every engine's kinds, comments,
 * bind values, the client's address — must be absent from every byte the function writes and logs
 * with redaction on, for all four engines; and the saved query `top-statements`, run by DuckDB over
 * that output, must still group a statement's executions whatever their literals were.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { namedQuery } from "../../src/athena/athena-template.ts";
import { openDuckDbSession } from "../../src/athena/duckdb-session.ts";
import { ENGINES, type Engine, type Event } from "../../src/local/das-events.ts";
import { buildFirehoseObject, type InnerRecord } from "../../src/local/fixtures.ts";
import { type LocalStack, s3Notification, startLocalStack } from "../../src/local/stack.ts";
import { UNREADABLE_SQL } from "../../src/policy/redact-sql.ts";
import { createEventsView } from "../support/events-view.ts";
import { getBytes, handlerFor, listKeys, putObject } from "../support/harness.ts";

const BUCKET = "das-redaction";
const CLUSTER = "cluster-P74MFUJBI3PYA2N5L22YVVX3VY";
const DB = "db-KBKJGYAAF5QT253EYKEI37WBCY";

/** What must never be written: each is in every planted value below, in one form or another. */
const MARKS = ["planted", "4111111111111111", "4111 1111 1111 1111", "zoë"];
const VALUES = ["ann.planted@example.com", "4111 1111 1111 1111", "4111111111111111", "Zoë Planted"];

/**
 * Statement shapes per engine, each naming its own table `pii_<n>` (identifiers stay), with a
 * planted value `v` and a number `n` in the literal forms of the engine. The last is one the lexer
 * cannot read (an unterminated string): it must be replaced whole.
 */
const SHAPES: Record<Engine, ((v: string, n: number) => [command: string, text: string])[]> = {
  "aurora-postgresql": [
    (v, n) => ["SELECT", `SELECT * FROM pii_0 WHERE email = '${v}' AND id = ${n} AND k = $1`],
    (v) => ["INSERT", `INSERT INTO pii_1 (body) VALUES (E'${v}\\n\\'x') /* from ${v} */`],
    (v, n) => ["UPDATE", `UPDATE pii_2 SET note = $tag$${v} it's$tag$, n = ${n}.5e3 WHERE k = $1`],
    (v) => ["SELECT", `SELECT $$${v}$$::text, U&'${v}' FROM pii_3 -- ${v}`],
    (v) => ["SELECT", `SELECT * FROM pii_9 WHERE a = '${v}`],
  ],
  "aurora-mysql": [
    (v, n) => ["QUERY", `SELECT * FROM pii_0 WHERE email = "${v}" AND id = ${n}`],
    (v, n) => ["QUERY", `UPDATE pii_1 SET note = 'it\\'s ${v}' WHERE id = ${n} # ${v}`],
    (v, n) => ["QUERY", `INSERT INTO pii_2 VALUES (_utf8mb4'${v}', X'4f', ${n})`],
    (v) => ["QUERY", `SELECT * FROM pii_9 WHERE a = "${v}`],
  ],
  oracle: [
    (v, n) => ["SELECT", `SELECT * FROM pii_0 WHERE email = q'[${v} it's]' AND id = ${n}`],
    (v, n) => ["INSERT", `INSERT INTO pii_1 VALUES (N'${v}', ${n}.5) -- ${v}`],
    (v) => ["SELECT", `SELECT /*+ INDEX(pii_2 '${v}') */ * FROM pii_2 WHERE a = q'{${v}}' AND b = :1`],
    (v) => ["SELECT", `SELECT * FROM pii_9 WHERE a = q'[${v}'`],
  ],
  sqlserver: [
    (v, n) => ["SELECT", `SELECT * FROM pii_0 WHERE email = N'${v}' AND id = ${n}`],
    (v, n) => ["UPDATE", `UPDATE [dbo].[pii_1] SET note = 'O''Brien ${v}' WHERE id = ${n} -- ${v}`],
    (v, n) => ["INSERT", `INSERT INTO pii_2 VALUES (0x${n}F, N'${v}', @p1)`],
    (v) => ["SELECT", `SELECT * FROM pii_9 WHERE a = N'${v}`],
  ],
};

/** Plants a shape in every event that carries a statement, and planted bind values where there are any. */
function plant(engine: Engine) {
  // Counted per class, so that Aurora MySQL's MAIN events (the ones top-statements counts) take every shape.
  const planted = new Map<unknown, number>();
  return (events: Event[]): Event[] =>
    events.map((event) => {
      const text = event.commandText;
      if (typeof text !== "string" || text === "" || event.class === "LOGIN") return event;
      const shapes = SHAPES[engine];
      const n = planted.get(event.class) ?? 0;
      planted.set(event.class, n + 1);
      const value = VALUES[n % VALUES.length] as string;
      const [command, commandText] = (shapes[n % shapes.length] as (typeof shapes)[number])(value, n);
      return {
        ...event,
        command,
        commandText,
        remoteHost: `planted-host-${n}`,
        ...(Array.isArray(event.paramList) ? { paramList: [value, "4111111111111111", null] } : {}),
      };
    });
}

const REDACTION_ENV = {
  REDACT_SQL_LITERALS: "true",
  REDACT_PARAMS: "hash",
  REDACT_FIELDS: "remoteHost",
};

let stack: LocalStack;
let root: string;
const planted: Record<string, { records: InnerRecord[]; outputKey: string }> = {};

beforeAll(async () => {
  stack = await startLocalStack();
  stack.createBucket(BUCKET);
  root = await mkdtemp(join(tmpdir(), "redaction-leak-check-"));
});
afterAll(async () => {
  await stack?.stop();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

describe("REDACT_SQL_LITERALS=true, REDACT_PARAMS=hash, REDACT_FIELDS=remoteHost: no planted value is written or logged", () => {
  for (const engine of ENGINES) {
    test(engine, async () => {
      const resourceId = engine.startsWith("aurora") ? CLUSTER : DB;
      const key = `raw/2026/11/25/10/${engine}-leak-check`;
      const fixture = await buildFirehoseObject(stack.kmsClient, stack.kms.keyArn, {
        engine,
        resourceId,
        records: 40,
        eventsPerRecord: 3,
        heartbeatEvery: 9,
        seed: 41,
        mapEvents: plant(engine),
      });
      const source = fixture.body.toString("utf8");
      // Encrypted, the planted values are not in the source either: only the output could leak them.
      for (const mark of MARKS) expect(source.toLowerCase().includes(mark)).toBe(false);
      const etag = await putObject(stack, BUCKET, key, fixture.body);
      const { handler, log } = handlerFor(stack, {
        DAS_RESOURCE_ID: resourceId,
        PARAM_HASH_KEY_ID: stack.kms.keyArn,
        ...REDACTION_ENV,
      });
      await handler(s3Notification(BUCKET, key, etag, fixture.body.length));

      const statements = fixture.records.flatMap((record) =>
        record.databaseActivityEventList.filter((event) => String(event.commandText).includes("pii_")),
      );
      expect(statements.length).toBeGreaterThan(20);
      const unreadable = statements.filter((event) => String(event.commandText).includes("pii_9")).length;
      expect(unreadable).toBeGreaterThan(0);

      const keys = await listKeys(stack, BUCKET);
      const written = keys.filter((k) => !k.startsWith("raw/"));
      expect(written).toContain(`decrypted/${key}.gz`);
      for (const k of written) {
        const bytes = await getBytes(stack, BUCKET, k);
        const text = (k.endsWith(".gz") ? gunzipSync(bytes) : bytes).toString("utf8").toLowerCase();
        for (const mark of MARKS) expect(text.includes(mark), `${mark} in ${k}`).toBe(false);
      }
      const logged = log.text().toLowerCase();
      for (const mark of MARKS) expect(logged.includes(mark), `${mark} logged`).toBe(false);

      const gzipped = await getBytes(stack, BUCKET, `decrypted/${key}.gz`);
      const output = gunzipSync(gzipped).toString("utf8");
      const lines = output
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line) as Event);
      expect(lines.filter((line) => line.commandText === UNREADABLE_SQL)).toHaveLength(unreadable);
      const summary = log.lines.find((line) => line.message === "object decrypted")?.extra as Record<
        string,
        unknown
      >;
      expect(summary).toMatchObject({ statementsUnreadable: unreadable });
      planted[engine] = { records: fixture.records, outputKey: `decrypted/${key}.gz` };
      await mkdir(dirname(join(root, `decrypted/${key}.gz`)), { recursive: true });
      await writeFile(join(root, `decrypted/${key}.gz`), gzipped);
    });
  }

  test("top-statements groups each statement's executions into one row, whatever its literals were", async () => {
    expect(Object.keys(planted).sort()).toEqual([...ENGINES].sort());
    const db = await openDuckDbSession();
    try {
      const template = await createEventsView(
        db,
        BUCKET,
        Object.values(planted).map(({ outputKey }) => ({ key: outputKey, path: join(root, outputKey) })),
      );
      const rows = await db.query(namedQuery(template, "top-statements").queryString, [
        "2026/11/25/00",
        "2026/11/25/23",
      ]);
      for (const engine of ENGINES) {
        const { records } = planted[engine] as (typeof planted)[string];
        const events = records.flatMap((record) => record.databaseActivityEventList);
        for (const [shape] of SHAPES[engine].entries()) {
          const table = shape === SHAPES[engine].length - 1 ? "pii_9" : `pii_${shape}`;
          const executions = events.filter(
            (event) => String(event.commandText).includes(table) && event.class !== "AUX",
          ).length;
          expect(executions, `${engine} ${table}`).toBeGreaterThan(1);
          // The unreadable statements are one row too, under the marker that replaced them.
          const matching = rows.filter(
            (row) =>
              row.engine === engine &&
              String(row.commandtext).includes(table === "pii_9" ? UNREADABLE_SQL : table),
          );
          expect(
            matching.map((row) => Number(row.executions)),
            `${engine} ${table}`,
          ).toEqual([executions]);
        }
      }
    } finally {
      db.close();
    }
  });
});
