import { GenerateMacCommand, type KMSClient } from "@aws-sdk/client-kms";
import { AwsCallError } from "../config/errors.ts";

/**
 * The message whose MAC under the deployment's KMS HMAC key is the key of `REDACT_PARAMS=hash`.
 * The key is thus never stored anywhere in plaintext (environment, template, code): it exists only
 * in the memory of a running function, is the same for every container of the deployment, and
 * changes only when an operator replaces the KMS key (HMAC keys do not rotate by themselves).
 */
export const DERIVATION_MESSAGE = Buffer.from("das-decrypt REDACT_PARAMS=hash key, version 1");

/**
 * Derives the bind-value hash key once per container: one `kms:GenerateMac` (HMAC_SHA_256) call,
 * whose answer is kept. A failed call is not kept, so the next object asks again.
 * @throws AwsCallError (`kms:GenerateMac`) when KMS refuses or cannot be reached.
 */
export function paramHashKeySource(kms: KMSClient, keyId: string): () => Promise<Uint8Array> {
  let key: Promise<Uint8Array> | undefined;
  return () => {
    key ??= derive(kms, keyId).catch((error: unknown) => {
      key = undefined;
      throw error;
    });
    return key;
  };
}

async function derive(kms: KMSClient, keyId: string): Promise<Uint8Array> {
  try {
    const answer = await kms.send(
      new GenerateMacCommand({ KeyId: keyId, Message: DERIVATION_MESSAGE, MacAlgorithm: "HMAC_SHA_256" }),
    );
    if (answer.Mac === undefined || answer.Mac.length !== 32) throw new Error("KMS returned no 32-byte MAC");
    return new Uint8Array(answer.Mac);
  } catch (error) {
    throw new AwsCallError("kms:GenerateMac", error);
  }
}
