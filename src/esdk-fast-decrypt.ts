import { createDecipheriv, createPublicKey, createVerify, hash } from "node:crypto";
import { DAS_KEY_NAME, DAS_KEY_NAMESPACE } from "./das-keyring.ts";
import { unwrapperFor } from "./gcm-unwrap.ts";

/**
 * A direct reader of the one Encryption SDK message shape DAS produces: format version 1, suite
 * 0x0178 (AES-256-GCM, HKDF-SHA256) or 0x0378 (AES-256-GCM, HKDF-SHA384, ECDSA P-384), one data key
 * wrapped by the raw AES keyring `BC`/`DataKey`, framed content. It does what the SDK does for that
 * shape, every check included (data key unwrap tag, header authentication tag, each frame's tag
 * and sequence, the footer's ECDSA signature over the whole message), with one synchronous pass and
 * none of the SDK's stream machinery, which costs more than the cryptography on 1-2 KiB messages.
 *
 * It returns `undefined` for anything it does not handle or cannot verify (another suite or
 * version, non-framed content, more than one context entry, a failed check, trailing bytes), and
 * the caller then hands the message to the SDK, whose verdict stands. So it never accepts what the
 * SDK would refuse; test/unit/esdk-fast-decrypt.test.ts checks this on generated and tampered messages.
 */
export function fastDecrypt(message: Buffer, wrappingKey: Uint8Array): Buffer | undefined {
  try {
    return decryptOrUndefined(message, wrappingKey);
  } catch {
    return undefined;
  }
}

const SUITES = new Map([
  [0x0178, { hash: "sha256", signed: false }],
  [0x0378, { hash: "sha384", signed: true }],
]);
const PUBLIC_KEY_CONTEXT = "aws-crypto-public-key";
const FRAME_AAD = Buffer.from("AWSKMSEncryptionClient Frame");
const FINAL_FRAME_AAD = Buffer.from("AWSKMSEncryptionClient Final Frame");
const IV = 12;
const EMPTY = Buffer.alloc(0);
// Scratch buffers of the synchronous hot path (filled and consumed within one call).
const KDF_INFO = Buffer.alloc(18);
const FRAME_AAD_SCRATCH = Buffer.alloc(16 + 34 + 12);
const TAG = 16;
const KEY_INFO_PREFIX = Buffer.from(DAS_KEY_NAME, "utf8");

function decryptOrUndefined(m: Buffer, wrappingKey: Uint8Array): Buffer | undefined {
  if (m.length < 22 || m[0] !== 0x01 || m[1] !== 0x80) return undefined;
  const suiteId = m.readUInt16BE(2);
  const suite = SUITES.get(suiteId);
  if (suite === undefined) return undefined;
  const messageId = m.subarray(4, 20);
  // Encryption context: at most one entry, and it must be the signing key exactly when signed.
  const contextLength = m.readUInt16BE(20);
  let at = 22;
  const contextBytes = m.subarray(at, at + contextLength);
  let publicKey: string | undefined;
  if (contextLength > 0) {
    if (contextBytes.readUInt16BE(0) !== 1) return undefined;
    const keyLength = contextBytes.readUInt16BE(2);
    const key = contextBytes.subarray(4, 4 + keyLength).toString("utf8");
    const valueLength = contextBytes.readUInt16BE(4 + keyLength);
    if (6 + keyLength + valueLength !== contextLength || key !== PUBLIC_KEY_CONTEXT) return undefined;
    publicKey = contextBytes.subarray(6 + keyLength, 6 + keyLength + valueLength).toString("utf8");
  }
  if (suite.signed !== (publicKey !== undefined)) return undefined;
  at += contextLength;

  // Encrypted data keys: exactly one, ours.
  if (m.readUInt16BE(at) !== 1) return undefined;
  at += 2;
  const providerIdLength = m.readUInt16BE(at);
  const providerId = m.subarray(at + 2, at + 2 + providerIdLength).toString("utf8");
  at += 2 + providerIdLength;
  const infoLength = m.readUInt16BE(at);
  const info = m.subarray(at + 2, at + 2 + infoLength);
  at += 2 + infoLength;
  const edkLength = m.readUInt16BE(at);
  const edk = m.subarray(at + 2, at + 2 + edkLength);
  at += 2 + edkLength;
  const nameLength = KEY_INFO_PREFIX.length;
  if (
    providerId !== DAS_KEY_NAMESPACE ||
    infoLength !== nameLength + 8 + IV ||
    !info.subarray(0, nameLength).equals(KEY_INFO_PREFIX) ||
    info.readUInt32BE(nameLength) !== TAG * 8 ||
    info.readUInt32BE(nameLength + 4) !== IV ||
    edkLength !== 32 + TAG
  ) {
    return undefined;
  }
  // The raw AES keyring authenticates the serialized encryption context (without its length).
  const dataKey = unwrapperFor(wrappingKey).open(
    info.subarray(nameLength + 8),
    contextBytes,
    edk.subarray(0, 32),
    edk.subarray(32),
  );
  if (dataKey === undefined) return undefined;

  // Content type (framed), reserved, IV length, frame length.
  if (m[at] !== 0x02 || m.readUInt32BE(at + 1) !== 0 || m[at + 5] !== IV) return undefined;
  const frameLength = m.readUInt32BE(at + 6);
  at += 10;
  const headerEnd = at;
  const info2 = KDF_INFO; // reused: the hot path allocates as little as it can
  info2.writeUInt16BE(suiteId, 0);
  messageId.copy(info2, 2);
  const key = hkdf32(suite.hash, dataKey, info2);
  // Header authentication: a GCM tag over the header bytes with an empty plaintext.
  gcmOpen(key, m.subarray(at, at + IV), m.subarray(0, headerEnd), EMPTY, m.subarray(at + IV, at + IV + TAG));
  at += IV + TAG;

  const parts: Buffer[] = [];
  const aad = FRAME_AAD_SCRATCH;
  for (let sequence = 1; ; sequence += 1) {
    const final = m.readUInt32BE(at) === 0xffffffff;
    if (final) at += 4;
    if (m.readUInt32BE(at) !== sequence) return undefined;
    const iv = m.subarray(at + 4, at + 4 + IV);
    at += 4 + IV;
    let length = frameLength;
    if (final) {
      length = m.readUInt32BE(at);
      at += 4;
      if (length > frameLength) return undefined;
    }
    const label = final ? FINAL_FRAME_AAD : FRAME_AAD;
    messageId.copy(aad, 0);
    label.copy(aad, messageId.length);
    let o = messageId.length + label.length;
    o = aad.writeUInt32BE(sequence, o);
    o = aad.writeUInt32BE(0, o);
    o = aad.writeUInt32BE(length, o);
    if (at + length + TAG > m.length) return undefined;
    parts.push(
      gcmOpen(
        key,
        iv,
        aad.subarray(0, o),
        m.subarray(at, at + length),
        m.subarray(at + length, at + length + TAG),
      ),
    );
    at += length + TAG;
    if (final) break;
  }
  const bodyEnd = at;
  if (suite.signed) {
    const signatureLength = m.readUInt16BE(at);
    const signature = m.subarray(at + 2, at + 2 + signatureLength);
    at += 2 + signatureLength;
    if (!verifySignature(publicKey as string, m.subarray(0, bodyEnd), signature)) return undefined;
  }
  if (at !== m.length) return undefined;
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
}

