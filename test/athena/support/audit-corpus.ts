/**
 * Real function output for the Athena proof: Firehose objects of all four engines at chosen times,
 * decrypted by the handler on the local S3 and KMS, then copied to a local folder as Athena would
 * find them under `decrypted/`.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ENGINES, type Engine } from "../../../src/local/das-events.ts";
import { buildFirehoseObject, type InnerRecord, type SuiteName } from "../../../src/local/fixtures.ts";
import { type LocalStack, s3Notification } from "../../../src/local/stack.ts";
import { getBytes, handlerFor, listKeys, putObject } from "../../support/harness.ts";
import type { SourceEvent } from "./expected-answers.ts";

export const CLUSTER = "cluster-P74MFUJBI3PYA2N5L22YVVX3VY";
export const DB = "db-KBKJGYAAF5QT253EYKEI37WBCY";

/** When the objects' first records were written, all before today so that the projection covers them. */
export const SLOTS = [
  { name: "wednesday-morning", startMs: Date.UTC(2026, 10, 18, 10, 15, 0) },
  { name: "wednesday-night", startMs: Date.UTC(2026, 10, 18, 22, 30, 0) },
  // Starts 0.8 s before 08:00 and runs past it: the business-hours edge falls inside the object.
  { name: "thursday-dawn", startMs: Date.UTC(2026, 10, 19, 7, 59, 59, 200) },
  // Starts 0.6 s before 18:00 and runs past it: the evening edge too.
  { name: "thursday-evening", startMs: Date.UTC(2026, 10, 19, 17, 59, 59, 400) },
  { name: "saturday", startMs: Date.UTC(2026, 10, 21, 11, 5, 0) },
] as const;

export interface CorpusObject {
  readonly engine: Engine;
  readonly rawKey: string;
  readonly outputKey: string;
  readonly records: InnerRecord[];
}

export interface Corpus {
  readonly objects: CorpusObject[];
  /** Every output object in the bucket, copied to `localRoot` + key. */
  readonly outputKeys: string[];
  readonly events: SourceEvent[];
}

const pad = (n: number) => String(n).padStart(2, "0");

/** `raw/YYYY/MM/dd/HH/<stream>-1-YYYY-MM-dd-HH-mm-ss-<id>`: Firehose's key for an object started at `ms`. */
export function firehoseKey(stream: string, ms: number, id: number, gzip: boolean): string {
  const d = new Date(ms);
  const [y, mo, day, h, mi, s] = [
    d.getUTCFullYear(),
    pad(d.getUTCMonth() + 1),
    pad(d.getUTCDate()),
    pad(d.getUTCHours()),
    pad(d.getUTCMinutes()),
    pad(d.getUTCSeconds()),
  ];
  const uuid = `6f1c2a3b-0000-4000-8000-${String(id).padStart(12, "0")}`;
  return `raw/${y}/${mo}/${day}/${h}/${stream}-1-${y}-${mo}-${day}-${h}-${mi}-${s}-${uuid}${gzip ? ".gz" : ""}`;
}

/**
 * Writes one object per engine and slot (both suites, both delimiters, GZIP or not, heartbeats),
 * runs the handler on each, and copies every output object to `localRoot`.
 */
export async function buildCorpus(stack: LocalStack, bucket: string, localRoot: string): Promise<Corpus> {
  const handlers = {
    cluster: handlerFor(stack, { DAS_RESOURCE_ID: CLUSTER }).handler,
    db: handlerFor(stack, { DAS_RESOURCE_ID: DB }).handler,
  };
  const objects: CorpusObject[] = [];
  let id = 0;
  for (const slot of SLOTS) {
    for (const engine of ENGINES) {
      id += 1;
      const gzip = id % 2 === 0;
      const aurora = engine.startsWith("aurora");
      const rawKey = firehoseKey(`das-${engine}`, slot.startMs, id, gzip);
      const fixture = await buildFirehoseObject(stack.kmsClient, stack.kms.keyArn, {
        engine,
        resourceId: aurora ? CLUSTER : DB,
        records: 30,
        eventsPerRecord: 3,
        suite: (id % 3 === 0 ? "signed" : "unsigned") satisfies SuiteName,
        delimiter: id % 2 === 1 ? "newline" : "none",
        gzip,
        heartbeatEvery: 10,
        startMs: slot.startMs,
        seed: id,
      });
      const etag = await putObject(stack, bucket, rawKey, fixture.body);
      await (aurora ? handlers.cluster : handlers.db)(
        s3Notification(bucket, rawKey, etag, fixture.body.length),
      );
      objects.push({
        engine,
        rawKey,
        outputKey: `decrypted/${rawKey.replace(/\.gz$/, "")}.gz`,
        records: fixture.records,
      });
    }
  }
  const outputKeys = await listKeys(stack, bucket, "decrypted/");
  for (const key of outputKeys) {
    const path = join(localRoot, key);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, await getBytes(stack, bucket, key));
  }
  const events = objects.flatMap(({ engine, rawKey, outputKey, records }) =>
    records.flatMap((record) =>
      record.databaseActivityEventList
        .filter((event) => event.type !== "heartbeat")
        .map((event) => ({
          engine,
          event,
          datehour: rawKey.split("/").slice(1, 5).join("/"),
          sourceObject: `s3://${bucket}/${outputKey}`,
        })),
    ),
  );
  return { objects, outputKeys, events };
}
