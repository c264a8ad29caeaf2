/**
 * `npm start`: the whole product on this machine, no AWS account. Starts a local S3 and KMS, writes
 * Firehose objects of encrypted DAS records for four engines under `raw/`, delivers each S3
 * notification to the real handler, and reports what was decrypted. Copies of the raw and the
 * decrypted objects are left under `.local/sample/`.
 *
 * `npm start -- --serve` then keeps the S3 and KMS running, prints the `export` lines and the
 * command-line examples that work against them, and stops them on Ctrl-C (or SIGTERM).
 */
import { mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { gunzipSync } from "node:zlib";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { createHandler } from "../lambda/handler.ts";
import type { ObjectSummary } from "../process-object.ts";
import type { Engine } from "./das-events.ts";
import { buildFirehoseObject, type FixtureOptions } from "./fixtures.ts";
import { sampleLine } from "./sample-line.ts";
import { serveUntilStopped, type WrittenObject } from "./serve.ts";
import { type LocalStack, s3Notification, startLocalStack } from "./stack.ts";
import { summarizeEvents } from "./summarize-events.ts";

const BUCKET = "das-audit-local";
const OUT_DIR = ".local/sample";

const STREAMS: { engine: Engine; resourceId: string }[] = [
  { engine: "aurora-postgresql", resourceId: "cluster-P74MFUJBI3PYA2N5L22YVVX3VY" },
  { engine: "aurora-mysql", resourceId: "cluster-7QXWJ3M2KDLA5RTB6YHNGZ4CUE" },
  { engine: "oracle", resourceId: "db-KBKJGYAAF5QT253EYKEI37WBCY" },
  { engine: "sqlserver", resourceId: "db-R2D5N6VXQ3JMW7T4PLKB5YHC2A" },
];

/** Two objects per stream, covering both suites, both delimiters, GZIP, key rotation and heartbeats. */
const OBJECTS: Omit<FixtureOptions, "engine" | "resourceId">[] = [
  {
    records: 120,
    eventsPerRecord: 1,
    suite: "unsigned",
    delimiter: "none",
    heartbeatEvery: 20,
    rotateKeyEvery: 50,
  },
  { records: 60, eventsPerRecord: 5, suite: "signed", delimiter: "newline", gzip: true, heartbeatEvery: 15 },
];

const USAGE = "usage: npm start [-- --serve]";

async function main(): Promise<void> {
  let serve: boolean;
  try {
    serve = parseArgs({ options: { serve: { type: "boolean", default: false } } }).values.serve;
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  const stack = await startLocalStack({ kms: { seed: "npm-start" } });
  try {
    const { map, written } = await runDemo(stack);
    if (serve)
      await serveUntilStopped(stack, { bucket: BUCKET, resourceIdMap: map, written, copies: OUT_DIR });
    else
      console.log(
        "\nmore: the decrypted objects are in .local/sample/decrypted/ (gzip); `npm start -- --serve` keeps" +
          " the local S3 and KMS running and prints the exports to try das-decrypt cat and reprocess on them",
      );
  } finally {
    await stack.stop();
  }
}

/** Writes the objects, has the handler decrypt each, and prints what came out. */
async function runDemo(
  stack: LocalStack,
): Promise<{ map: Record<string, string>; written: WrittenObject[] }> {
  stack.createBucket(BUCKET);
  const map = Object.fromEntries(STREAMS.map(({ engine, resourceId }) => [`raw/${engine}/`, resourceId]));
  // The per-object log lines are summarized below instead; warnings and errors still print.
  process.env.POWERTOOLS_LOG_LEVEL ??= "WARN";
  process.env.POWERTOOLS_METRICS_DISABLED ??= "true";
  const handler = createHandler({ ...stack.env, DAS_RESOURCE_ID_MAP: JSON.stringify(map) });
  await rm(OUT_DIR, { recursive: true, force: true });
  console.log(`local S3  ${stack.s3Endpoint}  bucket ${BUCKET}`);
  console.log(`local KMS ${stack.kms.endpoint}  key ${stack.kms.keyArn}\n`);

  const lines: Record<string, unknown>[] = [];
  const summaries: ObjectSummary[] = [];
  const written: WrittenObject[] = [];
  for (const { engine, resourceId } of STREAMS) {
    for (const options of OBJECTS) {
      const n = written.length + 1;
      const key = firehoseKey(engine, n);
      const fixture = await buildFirehoseObject(stack.kmsClient, stack.kms.keyArn, {
        ...options,
        engine,
        resourceId,
        seed: n,
      });
      await stack.s3Client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: fixture.body }));
      await saveCopy(key, fixture.body);
      written.push({ engine, resourceId, key });
      const result = await handler(s3Notification(BUCKET, key, "", fixture.body.length));
      if (!("objects" in result)) throw new Error("unexpected handler result");
      for (const summary of result.objects) {
        summaries.push(summary);
        const output = await download(stack, summary.outputBucket, summary.outputKey);
        await saveCopy(summary.outputKey, output);
        const text = gunzipSync(output).toString("utf8");
        for (const line of text.split("\n"))
          if (line !== "") lines.push(JSON.parse(line) as Record<string, unknown>);
        console.log(
          `s3://${BUCKET}/${key}\n  → s3://${summary.outputBucket}/${summary.outputKey}` +
            `  (${count(summary.records, "record")}, ${count(summary.events, "event")},` +
            ` ${count(summary.heartbeatsDropped, "heartbeat")} dropped, ${count(summary.kmsCalls, "KMS call")},` +
            ` ${summary.ms} ms)`,
        );
      }
    }
  }
  console.log(`\n${summarizeEvents(lines)}`);
  const totals = summaries.reduce(
    (sum, s) => ({ records: sum.records + s.records, kms: sum.kms + s.kmsCalls }),
    { records: 0, kms: 0 },
  );
  console.log(
    `\n${count(summaries.length, "object")}, ${count(totals.records, "record")}, ${count(lines.length, "event")},` +
      ` ${count(totals.kms, "KMS Decrypt call")}`,
  );
  const sample = sampleLine(lines);
  if (sample !== undefined)
    console.log(`one decrypted line (${sample.shown} of its ${sample.fields} fields):\n  ${sample.text}`);
  console.log(`copies of the raw and decrypted objects: ${join(process.cwd(), OUT_DIR)}/`);
  await showPolicy(stack, map, lines);
  return { map, written };
}

