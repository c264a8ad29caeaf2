import { createDecipheriv, createHmac, createPublicKey, verify } from "node:crypto";
import { RecordError } from "../config/errors.ts";
import type { KeyIdentity } from "./das-keyring.ts";
import { type EsdkMessage, type Frame, IV_LENGTH, TAG_LENGTH } from "./esdk-message.ts";

/**
 * Direct decryption of the message shape DAS writes — suite 0x0178 or 0x0378, framed, one data
 * key wrapped by one raw AES key — with one synchronous pass and none of the SDK's stream
 * machinery, which costs more than the cryptography on 1-2 KiB messages: 5 to 20 times the CPU of
 * this reader (BENCHMARKS.md). Every primitive is OpenSSL's, through `node:crypto`: AES-256-GCM
 * (data key unwrap, header tag, each frame), HMAC-SHA-256/384 (HKDF), ECDSA P-384. The message's structure was
 * checked by `parseMessage` first; this adds every check that needs the key (SECURITY.md lists
 * them against the specification) and releases no plaintext until all of them passed.
 */
export type DirectDecrypt = (
  message: EsdkMessage,
  bytes: Buffer,
  wrappingKey: Uint8Array,
) => Buffer | undefined;

/** The reader of messages wrapped by `identity`. */
export function buildDirectDecrypt(identity: KeyIdentity): DirectDecrypt {
  const namespace = Buffer.from(identity.namespace, "utf8");
  const name = Buffer.from(identity.name, "utf8");
  const keyLabel = `${identity.namespace}/${identity.name}`;

  /**
   * The plaintext, or `undefined` for a shape it leaves to the SDK (non-framed, several data keys).
   * @throws RecordError (`message-authentication-failed`) when a check fails.
   */
  return (m, bytes, wrappingKey) => {
    if (!m.framed || m.dataKeys.length !== 1) return undefined;
    const dataKey = unwrapDataKey(m, wrappingKey, namespace, name, keyLabel);
    const key = deriveKey(m, dataKey);
    open(key, m.headerIv, bytes.subarray(0, m.headerEnd), EMPTY, m.headerTag, "the header");
    const parts = m.frames.map((frame) =>
      open(key, frame.iv, frameAad(m.messageId, frame), frame.content, frame.tag, `frame ${frame.sequence}`),
    );
    if (m.suite.signed) verifySignature(m, bytes);
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
  };
}

const EMPTY = Buffer.alloc(0);
const FIRST_BLOCK = Buffer.from([0x01]);
const ZERO_SALT = { sha256: Buffer.alloc(32), sha384: Buffer.alloc(48) };
const FRAME_LABEL = Buffer.from("AWSKMSEncryptionClient Frame");
const FINAL_FRAME_LABEL = Buffer.from("AWSKMSEncryptionClient Final Frame");
const DATA_KEY_LENGTH = 32;

/**
 * The raw AES keyring's unwrap (framework/raw-aes-keyring.md "OnDecrypt"): the data key's provider
 * id is the key namespace, its provider info the key name, the tag length in bits (128), the IV
 * length (12) and the IV; the ciphertext is the 32-byte key and its tag, authenticated with the
 * serialized encryption context.
 */
function unwrapDataKey(
  m: EsdkMessage,
  wrappingKey: Uint8Array,
  namespace: Buffer,
  name: Buffer,
  label: string,
): Buffer {
  const { providerId, providerInfo: info, ciphertext } = m.dataKeys[0] as EsdkMessage["dataKeys"][number];
  if (
    !providerId.equals(namespace) ||
    info.length !== name.length + 8 + IV_LENGTH ||
    !info.subarray(0, name.length).equals(name) ||
    info.readUInt32BE(name.length) !== TAG_LENGTH * 8 ||
    info.readUInt32BE(name.length + 4) !== IV_LENGTH ||
    ciphertext.length !== DATA_KEY_LENGTH + TAG_LENGTH
  ) {
    throw new RecordError(
      "message-authentication-failed",
      `databaseActivityEvents holds no data key wrapped by the ${label} raw AES key`,
    );
  }
  return open(
    wrappingKey,
    info.subarray(name.length + 8),
    m.context,
    ciphertext.subarray(0, DATA_KEY_LENGTH),
    ciphertext.subarray(DATA_KEY_LENGTH),
    "the data key",
  );
}

