import { constants, gunzipSync, gzipSync } from "node:zlib";
import { DecryptCommand } from "@aws-sdk/client-kms";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { parseResourceId } from "../../src/decrypt/resource-id.ts";
import { type EncryptedRecord, encryptedRecords, expectedEventLines } from "../../src/local/fixtures.ts";
import { type LocalStack, s3Notification, startLocalStack } from "../../src/local/stack.ts";
import {
  createSealer,
  cutMessage,
  gzippedJson,
  type Sealer,
  tamperedMessage,
  withFields,
} from "../support/bad-records.ts";
import { type AssembledObject, assemble, expectedLine, type Part } from "../support/corpus.ts";
import { listKeys, outputFacts, putObject, readLines } from "../support/harness.ts";
import { LeakWatch } from "../support/leak-watch.ts";

const BUCKET = "das-failures";
const CLUSTER = "cluster-P74MFUJBI3PYA2N5L22YVVX3VY";
const OTHER_CLUSTER = "cluster-ZZZZZZZZZZZZZZZZZZZZZZZZZZ";
const MAX_RECORD_BYTES = 4096;

const watch = new LeakWatch();
let stack: LocalStack;
let good: EncryptedRecord[];
let sealer: Sealer;
let secondKey: Sealer;
let foreign: Sealer;

beforeAll(async () => {
  stack = await startLocalStack();
  stack.createBucket(BUCKET);
  good = [];
  for await (const record of encryptedRecords(stack.kmsClient, stack.kms.keyArn, {
    engine: "aurora-postgresql",
    resourceId: CLUSTER,
    records: 16,
    eventsPerRecord: 2,
    seed: 5,
  }))
    good.push(record);
  sealer = await createSealer(stack.kmsClient, stack.kms.keyArn, CLUSTER);
  secondKey = await createSealer(stack.kmsClient, stack.kms.keyArn, CLUSTER);
  foreign = await createSealer(stack.kmsClient, stack.kms.keyArn, OTHER_CLUSTER);
  watch.addRecords(good.map((record) => record.inner));
  for (const record of good) watch.addRawRecord(record.bytes);
  await watchDataKey(good[0]?.bytes as Buffer, CLUSTER);
});
afterAll(async () => {
  await stack.stop();
});

async function watchDataKey(record: Buffer, resourceId: string): Promise<void> {
  const resource = parseResourceId(resourceId, "id");
  const blob = Buffer.from(String(JSON.parse(record.toString()).key), "base64");
  const answer = await stack.kmsClient.send(
    new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { [resource.contextKey]: resource.id } }),
  );
  if (answer.Plaintext !== undefined) watch.addDataKey(answer.Plaintext);
}

const g = (index: number): Part => ({ good: good[index] as EncryptedRecord });
const bad = (
  bytes: Buffer | string,
  reason: string,
  message: RegExp,
  raw?: "bytes" | "bytes+separator" | "none",
): Part => ({
  bad: Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes),
  reason,
  message,
  ...(raw === undefined ? {} : { raw }),
});
const record = (index: number) => (good[index] as EncryptedRecord).bytes;

/** Runs the handler on `object` and checks output lines, quarantine lines, log and metadata. */
async function expectHandled(name: string, object: AssembledObject, extra: { recordsIn?: number } = {}) {
  const key = `raw/corpus/2026/11/25/10/${name}`;
  await putObject(stack, BUCKET, key, object.body);
  const { handler, log } = watch.handlerFor(stack, {
    DAS_RESOURCE_ID: CLUSTER,
    MAX_RECORD_BYTES: String(MAX_RECORD_BYTES),
  });
  await handler(s3Notification(BUCKET, key));
  const outputKey = `decrypted/${key}.gz`;
  expect(await readLines(stack, BUCKET, outputKey)).toEqual(expectedEventLines(object.good));
  const recordsIn = extra.recordsIn ?? object.pieces;
  const quarantined = object.quarantine.length;
  if (quarantined > 0) {
    expect(await readLines(stack, BUCKET, `quarantine/${key}`)).toEqual(object.quarantine);
  } else {
    expect(await listKeys(stack, BUCKET, `quarantine/${key}`)).toEqual([]);
  }
  const reasons: Record<string, number> = {};
  for (const line of object.quarantine) reasons[line.reason] = (reasons[line.reason] ?? 0) + 1;
  expect(recordsIn).toBe(object.good.length + quarantined);
  expect(log.lines.find((line) => line.message === "object decrypted")?.extra).toMatchObject({
    outcome: quarantined > 0 ? "decrypted-with-quarantine" : "decrypted",
    recordsIn,
    records: object.good.length,
    quarantined,
    quarantineReasons: reasons,
  });
  expect(await outputFacts(stack, BUCKET, outputKey)).toMatchObject({
    "records-in": String(recordsIn),
    records: String(object.good.length),
    quarantined: String(quarantined),
  });
}

