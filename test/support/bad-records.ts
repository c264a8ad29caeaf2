import { gzipSync } from "node:zlib";
import { buildClient, CommitmentPolicy } from "@aws-crypto/client-node";
import { GenerateDataKeyCommand, type KMSClient } from "@aws-sdk/client-kms";
import { keyringFor } from "../../src/decrypt/das-keyring.ts";
import { encryptionContextOf, parseResourceId } from "../../src/decrypt/resource-id.ts";

const { encrypt } = buildClient(CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT);

/** Seals arbitrary payloads exactly as RDS seals records, under one data key of one stream. */
export interface Sealer {
  /** The data key's KMS ciphertext, base64, as records carry it in `key`. */
  readonly keyBlob: string;
  /** An outer DAS record whose message is `payload` (already gzipped or not: caller's choice). */
  seal(payload: Buffer): Promise<Buffer>;
}

export async function createSealer(kms: KMSClient, keyArn: string, resourceId: string): Promise<Sealer> {
  const resource = parseResourceId(resourceId, "resourceId");
  const answer = await kms.send(
    new GenerateDataKeyCommand({
      KeyId: keyArn,
      KeySpec: "AES_256",
      EncryptionContext: encryptionContextOf(resource),
    }),
  );
  if (answer.Plaintext === undefined || answer.CiphertextBlob === undefined) throw new Error("no data key");
  const keyring = keyringFor(new Uint8Array(answer.Plaintext));
  const keyBlob = Buffer.from(answer.CiphertextBlob).toString("base64");
  return {
    keyBlob,
    async seal(payload) {
      const { result } = await encrypt(keyring, payload);
      return outerRecord({ databaseActivityEvents: result.toString("base64"), key: keyBlob });
    },
  };
}

/** An outer record with these fields (and the usual type and version first). */
export function outerRecord(fields: Record<string, unknown>): Buffer {
  return Buffer.from(
    JSON.stringify({ type: "DatabaseActivityMonitoringRecords", version: "1.1", ...fields }),
  );
}

/** The fields of an outer record. */
export function fieldsOf(record: Buffer): Record<string, unknown> {
  return JSON.parse(record.toString("utf8")) as Record<string, unknown>;
}

/** The record with some fields replaced (`undefined` removes one). */
export function withFields(record: Buffer, changes: Record<string, unknown>): Buffer {
  const fields = fieldsOf(record);
  for (const [name, value] of Object.entries(changes)) {
    if (value === undefined) delete fields[name];
    else fields[name] = value;
  }
  return Buffer.from(JSON.stringify(fields));
}

/** The record with one byte of its Encryption SDK message's ciphertext flipped. */
export function tamperedMessage(record: Buffer): Buffer {
  const message = Buffer.from(String(fieldsOf(record).databaseActivityEvents), "base64");
  const at = Math.floor(message.length * 0.6);
  message.writeUInt8(message.readUInt8(at) ^ 0x5a, at);
  return withFields(record, { databaseActivityEvents: message.toString("base64") });
}

/** The record with its Encryption SDK message cut short (still valid base64). */
export function cutMessage(record: Buffer): Buffer {
  const message = Buffer.from(String(fieldsOf(record).databaseActivityEvents), "base64");
  return withFields(record, {
    databaseActivityEvents: message.subarray(0, message.length - 40).toString("base64"),
  });
}

/** A gzipped JSON payload, for records that decrypt to something that is not a DAS record. */
export function gzippedJson(value: unknown): Buffer {
  return gzipSync(JSON.stringify(value));
}
