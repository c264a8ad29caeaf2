import { gunzipSync } from "node:zlib";
import { buildClient, CommitmentPolicy } from "@aws-crypto/client-node";
import type { DataKeyCacheStats } from "./data-key-cache.ts";
import type { DataKeySource } from "./data-keys.ts";
import { DasDecryptError, RecordError } from "./errors.ts";
import { fastDecrypt } from "./esdk-fast-decrypt.ts";
import type { ResourceId } from "./resource-id.ts";

/** An activity event as RDS wrote it; every field passes through untouched. */
export type ActivityEvent = Record<string, unknown>;

/** The decrypted inner record (`DatabaseActivityMonitoringRecord`). */
export interface DasRecord {
  readonly type?: unknown;
  readonly clusterId?: unknown;
  readonly instanceId?: unknown;
  readonly databaseActivityEventList: ActivityEvent[];
}

export interface DecryptedRecord {
  readonly index: number;
  readonly offset: number;
  /** Size of the encrypted outer record, in bytes. */
  readonly rawBytes: number;
  /** The decrypted JSON text, as RDS produced it. */
  readonly text: string;
  readonly record: DasRecord;
}

export interface RecordDecryptor {
  /**
   * Decrypts one outer record (`{"type":…,"databaseActivityEvents":…,"key":…}`) into its inner record.
   * @throws RecordError naming the reason when the record itself is bad; AwsCallError when KMS fails.
   */
  decrypt(
    bytes: Buffer,
    resource: ResourceId,
    stats: DataKeyCacheStats,
  ): Promise<{ text: string; record: DasRecord }>;
}

/** Largest decompressed inner record: a small gzip that inflates to gigabytes must not take the function down. */
export const MAX_INNER_RECORD_BYTES = 64 * 1024 * 1024;

// DAS messages are non-committing, so decryption must allow them; this client never encrypts.
// At most one encrypted data key is expected per message: refuse messages that claim many.
const { decrypt: esdkDecrypt } = buildClient({
  commitmentPolicy: CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT,
  maxEncryptedDataKeys: 4,
});

/** Builds the per-record decryptor over a data key source (KMS + cache). */
export function buildRecordDecryptor(keys: DataKeySource): RecordDecryptor {
  return {
    async decrypt(bytes, resource, stats) {
      const outer = parseOuter(bytes);
      const message = decodeBase64(outer.databaseActivityEvents, "databaseActivityEvents");
      const dataKey = await keys.get(outer.key, resource, stats);
      // The direct reader handles the shape DAS writes; anything else, or anything it cannot
      // verify, goes to the SDK, whose verdict stands.
      let compressed: Buffer | undefined = fastDecrypt(message, dataKey.material);
      try {
        compressed ??= (await esdkDecrypt(dataKey.keyring, message)).plaintext;
      } catch (error) {
        if (error instanceof DasDecryptError) throw error;
        throw new RecordError(
          "message-authentication-failed",
          "the Encryption SDK could not decrypt databaseActivityEvents (tampered, truncated or under another key)",
          { cause: error },
        );
      }
      let text: string;
      try {
        text = gunzipSync(compressed, { maxOutputLength: MAX_INNER_RECORD_BYTES }).toString("utf8");
      } catch (error) {
        if ((error as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE") {
          const message = `the decrypted record inflates past ${MAX_INNER_RECORD_BYTES} bytes`;
          throw new RecordError("inner-too-large", message, { cause: error });
        }
        throw new RecordError("gunzip-failed", "the decrypted payload is not gzip data", { cause: error });
      }
      return { text, record: parseInner(text) };
    },
  };
}

interface OuterRecord {
  readonly key: string;
  readonly databaseActivityEvents: string;
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
  return { key, databaseActivityEvents };
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

function parseInner(text: string): DasRecord {
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