const INVALID_JSON = /not valid JSON/;
const NO_KEY = /no key field/;
const NO_EVENTS = /no databaseActivityEvents field/;
const BAD_BASE64 = /not valid base64/;
const KMS_REFUSED =
  /KMS refused the record's data key under aws:rds:dbc-id=cluster-P74MFUJBI3PYA2N5L22YVVX3VY/;
const NOT_AUTHENTIC = /does not authenticate under the record's data key/;
const CUT_SHORT = /not a valid Encryption SDK message: it ends at byte/;
const NOT_GZIP = /not gzip data/;
const NOT_DAS = /not JSON|no databaseActivityEventList|holds a non-object/;
const GARBAGE = /bytes that are not a JSON object/;
const TRUNCATED = /ends inside this record/;
const TOO_LARGE = /over MAX_RECORD_BYTES \(4096\)/;
const GZIP_CUT = /GZIP stream ends early/;

describe("each malformed input is quarantined with its index, offset and reason; the rest is decrypted", () => {
  const cases: [string, () => Promise<Part[]> | Part[], string?][] = [
    [
      "a record that is not valid JSON",
      () => [
        g(0),
        bad('{"type":"DatabaseActivityMonitoringRecords","key":nope}', "invalid-json", INVALID_JSON),
        g(1),
      ],
    ],
    [
      "a record without a key field",
      () => [g(0), bad(withFields(record(1), { key: undefined }), "missing-key", NO_KEY), g(2)],
    ],
    [
      "a record with an empty key",
      () => [g(0), bad(withFields(record(1), { key: "" }), "missing-key", NO_KEY), g(2)],
    ],
    [
      "a record without databaseActivityEvents",
      () => [
        g(0),
        bad(withFields(record(1), { databaseActivityEvents: undefined }), "missing-events", NO_EVENTS),
        g(2),
      ],
    ],
    [
      "databaseActivityEvents that is a number, not a string",
      () => [
        g(0),
        bad(withFields(record(1), { databaseActivityEvents: 42 }), "missing-events", NO_EVENTS),
        g(2),
      ],
    ],
    [
      "databaseActivityEvents that is not valid base64",
      () => [
        g(0),
        bad(withFields(record(1), { databaseActivityEvents: "AYAB*not*base64!" }), "bad-base64", BAD_BASE64),
        g(2),
      ],
    ],
    [
      "a data key of another stream (KMS InvalidCiphertextException)",
      async () => [
        g(0),
        bad(
          await foreign.seal(gzippedJson({ databaseActivityEventList: [] })),
          "kms-invalid-ciphertext",
          KMS_REFUSED,
        ),
        g(1),
      ],
    ],
    [
      "a key field that is no KMS ciphertext at all",
      () => [
        g(0),
        bad(
          withFields(record(1), { key: Buffer.from("not a kms blob").toString("base64") }),
          "kms-invalid-ciphertext",
          KMS_REFUSED,
        ),
        g(2),
      ],
    ],
    [
      "a tampered Encryption SDK message",
      () => [g(0), bad(tamperedMessage(record(1)), "message-authentication-failed", NOT_AUTHENTIC), g(2)],
    ],
    [
      "a message cut short inside its ciphertext",
      () => [g(0), bad(cutMessage(record(1)), "message-truncated", CUT_SHORT), g(2)],
    ],
    [
      "a message sealed under another data key than its key field names",
      async () => [
        g(0),
        bad(
          withFields(await secondKey.seal(gzippedJson({ databaseActivityEventList: [] })), {
            key: sealer.keyBlob,
          }),
          "message-authentication-failed",
          NOT_AUTHENTIC,
        ),
        g(1),
      ],
    ],
    [
      "a payload that is not gzip",
      async () => [
        g(0),
        bad(await sealer.seal(Buffer.from("plain words, not gzip")), "gunzip-failed", NOT_GZIP),
        g(1),
      ],
    ],
    [
      "a gzip payload that is not JSON",
      async () => [g(0), bad(await sealer.seal(gzipSync("just text")), "not-das-record", NOT_DAS), g(1)],
    ],
    [
      "JSON that is not a DAS record (no databaseActivityEventList)",
      async () => [
        g(0),
        bad(
          await sealer.seal(gzippedJson({ type: "DatabaseActivityMonitoringRecord", note: "x" })),
          "not-das-record",
          NOT_DAS,
        ),
        g(1),
      ],
    ],
    [
      "a DAS record whose event list holds a null",
      async () => [
        g(0),
        bad(
          await sealer.seal(
            gzippedJson({
              type: "DatabaseActivityMonitoringRecord",
              instanceId: "db-X",
              databaseActivityEventList: [null],
            }),
          ),
          "not-das-record",
          NOT_DAS,
        ),
        g(1),
      ],
    ],
    ["text garbage between records", () => [g(0), bad("this is no record", "garbage", GARBAGE), g(1)]],
    [
      "binary garbage between records (kept as base64)",
      () => [g(0), bad(Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x81, 0x7a]), "garbage", GARBAGE), g(1)],
    ],
    ["a top-level JSON array", () => [g(0), bad("[1,2,3]", "garbage", GARBAGE), g(1)]],
    ["stray closing braces", () => [g(0), bad("}}]", "garbage", GARBAGE), g(1)]],
    [
      "garbage between newline-delimited records keeps the newline in raw",
      () => [g(0), bad("not json", "garbage", GARBAGE, "bytes+separator"), g(1)],
      "\n",
    ],
    [
      "an object cut off inside its last record",
      () => [g(0), g(1), bad(record(2).subarray(0, 300), "truncated", TRUNCATED)],
    ],
    [
      "a record over MAX_RECORD_BYTES (its bytes are not kept)",
      () => [
        g(0),
        bad(withFields(record(1), { pad: "p".repeat(MAX_RECORD_BYTES) }), "too-large", TOO_LARGE, "none"),
        g(2),
      ],
    ],
    [
      "bad records at the first and the last position",
      () => [
        bad('{"broken":}', "invalid-json", INVALID_JSON),
        g(0),
        g(1),
        bad(tamperedMessage(record(2)), "message-authentication-failed", NOT_AUTHENTIC),
      ],
    ],
    [
      "one object mixing good records with every kind of bad one",
      async () => [
        g(3),
        bad("not a record", "garbage", GARBAGE, "bytes+separator"),
        g(4),
        bad(withFields(record(5), { key: undefined }), "missing-key", NO_KEY),
        bad(tamperedMessage(record(6)), "message-authentication-failed", NOT_AUTHENTIC),
        g(7),
        bad(
          await foreign.seal(gzippedJson({ databaseActivityEventList: [] })),
          "kms-invalid-ciphertext",
          KMS_REFUSED,
        ),
        g(8),
        bad(await sealer.seal(Buffer.from("x")), "gunzip-failed", NOT_GZIP),
        g(9),
        g(10),
        bad(withFields(record(11), { databaseActivityEvents: "%%%" }), "bad-base64", BAD_BASE64),
        g(12),
        bad(record(13).subarray(0, 100), "truncated", TRUNCATED),
      ],
      "\n",
    ],
    ["an empty object", () => []],
  ];
  test.each(cases)("%s", async (name, build, separator) => {
    await expectHandled(name.replace(/\W+/g, "-"), assemble(await build(), separator ?? ""));
  });

  test("an object of only whitespace has no records and nothing to quarantine", async () => {
    await expectHandled("whitespace-only", {
      body: Buffer.from(" \n\r\n\t "),
      good: [],
      quarantine: [],
      pieces: 0,
    });
  });
});

