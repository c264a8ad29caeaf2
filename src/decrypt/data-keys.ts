import { DecryptCommand, type KMSClient } from "@aws-sdk/client-kms";
import { AwsCallError, RecordError } from "../config/errors.ts";
import { DataKeyCache, type DataKeyCacheStats } from "./data-key-cache.ts";
import { encryptionContextOf, type ResourceId } from "./resource-id.ts";

/** A DAS data key, ready to decrypt Encryption SDK messages. Never logged. */
export interface DataKey {
  /** The 32 plaintext key bytes, in their own buffer (the SDK refuses views into larger ones). */
  readonly material: Uint8Array;
}

export interface DataKeySource {
  /**
   * Returns the data key whose KMS ciphertext is `keyBase64`, decrypting it with KMS at most once
   * per cache lifetime, whatever the number of records waiting for it.
   * @throws RecordError `kms-invalid-ciphertext` when KMS refuses the blob under this context
   *   (a wrong resource id, or a blob that is not a data key), AwsCallError for other KMS failures.
   */
  get(keyBase64: string, resource: ResourceId, stats: DataKeyCacheStats): Promise<DataKey>;
}

export interface DataKeySourceOptions {
  readonly kms: KMSClient;
  readonly cacheSize: number;
  readonly cacheTtlMs: number;
}

/** Builds a KMS-backed, cached data key source; meant to live for the whole container. */
export function buildDataKeySource(options: DataKeySourceOptions): DataKeySource {
  const cache = new DataKeyCache<DataKey>({ maxEntries: options.cacheSize, ttlMs: options.cacheTtlMs });
  return {
    get(keyBase64, resource, stats) {
      // The same blob under another context is another question to KMS: key the cache on both.
      const cacheKey = `${resource.contextKey}=${resource.id}:${keyBase64}`;
      return cache.get(cacheKey, () => decryptDataKey(options.kms, keyBase64, resource), stats);
    },
  };
}

async function decryptDataKey(kms: KMSClient, keyBase64: string, resource: ResourceId): Promise<DataKey> {
  let plaintext: Uint8Array | undefined;
  try {
    const answer = await kms.send(
      new DecryptCommand({
        CiphertextBlob: Buffer.from(keyBase64, "base64"),
        EncryptionContext: encryptionContextOf(resource),
      }),
    );
    plaintext = answer.Plaintext;
  } catch (error) {
    if (error instanceof Error && error.name === "InvalidCiphertextException") {
      throw new RecordError(
        "kms-invalid-ciphertext",
        `KMS refused the record's data key under ${resource.contextKey}=${resource.id}` +
          " (is DAS_RESOURCE_ID / DAS_RESOURCE_ID_MAP the stream's resource id?)",
        { cause: error },
      );
    }
    throw new AwsCallError("kms:Decrypt", error);
  }
  if (plaintext === undefined || plaintext.byteLength !== 32) {
    throw new RecordError("kms-bad-data-key", "KMS returned a data key that is not 32 bytes");
  }
  // Copy into an isolated buffer: the SDK rejects a key that is a view into a larger one.
  const material = new Uint8Array(plaintext);
  return { material };
}