/**
 * The message's content key (algorithm-suites.md § HKDF, transitive-requirements.md § HKDF
 * Encryption Key): HKDF (RFC 5869) of the data key with a salt of hash-length zero bytes and
 * info = suite id ‖ message id, 32 bytes. With an output shorter than one hash, HKDF is two HMACs:
 * extract PRK = HMAC(salt, data key), expand T(1) = HMAC(PRK, info ‖ 0x01), of which the first 32
 * bytes. Both HMACs are OpenSSL's; Node's `hkdfSync` gives the same bytes
 * (test/unit/decrypt/esdk-fast-decrypt.test.ts) but costs 12 µs more per message — a fifth of the CPU of a
 * one-event record — in creating a key object and a job for it.
 */
export function deriveKey(m: Pick<EsdkMessage, "suite" | "suiteId" | "messageId">, dataKey: Buffer): Buffer {
  const info = Buffer.allocUnsafe(18);
  info.writeUInt16BE(m.suiteId, 0);
  m.messageId.copy(info, 2);
  const prk = createHmac(m.suite.hash, ZERO_SALT[m.suite.hash]).update(dataKey).digest();
  return createHmac(m.suite.hash, prk).update(info).update(FIRST_BLOCK).digest().subarray(0, 32);
}

/** Message body AAD (message-body-aad.md): message id, content string, sequence number, 64-bit length. */
function frameAad(messageId: Buffer, frame: Frame): Buffer {
  const label = frame.final ? FINAL_FRAME_LABEL : FRAME_LABEL;
  const aad = Buffer.allocUnsafe(messageId.length + label.length + 12);
  messageId.copy(aad, 0);
  label.copy(aad, messageId.length);
  let at = aad.writeUInt32BE(frame.sequence, messageId.length + label.length);
  at = aad.writeUInt32BE(0, at);
  aad.writeUInt32BE(frame.content.length, at);
  return aad;
}

/** AES-256-GCM decryption; OpenSSL compares the tag. */
function open(key: Uint8Array, iv: Buffer, aad: Buffer, content: Buffer, tag: Buffer, what: string): Buffer {
  const decipher = createDecipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_LENGTH });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  const plaintext = decipher.update(content);
  try {
    decipher.final();
  } catch (error) {
    throw new RecordError(
      "message-authentication-failed",
      `${what} of databaseActivityEvents does not authenticate under the record's data key (tampered, or sealed under another key)`,
      { cause: error },
    );
  }
  return plaintext;
}

/** DER SubjectPublicKeyInfo prefix of a P-384 key given as a 49-byte compressed point. */
const P384_COMPRESSED_SPKI = Buffer.from("3046301006072a8648ce3d020106052b81040022033200", "hex");

/** ECDSA P-384 / SHA-384 over the header and body (message-footer.md), DER signature. */
function verifySignature(m: EsdkMessage, bytes: Buffer): void {
  let valid = false;
  try {
    const key = createPublicKey({
      key: Buffer.concat([P384_COMPRESSED_SPKI, m.publicKey as Buffer]),
      format: "der",
      type: "spki",
    });
    valid = verify("sha384", bytes.subarray(0, m.bodyEnd), key, m.signature as Buffer);
  } catch {
    valid = false; // a point off the curve, a signature that is not DER
  }
  if (!valid) {
    throw new RecordError(
      "message-authentication-failed",
      "the signature of databaseActivityEvents does not verify (tampered, or signed by another key)",
    );
  }
}