describe("a GZIP object that is cut off: what is readable is decrypted, the rest is quarantined at its offset", () => {
  const plainOf = (count: number) =>
    Buffer.concat(good.slice(0, count).flatMap((r) => [r.bytes, Buffer.from("\n")]));

  test("cut inside its trailer: every record decrypts, the cut is recorded after the last one", async () => {
    const plain = plainOf(8);
    const body = gzipSync(plain).subarray(0, -4);
    const object = assemble(
      good.slice(0, 8).map((r) => ({ good: r })),
      "\n",
    );
    const cut = expectedLine(8, plain.length, 0, "gzip-truncated", GZIP_CUT, Buffer.alloc(0));
    await expectHandled("gzip-cut-in-trailer", { body, good: object.good, quarantine: [cut], pieces: 9 });
  });

  test("cut in the middle: whole records before the cut decrypt, the cut record and the cut are quarantined", async () => {
    const plain = plainOf(12);
    const compressed = gzipSync(plain);
    const body = compressed.subarray(0, Math.floor(compressed.length * 0.55));
    // What zlib can inflate from the cut bytes, computed independently of the handler.
    const readable = gunzipSync(body, { finishFlush: constants.Z_SYNC_FLUSH });
    const object: Pick<AssembledObject, "good" | "quarantine"> = { good: [], quarantine: [] };
    let offset = 0;
    let index = 0;
    for (const r of good.slice(0, 12)) {
      const end = offset + r.bytes.length;
      if (end <= readable.length) object.good.push(r.inner);
      else {
        if (offset < readable.length) {
          object.quarantine.push(
            expectedLine(
              index,
              offset,
              readable.length - offset,
              "truncated",
              TRUNCATED,
              readable.subarray(offset),
            ),
          );
          index += 1;
        }
        break;
      }
      offset = end + 1;
      index += 1;
    }
    object.quarantine.push(
      expectedLine(index, readable.length, 0, "gzip-truncated", GZIP_CUT, Buffer.alloc(0)),
    );
    expect(object.good.length).toBeGreaterThan(2);
    expect(object.good.length).toBeLessThan(12);
    await expectHandled("gzip-cut-in-the-middle", { body, ...object, pieces: index + 1 });
  });

  test("a GZIP object corrupt in the middle never hangs; decrypted lines are a prefix, the books balance", async () => {
    const plain = plainOf(16);
    const body = Buffer.from(gzipSync(plain));
    const at = Math.floor(body.length * 0.7);
    body.writeUInt8(body.readUInt8(at) ^ 0xff, at);
    const key = "raw/corpus/2026/11/25/10/gzip-corrupt";
    await putObject(stack, BUCKET, key, body);
    const { handler, log } = watch.handlerFor(stack, { DAS_RESOURCE_ID: CLUSTER });
    await handler(s3Notification(BUCKET, key));
    const lines = await readLines(stack, BUCKET, `decrypted/${key}.gz`);
    const all = expectedEventLines(good.slice(0, 16).map((r) => r.inner));
    expect(lines).toEqual(all.slice(0, lines.length));
    expect(lines.length).toBeLessThan(all.length);
    const quarantine = (await readLines(stack, BUCKET, `quarantine/${key}`)) as { reason: string }[];
    expect(quarantine.at(-1)?.reason).toBe("gzip-corrupt");
    const summary = log.lines.find((line) => line.message === "object decrypted")?.extra as Record<
      string,
      number
    >;
    expect(summary.recordsIn).toBe((summary.records ?? 0) + (summary.quarantined ?? 0));
    expect(summary.quarantined).toBe(quarantine.length);
  });
});

test("a garbage run longer than MAX_RECORD_BYTES keeps only its first MAX_RECORD_BYTES bytes in raw", async () => {
  const junk = Buffer.alloc(MAX_RECORD_BYTES + 500, "z");
  const object = assemble([g(0), bad(junk, "garbage", GARBAGE), g(1)]);
  const line = object.quarantine[0];
  if (line === undefined) throw new Error("no line");
  line.raw = junk.subarray(0, MAX_RECORD_BYTES).toString("utf8");
  await expectHandled("long-garbage", object);
});

test("nothing logged or thrown during this file's handler runs holds plaintext, SQL text, data keys or ciphertext", () => {
  const size = watch.size();
  expect(size.secrets).toBeGreaterThan(50);
  expect(size.logLines).toBeGreaterThan(25);
  // The scan has teeth: a planted secret is found.
  const planted = good[0]?.inner.databaseActivityEventList[0]?.commandText;
  expect(watch.findLeaks(`{"oops":${JSON.stringify(planted)}}`)).not.toEqual([]);
  expect(watch.findLeaks()).toEqual([]);
});
