import { RecordError } from "../config/errors.ts";
import { type DasRecord, type LineCounts, type LineOptions, recordLines } from "../lines/format-lines.ts";
import { LineBuffer } from "../lines/line-buffer.ts";
import { sliceRecordLines } from "../lines/slice-record-lines.ts";
import { type FilterReason, noneFiltered } from "../policy/event-policy.ts";
import { InflatedPayloads } from "./inflate-payloads.ts";
import { buildMessageDecrypt } from "./message-decrypt.ts";

/** Why one record goes to quarantine instead of the output (a {@link RecordError}, as plain data). */
export interface RecordFailure {
  readonly reason: string;
  readonly message: string;
}

/** A data key's 32 plaintext bytes, or why KMS would not give them. */
export type KeyAnswer = Uint8Array | RecordFailure;

/**
 * Answers, in order, for the KMS ciphertext blobs (the records' base64 `key` fields) a batch needs.
 * Rejects when the object itself must fail (KMS unreachable, throttled past retries).
 */
export type KeyLookup = (keys: readonly string[]) => Promise<readonly KeyAnswer[]>;

/** One object's decryption: batches go in, in any number, and come back in the order asked for. */
export interface ObjectDecryption {
  decrypt(records: Buffer[]): Promise<BatchResult>;
  /** Batches worth keeping in flight at once. */
  readonly parallelism: number;
  /** The object is done: forget its data keys outside the shared cache. */
  close(): void;
}

/** What one batch of records gave, in input order. */
export interface BatchResult {
  /** The NDJSON lines of every decrypted record, in order (UTF-8, in a buffer of its own). */
  readonly lines: Uint8Array;
  /** Per record: `null` when decrypted, else why it goes to quarantine. */
  readonly failures: readonly (RecordFailure | null)[];
  readonly events: number;
  readonly heartbeatsDropped: number;
  /** Events the policy's filters dropped, by reason. */
  readonly filtered: Readonly<Record<FilterReason, number>>;
  /** Events redaction changed. */
  readonly redacted: number;
  /** Statements replaced whole because their text could not be read. */
  readonly statementsUnreadable: number;
}

/** Messages under DAS's raw AES key (`BC`/`DataKey`). */
const decryptMessage = buildMessageDecrypt();

/**
 * Decrypts a batch of outer records (`{"type":…,"databaseActivityEvents":…,"key":…}`) and formats
 * their lines. The data keys the batch needs and `known` lacks are asked for once, together; the
 * rest is synchronous per record (the Encryption SDK is awaited only for a message the direct
 * reader does not handle). A record's own fault becomes its {@link RecordFailure}; the batch goes on.
 * `known` maps a `key` field to its plaintext and lives as long as one object's run (same resource id).
 * @throws whatever `lookup` rejects with (the object must fail).
 */
export async function decryptBatch(
  records: readonly Buffer[],
  options: LineOptions,
  lookup: KeyLookup,
  known: Map<string, Uint8Array>,
): Promise<BatchResult> {
  const outers: (OuterRecord | RecordFailure)[] = [];
  for (const bytes of records) {
    try {
      outers.push(parseOuter(bytes));
    } catch (error) {
      outers.push(recordFailureOf(error));
    }
  }
  const missing = new Set<string>();
  for (const outer of outers) if (isOuter(outer) && !known.has(outer.key)) missing.add(outer.key);
  const refused = new Map<string, RecordFailure>();
  if (missing.size > 0) {
    const asked = [...missing];
    const answers = await lookup(asked);
    asked.forEach((key, i) => {
      const answer = answers[i];
      if (answer instanceof Uint8Array) known.set(key, answer);
      else refused.set(key, answer ?? NO_KEY);
    });
  }

  // Decrypt every record, inflate the payloads together, then parse and format each. The keys are
  // taken now: `known` may be cleared while the batch waits on the SDK (the object's run closed).
  const materials = outers.map((outer) => (isOuter(outer) ? known.get(outer.key) : undefined));
  const failures: (RecordFailure | null)[] = [];
  const payloads: (Buffer | undefined)[] = [];
  for (const [i, outer] of outers.entries()) {
    let payload: Buffer | undefined;
    if (!isOuter(outer)) failures.push(outer);
    else {
      const material = materials[i];
      if (material === undefined) failures.push(refused.get(outer.key) ?? NO_KEY);
      else {
        try {
          const compressed = decryptMessage(outer.message, material);
          payload = compressed instanceof Promise ? await compressed : compressed;
          failures.push(null);
        } catch (error) {
          failures.push(recordFailureOf(error));
        }
      }
    }
    payloads.push(payload);
  }
  const inflated = new InflatedPayloads(payloads);
  const counts: LineCounts = { events: 0, heartbeatsDropped: 0 };
  // Lines are written as bytes, record by record: most records straight from their inflated bytes;
  // the others are parsed and serialized, their text decoded only when their turn comes.
  const lines = new LineBuffer(inflated.size + (inflated.size >>> 2));
  for (let i = 0; i < payloads.length; i += 1) {
    const bytes = inflated.bytes(i);
    if (bytes === undefined) continue;
    if (!(bytes instanceof Buffer)) {
      failures[i] = recordFailureOf(bytes);
      continue;
    }
    if (sliceRecordLines(bytes, options, counts, lines)) continue;
    try {
      const text = bytes.toString("utf8");
      lines.text(recordLines(text, parseInner(text), options, counts));
    } catch (error) {
      failures[i] = recordFailureOf(error);
    }
  }
  return {
    lines: lines.take(),
    failures,
    events: counts.events,
    heartbeatsDropped: counts.heartbeatsDropped,
    filtered: counts.filtered ?? noneFiltered(),
    redacted: counts.redacted ?? 0,
    statementsUnreadable: counts.statementsUnreadable ?? 0,
  };
}

