import { isUtf8 } from "node:buffer";
import { RecordError } from "../config/errors.ts";

/**
 * The structure of one AWS Encryption SDK message, read and checked without any cryptography,
 * before either decryption path sees it. Everything the specification says a message MUST be is
 * checked here, for both paths alike, including what the SDK itself lets through: bytes after the
 * end of the message, a non-framed body whose header announces a frame length, and frame IVs that
 * are not the ones the specification assigns (SECURITY.md lists each check with its section).
 * Specification: github awslabs/aws-encryption-sdk-specification, `data-format/message-header.md`,
 * `message-body.md`, `message-body-aad.md`, `message-footer.md`, `framework/structures.md`.
 */
export interface EsdkMessage {
  readonly suiteId: number;
  readonly suite: Suite;
  readonly messageId: Buffer;
  /** The serialized encryption context: the header AAD's key-value pairs, without their length. */
  readonly context: Buffer;
  /** The signing key of a signed suite (the `aws-crypto-public-key` entry): a compressed P-384 point. */
  readonly publicKey: Buffer | undefined;
  readonly dataKeys: readonly EncryptedDataKey[];
  readonly framed: boolean;
  readonly frameLength: number;
  /** Where the header body ends (the header authentication tag covers `[0, headerEnd)`). */
  readonly headerEnd: number;
  readonly headerIv: Buffer;
  readonly headerTag: Buffer;
  /** The body: its frames in order, the last one final; a non-framed body is one final frame. */
  readonly frames: readonly Frame[];
  /** Where the body ends (a signature covers `[0, bodyEnd)`). */
  readonly bodyEnd: number;
  readonly signature: Buffer | undefined;
}

export interface Suite {
  /** HKDF's hash. */
  readonly hash: "sha256" | "sha384";
  /** ECDSA P-384 with SHA-384 over the header and body. */
  readonly signed: boolean;
}

export interface EncryptedDataKey {
  readonly providerId: Buffer;
  readonly providerInfo: Buffer;
  readonly ciphertext: Buffer;
}

export interface Frame {
  readonly sequence: number;
  readonly final: boolean;
  readonly iv: Buffer;
  readonly content: Buffer;
  readonly tag: Buffer;
}

/**
 * The two suites DAS writes (format version 1, AES-256-GCM, no key commitment). Anything else is
 * refused: a decryptor of audit records accepts only what their producer makes.
 */
export const SUITES: ReadonlyMap<number, Suite> = new Map([
  [0x0178, { hash: "sha256", signed: false }],
  [0x0378, { hash: "sha384", signed: true }],
]);

/** Quarantine reasons of a message refused for its structure (docs/failure-handling.md). */
export const MESSAGE_REASONS = {
  truncated: "message-truncated",
  malformed: "message-malformed",
  unsupported: "message-unsupported",
  trailingBytes: "message-trailing-bytes",
  frameLengthNotZero: "message-frame-length-not-zero",
  ivMismatch: "message-iv-mismatch",
} as const;

/** Encrypted data keys a message may carry: the SDK client's `maxEncryptedDataKeys`. */
export const MAX_DATA_KEYS = 4;
export const IV_LENGTH = 12;
export const TAG_LENGTH = 16;
const PUBLIC_KEY_CONTEXT = "aws-crypto-public-key";
const PUBLIC_KEY_CONTEXT_BYTES = Buffer.from(PUBLIC_KEY_CONTEXT);
const FINAL_FRAME_MARK = 0xffffffff;
/** Non-framed content is at most 2^36 - 32 bytes (message-body.md § Encrypted Content Length). */
const NON_FRAMED_MAX_LENGTH = 2 ** 36 - 32;
const COMPRESSED_P384_POINT = 49;
const ZERO_IV = Buffer.alloc(IV_LENGTH);

/**
 * Reads the message's structure and checks every rule that needs no key.
 * @throws RecordError with one of {@link MESSAGE_REASONS} when the message breaks one.
 */
