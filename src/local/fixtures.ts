import { gzipSync } from "node:zlib";
import { AlgorithmSuiteIdentifier, buildClient, CommitmentPolicy } from "@aws-crypto/client-node";
import { GenerateDataKeyCommand, type KMSClient } from "@aws-sdk/client-kms";
import { keyringFor } from "../decrypt/das-keyring.ts";
import { parseResourceId } from "../decrypt/resource-id.ts";
import { normalizedFields } from "../lines/normalize-event.ts";
import { buildEvents, type Engine, type Event, RECORD_VERSION, seededRandom } from "./das-events.ts";

/** The two algorithm suites seen in real DAS data. */
export const SUITES = {
  /** AES-256-GCM, HKDF-SHA256, unsigned (Aurora PostgreSQL captures: base64 `AYABe…`). */
  unsigned: AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA256,
  /** AES-256-GCM, HKDF-SHA384, ECDSA P-384 signature (reported from Aurora MySQL: `AYADe…`). */
  signed: AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384,
} as const;
export type SuiteName = keyof typeof SUITES;

/** The inner record RDS encrypts (`DatabaseActivityMonitoringRecord`). */
export interface InnerRecord {
  type: "DatabaseActivityMonitoringRecord";
  clusterId?: string;
  instanceId: string;
  databaseActivityEventList: Event[];
}

export interface FixtureOptions {
  readonly engine: Engine;
  /** `cluster-…` for Aurora, `db-…` for RDS Oracle / SQL Server. */
  readonly resourceId: string;
  readonly records: number;
  readonly eventsPerRecord?: number;
  readonly suite?: SuiteName;
  /** Firehose's default writes records back to back; with a delimiter processor, one per line. */
  readonly delimiter?: "none" | "newline";
  /** Whole-object GZIP, as a Firehose with compression writes it. */
  readonly gzip?: boolean;
  /** A new data key every this many records (RDS rotates them). */
  readonly rotateKeyEvery?: number;
  /** Every this many records is a heartbeat record. */
  readonly heartbeatEvery?: number;
  /** Time of the first event, epoch ms. */
  readonly startMs?: number;
  readonly seed?: number;
  /** Instance id for the records (defaults to one derived from the seed). */
  readonly instanceId?: string;
  /** Changes each record's generated events (not heartbeat records), e.g. to plant test data. */
  readonly mapEvents?: (events: Event[], recordIndex: number) => Event[];
}

export interface EncryptedRecord {
  /** The outer record's JSON bytes (no delimiter). */
  readonly bytes: Buffer;
  readonly inner: InnerRecord;
}

// RDS writes non-committing messages; only a client allowed to do so can make them.
const { encrypt } = buildClient(CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT);

/**
 * Yields encrypted DAS records exactly as RDS writes them to Kinesis: a KMS data key bound to the
 * stream's resource id (`aws:rds:dbc-id` or `aws:rds:db-id`), each record's inner JSON gzipped and
 * encrypted as an Encryption SDK message under the raw AES keyring `BC`/`DataKey`.
 */
export async function* encryptedRecords(
  kms: KMSClient,
  keyArn: string,
  options: FixtureOptions,
): AsyncGenerator<EncryptedRecord> {
  const resource = parseResourceId(options.resourceId, "resourceId");
  const random = seededRandom(options.seed ?? 1);
  const suiteId = SUITES[options.suite ?? "unsigned"];
  const eventsPerRecord = options.eventsPerRecord ?? 1;
  const rotateEvery = options.rotateKeyEvery ?? 1000;
  const startMs = options.startMs ?? Date.UTC(2026, 10, 25, 10, 0, 0);
  const instanceId = options.instanceId ?? `db-${idFrom(random)}`;
  const version = RECORD_VERSION[options.engine];
  const hasCluster = resource.contextKey === "aws:rds:dbc-id";
  let dataKey: { blob: string; keyring: ReturnType<typeof keyringFor> } | undefined;
  for (let index = 0; index < options.records; index += 1) {
    if (dataKey === undefined || index % rotateEvery === 0) {
      const answer = await kms.send(
        new GenerateDataKeyCommand({
          KeyId: keyArn,
          KeySpec: "AES_256",
          EncryptionContext: { [resource.contextKey]: resource.id },
        }),
      );
      if (answer.Plaintext === undefined || answer.CiphertextBlob === undefined)
        throw new Error("GenerateDataKey returned no key");
      dataKey = {
        blob: Buffer.from(answer.CiphertextBlob).toString("base64"),
        keyring: keyringFor(new Uint8Array(answer.Plaintext)),
      };
    }
    const heartbeat =
      options.heartbeatEvery !== undefined && index % options.heartbeatEvery === options.heartbeatEvery - 1;
    const timeMs = startMs + index * 37;
    const generated = (): Event[] => {
      const events = buildEvents(options.engine, eventsPerRecord, {
        random,
        timeMs,
        sequence: index * eventsPerRecord,
      });
      return options.mapEvents === undefined ? events : options.mapEvents(events, index);
    };
    const events = heartbeat ? [{ type: "heartbeat" }] : generated();
    const inner: InnerRecord = {
      type: "DatabaseActivityMonitoringRecord",
      // Some Aurora MySQL records come without clusterId; RDS Oracle / SQL Server never have one.
      ...(hasCluster && !(options.engine === "aurora-mysql" && index % 7 === 3)
        ? { clusterId: resource.id }
        : {}),
      instanceId,
      databaseActivityEventList: events,
    };
    const { result } = await encrypt(dataKey.keyring, gzipSync(JSON.stringify(inner)), { suiteId });
    const outer = {
      type: "DatabaseActivityMonitoringRecords",
      version,
      databaseActivityEvents: result.toString("base64"),
      key: dataKey.blob,
    };
    yield { bytes: Buffer.from(JSON.stringify(outer)), inner };
  }
}

export interface FirehoseObject {
  /** The object's bytes as Firehose writes them to S3. */
  readonly body: Buffer;
  readonly records: InnerRecord[];
}

/** Builds a whole Firehose object in memory (for tests and samples; the benchmark streams instead). */
export async function buildFirehoseObject(
  kms: KMSClient,
  keyArn: string,
  options: FixtureOptions,
): Promise<FirehoseObject> {
  const parts: Buffer[] = [];
  const records: InnerRecord[] = [];
  for await (const record of encryptedRecords(kms, keyArn, options)) {
    parts.push(record.bytes);
    if (options.delimiter === "newline") parts.push(Buffer.from("\n"));
    records.push(record.inner);
  }
  const plain = Buffer.concat(parts);
  return { body: options.gzip ? gzipSync(plain) : plain, records };
}

/**
 * The lines the handler must write for these records in `events` format: each event's fields,
 * then `clusterId` (when present), `instanceId` and the normalized `eventTime` and `engine`.
 */
export function expectedEventLines(records: readonly InnerRecord[], includeHeartbeats = false): Event[] {
  return records.flatMap((record) =>
    record.databaseActivityEventList
      .filter((event) => includeHeartbeats || event.type !== "heartbeat")
      .map((event) => ({
        ...event,
        ...(record.clusterId === undefined ? {} : { clusterId: record.clusterId }),
        instanceId: record.instanceId,
        ...normalizedFields(event),
      })),
  );
}

/** A resource id shaped like RDS's (26 upper-case base32 characters). */
export function idFrom(random: () => number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let id = "";
  for (let i = 0; i < 26; i += 1) id += alphabet[Math.floor(random() * 32)];
  return id;
}