function gcmOpen(key: Uint8Array, iv: Buffer, aad: Buffer, ciphertext: Buffer, tag: Buffer): Buffer {
  if (iv.length !== IV || tag.length !== TAG) throw new Error("malformed");
  const decipher = createDecipheriv("aes-256-gcm", key, iv, { authTagLength: TAG });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  const first = decipher.update(ciphertext);
  const last = decipher.final(); // throws when the tag does not verify
  return last.length === 0 ? first : Buffer.concat([first, last]);
}

/**
 * HKDF (RFC 5869) with an empty salt, for a 32-byte output: one extract and one expand block
 * (SHA-256 and SHA-384 blocks are both ≥ 32 bytes). Each HMAC is written out as two one-shot
 * hashes over scratch buffers (RFC 2104): no HMAC or key objects per call, which on this hot path
 * cost more than the hashing itself. Digests come back as binary (latin1) strings, one char a byte,
 * written into the scratch buffers: cheaper than a new buffer per digest.
 * The returned key is scratch too: valid until the next call.
 */
function hkdf32(name: string, ikm: Buffer, info: Buffer): Buffer {
  const scratch = HMAC_SCRATCH[name] as HmacScratch;
  const prk = hmac(name, scratch, ZERO_KEY, ikm, undefined, scratch.prk);
  return hmac(name, scratch, prk, info, 1, scratch.okm).subarray(0, 32);
}

interface HmacScratch {
  readonly block: number;
  readonly inner: Buffer;
  readonly outer: Buffer;
  readonly prk: Buffer;
  readonly okm: Buffer;
}
function hmacScratch(block: number, digest: number): HmacScratch {
  return {
    block,
    inner: Buffer.alloc(block + 64),
    outer: Buffer.alloc(block + digest),
    prk: Buffer.alloc(digest),
    okm: Buffer.alloc(digest),
  };
}
const HMAC_SCRATCH: Record<string, HmacScratch> = {
  sha256: hmacScratch(64, 32),
  sha384: hmacScratch(128, 48),
};
/** An empty salt is a key of zero bytes (RFC 5869 §2.2), padded to the block like any short key. */
const ZERO_KEY = Buffer.alloc(0);

/** HMAC(key, message [+ one trailing byte]) into `into`, for keys and messages up to 64 bytes, in the scratch buffers. */
function hmac(
  name: string,
  scratch: HmacScratch,
  key: Buffer,
  message: Buffer,
  trailing: number | undefined,
  into: Buffer,
): Buffer {
  const { block, inner, outer } = scratch;
  for (let i = 0; i < block; i += 1) {
    const k = i < key.length ? (key[i] as number) : 0;
    inner[i] = k ^ 0x36;
    outer[i] = k ^ 0x5c;
  }
  message.copy(inner, block);
  let end = block + message.length;
  if (trailing !== undefined) inner[end++] = trailing;
  outer.write(hash(name, inner.subarray(0, end), "binary"), block, "latin1");
  into.write(hash(name, outer, "binary"), 0, "latin1");
  return into;
}

/** DER SubjectPublicKeyInfo prefix of a P-384 key with a 49-byte compressed point. */
const P384_COMPRESSED_SPKI = Buffer.from("3046301006072a8648ce3d020106052b81040022033200", "hex");

/** ECDSA P-384 / SHA-384 over the message up to the footer; the key is a base64 compressed point. */
function verifySignature(compressedPoint: string, signed: Buffer, signature: Buffer): boolean {
  const point = Buffer.from(compressedPoint, "base64");
  if (point.length !== 49 || (point[0] !== 0x02 && point[0] !== 0x03)) return false;
  const key = createPublicKey({
    key: Buffer.concat([P384_COMPRESSED_SPKI, point]),
    format: "der",
    type: "spki",
  });
  return createVerify("sha384").update(signed).verify(key, signature);
}