export function parseMessage(m: Buffer): EsdkMessage {
  const r = new Reader(m);
  const version = r.u8();
  const type = r.u8();
  if (version !== 0x01 || type !== 0x80) {
    throw refuse("unsupported", `version ${version} type ${type}; DAS writes format version 1`);
  }
  const suiteId = r.u16();
  const suite = SUITES.get(suiteId);
  if (suite === undefined) {
    throw refuse(
      "unsupported",
      `algorithm suite 0x${suiteId.toString(16).padStart(4, "0")}; DAS writes 0x0178 and 0x0378`,
    );
  }
  const messageId = r.bytes(16);
  const context = r.bytes(r.u16());
  const publicKey = readContext(context, suite.signed);
  const dataKeys = readDataKeys(r);

  const contentType = r.u8();
  if (contentType !== 0x01 && contentType !== 0x02) throw refuse("malformed", `content type ${contentType}`);
  const framed = contentType === 0x02;
  if (r.u32() !== 0) throw refuse("malformed", "the header's reserved bytes are not zero");
  if (r.u8() !== IV_LENGTH) throw refuse("malformed", "the header's IV length is not the suite's (12)");
  const frameLength = r.u32();
  if (!framed && frameLength !== 0) {
    throw refuse(
      "frameLengthNotZero",
      `a non-framed message announces frame length ${frameLength}; it MUST be 0`,
    );
  }
  if (framed && frameLength === 0) throw refuse("malformed", "a framed message with frame length 0");
  const headerEnd = r.at;
  // Version 1's header IV is 0 (encrypt.md § Construct the header), never a frame's IV.
  const headerIv = r.bytes(IV_LENGTH);
  if (!headerIv.equals(ZERO_IV)) throw refuse("ivMismatch", "the header's IV is not 0");
  const headerTag = r.bytes(TAG_LENGTH);

  const frames = framed ? readFrames(r, frameLength) : [readNonFramed(r)];
  const bodyEnd = r.at;
  let signature: Buffer | undefined;
  if (suite.signed) signature = r.bytes(r.u16());
  if (r.at !== m.length) {
    throw refuse("trailingBytes", `${m.length - r.at} bytes follow the end of the message`);
  }
  return {
    suiteId,
    suite,
    messageId,
    context,
    publicKey,
    dataKeys,
    framed,
    frameLength,
    headerEnd,
    headerIv,
    headerTag,
    frames,
    bodyEnd,
    signature,
  };
}

/**
 * The encryption context (structures.md "Serialization"): a count above 0, keys and values UTF-8,
 * keys in ascending byte order without duplicates, nothing left over. A signed suite's context
 * holds its signing key (base64 of a compressed P-384 point); an unsigned suite's must not.
 */
function readContext(context: Buffer, signed: boolean): Buffer | undefined {
  let publicKey: Buffer | undefined;
  if (context.length > 0) {
    const r = new Reader(context, "malformed");
    const count = r.u16();
    if (count === 0) throw refuse("malformed", "the encryption context is empty but has a length");
    let previous: Buffer | undefined;
    for (let i = 0; i < count; i += 1) {
      const key = r.bytes(r.u16());
      const value = r.bytes(r.u16());
      if (!isUtf8(key) || !isUtf8(value))
        throw refuse("malformed", "an encryption context entry is not UTF-8");
      if (previous !== undefined && Buffer.compare(previous, key) >= 0) {
        throw refuse("malformed", "the encryption context's keys are not sorted and unique");
      }
      previous = key;
      if (key.equals(PUBLIC_KEY_CONTEXT_BYTES)) publicKey = decodePublicKey(value);
    }
    if (r.at !== context.length)
      throw refuse("malformed", "the encryption context's length does not match its entries");
  }
  if (signed && publicKey === undefined)
    throw refuse("malformed", `a signed message without ${PUBLIC_KEY_CONTEXT}`);
  if (!signed && publicKey !== undefined)
    throw refuse("malformed", `an unsigned message with ${PUBLIC_KEY_CONTEXT}`);
  return publicKey;
}

/**
 * Canonical base64 (ASCII, padded) of a 49-byte compressed point (transitive-requirements.md
 * § ECDSA: the compressed form). Stricter than the SDK, which accepts dropped padding; Node's
 * decoder skips what is not base64, so any other text could carry bytes the key does not hold.
 */
function decodePublicKey(value: Buffer): Buffer {
  const text = value.toString("latin1");
  const point = Buffer.from(text, "base64");
  if (
    point.toString("base64") !== text ||
    point.length !== COMPRESSED_P384_POINT ||
    (point[0] !== 0x02 && point[0] !== 0x03)
  ) {
    throw refuse("malformed", `the ${PUBLIC_KEY_CONTEXT} value is not base64 of a compressed P-384 point`);
  }
  return point;
}