const NO_KEY: RecordFailure = { reason: "kms-bad-data-key", message: "no answer for the data key" };

/**
 * A record's own fault as plain data (it crosses threads and goes to quarantine).
 * @throws the error itself when it is not a {@link RecordError}: that fails the object.
 */
export function recordFailureOf(error: unknown): RecordFailure {
  if (!(error instanceof RecordError)) throw error;
  return { reason: error.reason, message: error.message };
}

function isOuter(value: OuterRecord | RecordFailure): value is OuterRecord {
  return (value as { reason?: unknown }).reason === undefined;
}

interface OuterRecord {
  readonly key: string;
  /** The Encryption SDK message, base64-decoded. */
  readonly message: Buffer;
}

function parseOuter(bytes: Buffer): OuterRecord {
  let outer: unknown;
  try {
    outer = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new RecordError("invalid-json", "the record is not valid JSON");
  }
  if (typeof outer !== "object" || outer === null)
    throw new RecordError("invalid-json", "the record is not a JSON object");
  const { key, databaseActivityEvents } = outer as Record<string, unknown>;
  if (typeof key !== "string" || key === "")
    throw new RecordError("missing-key", "the record has no key field");
  if (typeof databaseActivityEvents !== "string" || databaseActivityEvents === "") {
    throw new RecordError("missing-events", "the record has no databaseActivityEvents field");
  }
  return { key, message: decodeBase64(databaseActivityEvents, "databaseActivityEvents") };
}

/** Strict base64: Node's decoder skips bad characters silently, so check the decoded length. */
export function decodeBase64(text: string, field: string): Buffer {
  const decoded = Buffer.from(text, "base64");
  let padding = 0;
  if (text.endsWith("==")) padding = 2;
  else if (text.endsWith("=")) padding = 1;
  const expected = Math.floor((text.length * 3) / 4) - padding;
  if (decoded.length !== expected || (padding === 0 && text.length % 4 === 1)) {
    throw new RecordError("bad-base64", `the record's ${field} field is not valid base64`);
  }
  return decoded;
}

/**
 * The decrypted inner record, parsed and checked: an object with a `databaseActivityEventList`
 * array of objects.
 * @throws RecordError (`not-das-record`) otherwise.
 */
export function parseInner(text: string): DasRecord {
  let inner: unknown;
  try {
    inner = JSON.parse(text);
  } catch {
    throw new RecordError("not-das-record", "the decrypted payload is not JSON");
  }
  if (
    typeof inner !== "object" ||
    inner === null ||
    !Array.isArray((inner as { databaseActivityEventList?: unknown }).databaseActivityEventList)
  ) {
    throw new RecordError("not-das-record", "the decrypted payload has no databaseActivityEventList");
  }
  const events = (inner as { databaseActivityEventList: unknown[] }).databaseActivityEventList;
  if (!events.every((event) => typeof event === "object" && event !== null && !Array.isArray(event))) {
    throw new RecordError(
      "not-das-record",
      "the decrypted payload's databaseActivityEventList holds a non-object",
    );
  }
  return inner as DasRecord;
}