/** `1 KMS call`, `3 KMS calls`. */
function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/** The settings the redaction demo runs with (docs/configuration.md explains each). */
const POLICY_ENV = {
  EXCLUDE_USERS: "rdsadmin",
  REDACT_PARAMS: "hash",
  REDACT_FIELDS: "remoteHost",
  REDACT_SQL_LITERALS: "true",
  OUTPUT_PREFIX: "redacted/",
  QUARANTINE_PREFIX: "redacted-quarantine/",
};

/**
 * Decrypts the first Aurora PostgreSQL object again with filters and redaction on, and shows one
 * event with bind values before and after, and what the filters dropped. Fake data only.
 */
async function showPolicy(
  stack: LocalStack,
  map: Record<string, string>,
  plain: readonly Record<string, unknown>[],
): Promise<void> {
  const handler = createHandler({
    ...stack.env,
    DAS_RESOURCE_ID_MAP: JSON.stringify(map),
    ...POLICY_ENV,
    PARAM_HASH_KEY_ID: stack.kms.keyArn,
  });
  const key = firehoseKey("aurora-postgresql", 1);
  const result = await handler(s3Notification(BUCKET, key));
  if (!("objects" in result)) throw new Error("unexpected handler result");
  const [summary] = result.objects;
  if (summary === undefined) return;
  const output = gunzipSync(await download(stack, summary.outputBucket, summary.outputKey)).toString("utf8");
  const redacted = output
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const original = (event: Record<string, unknown>) =>
    plain.find((other) => other.instanceId === event.instanceId && other.logTime === event.logTime);
  // One event with bind values, one with a literal in its statement.
  const shownEvents = [
    redacted.find((event) => Array.isArray(event.paramList) && event.paramList.length > 0),
    redacted.find((event) => {
      const text = original(event)?.commandText;
      return typeof text === "string" && text !== event.commandText;
    }),
  ];
  const { user, database, command } = summary.eventsFiltered;
  console.log(
    `\nwith ${Object.entries(POLICY_ENV)
      .slice(0, 4)
      .map(([name, value]) => `${name}=${value}`)
      .join(" ")}:` +
      `\n  s3://${BUCKET}/${key}\n  → s3://${summary.outputBucket}/${summary.outputKey}` +
      `  (${count(summary.events, "event")} written, ${user + database + command} filtered (user ${user},` +
      ` database ${database}, command ${command}), ${summary.eventsRedacted} redacted,` +
      ` ${count(summary.heartbeatsDropped, "heartbeat")} dropped)`,
  );
  const shown = (event: Record<string, unknown>) =>
    JSON.stringify({
      dbUserName: event.dbUserName,
      remoteHost: event.remoteHost,
      commandText: event.commandText,
      paramList: event.paramList,
    });
  for (const after of shownEvents) {
    const before = after === undefined ? undefined : original(after);
    if (before === undefined || after === undefined) continue;
    console.log(`  one event before: ${shown(before)}`);
    console.log(`  and after:        ${shown(after)}`);
  }
}

function firehoseKey(engine: Engine, n: number): string {
  const hour = `2026/11/25/${String(9 + (n % 3)).padStart(2, "0")}`;
  const stamp = `2026-11-25-${String(9 + (n % 3)).padStart(2, "0")}-0${n % 6}-1${n % 10}`;
  return `raw/${engine}/${hour}/das-${engine}-1-${stamp}-6f1c2a3b-0000-4000-8000-00000000000${n % 10}`;
}

async function saveCopy(key: string, body: Buffer): Promise<void> {
  const path = join(OUT_DIR, key);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, body);
}

async function download(stack: LocalStack, bucket: string, key: string): Promise<Buffer> {
  const answer = await stack.s3Client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(
    await (answer.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