function readDataKeys(r: Reader): EncryptedDataKey[] {
  const count = r.u16();
  if (count === 0 || count > MAX_DATA_KEYS) {
    throw refuse("malformed", `${count} encrypted data keys (1 to ${MAX_DATA_KEYS} accepted)`);
  }
  const keys: EncryptedDataKey[] = [];
  for (let i = 0; i < count; i += 1) {
    const providerId = r.bytes(r.u16());
    const providerInfo = r.bytes(r.u16());
    const ciphertext = r.bytes(r.u16());
    if (!isUtf8(providerId)) throw refuse("malformed", "a key provider id is not UTF-8");
    keys.push({ providerId, providerInfo, ciphertext });
  }
  return keys;
}

/**
 * Framed data (message-body.md "Framed Data"): sequence numbers from 1 up by one, each frame's IV
 * its sequence number (client-apis/decrypt.md), regular frames of the header's frame length, one
 * final frame last, no longer than the frame length.
 */
function readFrames(r: Reader, frameLength: number): Frame[] {
  const frames: Frame[] = [];
  for (let sequence = 1; ; sequence += 1) {
    let word = r.u32();
    const final = word === FINAL_FRAME_MARK;
    if (final) word = r.u32();
    if (word !== sequence) throw refuse("malformed", `frame ${sequence} carries sequence number ${word}`);
    const iv = readIv(r, sequence);
    const length = final ? r.u32() : frameLength;
    if (length > frameLength) {
      throw refuse(
        "malformed",
        `the final frame holds ${length} bytes, more than the frame length ${frameLength}`,
      );
    }
    frames.push({ sequence, final, iv, content: r.bytes(length), tag: r.bytes(TAG_LENGTH) });
    if (final) return frames;
  }
}

/** Non-framed data: IV 1, a 64-bit length of at most 2^36 - 32, the content and its tag. */
function readNonFramed(r: Reader): Frame {
  const iv = readIv(r, 1);
  const length = r.u32() * 2 ** 32 + r.u32();
  if (length > NON_FRAMED_MAX_LENGTH) {
    throw refuse("malformed", "the non-framed content is longer than 2^36 - 32 bytes");
  }
  return { sequence: 1, final: true, iv, content: r.bytes(length), tag: r.bytes(TAG_LENGTH) };
}

/** The IV of a frame MUST be its sequence number, big-endian, padded with zeros to 12 bytes. */
function readIv(r: Reader, sequence: number): Buffer {
  const iv = r.bytes(IV_LENGTH);
  if (iv.readUInt32BE(0) !== 0 || iv.readUInt32BE(4) !== 0 || iv.readUInt32BE(8) !== sequence) {
    throw refuse("ivMismatch", `frame ${sequence}'s IV is not its sequence number`);
  }
  return iv;
}

function refuse(kind: keyof typeof MESSAGE_REASONS, detail: string): RecordError {
  return new RecordError(
    MESSAGE_REASONS[kind],
    `databaseActivityEvents is not a valid Encryption SDK message: ${detail}`,
  );
}

/** A cursor over a buffer; reading past its end is a truncated message (or `overrun`). */
class Reader {
  at = 0;
  readonly #m: Buffer;
  readonly #overrun: keyof typeof MESSAGE_REASONS;

  constructor(m: Buffer, overrun: keyof typeof MESSAGE_REASONS = "truncated") {
    this.#m = m;
    this.#overrun = overrun;
  }

  #need(length: number): number {
    const at = this.at;
    if (at + length > this.#m.length) {
      throw refuse(
        this.#overrun,
        `it ends at byte ${this.#m.length}, inside a field that needs ${at + length}`,
      );
    }
    this.at = at + length;
    return at;
  }

  u8(): number {
    return this.#m[this.#need(1)] as number;
  }
  u16(): number {
    return this.#m.readUInt16BE(this.#need(2));
  }
  u32(): number {
    return this.#m.readUInt32BE(this.#need(4));
  }
  bytes(length: number): Buffer {
    const at = this.#need(length);
    return this.#m.subarray(at, at + length);
  }
}
