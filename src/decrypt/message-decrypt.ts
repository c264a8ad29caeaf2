import { buildDecrypt } from "@aws-crypto/decrypt-node";
import { CommitmentPolicy } from "@aws-crypto/material-management-node";
import { RecordError } from "../config/errors.ts";
import { DAS_KEY, type KeyIdentity, keyringFor } from "./das-keyring.ts";
import { buildDirectDecrypt } from "./esdk-fast-decrypt.ts";
import { MAX_DATA_KEYS, parseMessage } from "./esdk-message.ts";

/** A raw AES-256 wrapping key: the plaintext of a DAS data key. */
const WRAPPING_KEY_LENGTH = 32;

/** Decrypts one `databaseActivityEvents` message under the raw AES key of its record's data key. */
export type MessageDecrypt = (message: Buffer, material: Uint8Array) => Buffer | Promise<Buffer>;

/**
 * The decryption of one Encryption SDK message wrapped by the raw AES key `identity` (DAS's
 * `BC`/`DataKey` in production; tests pass the official test vectors' key). Every message is first
 * read by `parseMessage`, whose checks hold for both paths. The shape DAS writes (framed, one data
 * key) is then decrypted directly and synchronously, so the result is a Buffer; the shapes DAS does
 * not write (non-framed bodies, several data keys) go to the AWS Encryption SDK, so the result is a
 * Promise.
 * @throws RecordError (the promise rejects with one) when the message is refused: one of the
 * structural reasons of `parseMessage`, or `message-authentication-failed`.
 */
export function buildMessageDecrypt(identity: KeyIdentity = DAS_KEY): MessageDecrypt {
  const direct = buildDirectDecrypt(identity);
  // DAS messages are non-committing, so decryption must allow them; this client never encrypts.
  const { decrypt } = buildDecrypt({
    commitmentPolicy: CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT,
    maxEncryptedDataKeys: MAX_DATA_KEYS,
  });
  const sdkDecrypt = async (message: Buffer, material: Uint8Array): Promise<Buffer> => {
    try {
      return (await decrypt(keyringFor(material, identity), message)).plaintext;
    } catch (error) {
      throw new RecordError(
        "message-authentication-failed",
        "the Encryption SDK could not decrypt databaseActivityEvents (tampered, or sealed under another key)",
        { cause: error },
      );
    }
  };
  return (message, material) => {
    if (material.byteLength !== WRAPPING_KEY_LENGTH) {
      throw new RecordError("kms-bad-data-key", `the wrapping key is ${material.byteLength} bytes, not 32`);
    }
    const parsed = parseMessage(message);
    return direct(parsed, message, material) ?? sdkDecrypt(message, material);
  };
}
