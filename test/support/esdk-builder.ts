import {
  createCipheriv,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  randomBytes,
  sign,
} from "node:crypto";
import { DAS_KEY, type KeyIdentity } from "../../src/decrypt/das-keyring.ts";

/**
 * Encryption SDK messages (format version 1, suites 0x0178 and 0x0378) built from the specification
 * with node:crypto, so a test can make messages the SDK would never write but whose every tag and
 * signature is genuine: a frame IV other than its sequence number, a non-framed header announcing a
 * frame length, a signing key written in non-canonical base64, an unsorted encryption context. Its
 * ordinary output is checked against the SDK itself (test/unit/decrypt/message-decrypt.test.ts), so the
 * builder is not trusted on its own word.
 */
export interface SealOptions {
  readonly wrappingKey: Uint8Array;
  readonly identity?: KeyIdentity;
  /** 0x0178 (default) or 0x0378. */
  readonly suiteId?: number;
  /** Bytes per regular frame (default 4096); 0 writes a non-framed body. */
  readonly frameLength?: number;
  /** The header's frame length field, when it must differ from the body's shape. */
  readonly headerFrameLength?: number;
  /** Encryption context entries; a signed suite's `aws-crypto-public-key` entry is added to them. */
  readonly context?: readonly (readonly [string | Buffer, string | Buffer])[];
  /** Keep the entries in the given order instead of sorting them by key. */
  readonly unsorted?: boolean;
  /** How the signing key's base64 is written into the context (default: as is). */
  readonly publicKeyText?: (base64: string) => Buffer;
  /** The IV written and used for a frame (default: its sequence number, as the specification says). */
  readonly frameIv?: (sequence: number) => Buffer;
  /** Append a second, genuine final frame after the first. */
  readonly secondFinalFrame?: boolean;
  /** The serialized encryption context written and authenticated as is (unsigned suite). */
  readonly rawContext?: Buffer;
  /** How many times the encrypted data key is written (default 1). */
  readonly dataKeys?: number;
  /** The tag length in bits the data key's provider info announces (default 128). */
  readonly tagBits?: number;
  /** The header's IV (default 0, as the specification says). */
  readonly headerIv?: Buffer;
  /** The header's reserved field (default 0). */
  readonly reserved?: number;
}

const FRAME = Buffer.from("AWSKMSEncryptionClient Frame");
const FINAL_FRAME = Buffer.from("AWSKMSEncryptionClient Final Frame");
const SINGLE_BLOCK = Buffer.from("AWSKMSEncryptionClient Single Block");

export function sealMessage(plaintext: Buffer, options: SealOptions): Buffer {
  const identity = options.identity ?? DAS_KEY;
  const suiteId = options.suiteId ?? 0x0178;
  const signed = suiteId === 0x0378;
  const frameLength = options.frameLength ?? 4096;
  const messageId = randomBytes(16);
  const dataKey = randomBytes(32);

  const entries = (options.context ?? []).map(([k, v]) => [bytes(k), bytes(v)] as const);
  let signer: KeyObject | undefined;
  if (signed) {
    const pair = generateKeyPairSync("ec", { namedCurve: "secp384r1" });
    signer = pair.privateKey;
    const jwk = pair.publicKey.export({ format: "jwk" });
    const x = Buffer.from(jwk.x as string, "base64url");
    const y = Buffer.from(jwk.y as string, "base64url");
    const point = Buffer.concat([Buffer.from([0x02 | ((y.at(-1) as number) & 1)]), x]);
    const text = options.publicKeyText?.(point.toString("base64")) ?? Buffer.from(point.toString("base64"));
    entries.push([Buffer.from("aws-crypto-public-key"), text]);
  }
  if (options.unsorted !== true) entries.sort(([a], [b]) => Buffer.compare(a, b));
  const context =
    options.rawContext ??
    (entries.length === 0
      ? Buffer.alloc(0)
      : Buffer.concat([
          u16(entries.length),
          ...entries.flatMap(([k, v]) => [u16(k.length), k, u16(v.length), v]),
        ]));

  // The raw AES keyring's encrypted data key: the key name, tag bits, IV length, IV; AAD the context.
  const wrapIv = randomBytes(12);
  const wrapped = gcm(options.wrappingKey, wrapIv, context, dataKey);
  const name = Buffer.from(identity.name);
  const providerId = Buffer.from(identity.namespace);
  const providerInfo = Buffer.concat([name, u32(options.tagBits ?? 128), u32(12), wrapIv]);
  const headerBody = Buffer.concat([
    Buffer.from([0x01, 0x80]),
    u16(suiteId),
    messageId,
    u16(context.length),
    context,
    u16(options.dataKeys ?? 1),
    ...Array.from({ length: options.dataKeys ?? 1 }, () => [
      u16(providerId.length),
      providerId,
      u16(providerInfo.length),
      providerInfo,
      u16(wrapped.length),
      wrapped,
    ]).flat(),
    Buffer.from([frameLength === 0 ? 0x01 : 0x02]),
    u32(options.reserved ?? 0),
    Buffer.from([12]),
    u32(options.headerFrameLength ?? frameLength),
  ]);
  const info = Buffer.concat([u16(suiteId), messageId]);
  const key = Buffer.from(hkdfSync(signed ? "sha384" : "sha256", dataKey, Buffer.alloc(0), info, 32));
  const headerIv = options.headerIv ?? Buffer.alloc(12);
  const header = Buffer.concat([headerBody, headerIv, gcm(key, headerIv, headerBody, Buffer.alloc(0))]);

  const ivOf = options.frameIv ?? ((sequence: number) => Buffer.concat([Buffer.alloc(8), u32(sequence)]));
  const body: Buffer[] = [];
  const seal = (label: Buffer, sequence: number, content: Buffer) => {
    const iv = ivOf(sequence);
    const aad = Buffer.concat([messageId, label, u32(sequence), u32(0), u32(content.length)]);
    const sealed = gcm(key, iv, aad, content);
    return { iv, ciphertext: sealed.subarray(0, content.length), tag: sealed.subarray(content.length) };
  };
  if (frameLength === 0) {
    const { iv, ciphertext, tag } = seal(SINGLE_BLOCK, 1, plaintext);
    body.push(iv, u32(0), u32(ciphertext.length), ciphertext, tag);
  } else {
    let at = 0;
    let sequence = 1;
    for (; plaintext.length - at > frameLength; at += frameLength, sequence += 1) {
      const { iv, ciphertext, tag } = seal(FRAME, sequence, plaintext.subarray(at, at + frameLength));
      body.push(u32(sequence), iv, ciphertext, tag);
    }
    const finals = options.secondFinalFrame === true ? 2 : 1;
    for (let i = 0; i < finals; i += 1, sequence += 1) {
      const { iv, ciphertext, tag } = seal(FINAL_FRAME, sequence, plaintext.subarray(at));
      body.push(u32(0xffffffff), u32(sequence), iv, u32(ciphertext.length), ciphertext, tag);
    }
  }
  const message = Buffer.concat([header, ...body]);
  if (signer === undefined) return message;
  const signature = sign("sha384", message, signer);
  return Buffer.concat([message, u16(signature.length), signature]);
}

function gcm(key: Uint8Array, iv: Buffer, aad: Buffer, plaintext: Buffer): Buffer {
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(aad);
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

function bytes(value: string | Buffer): Buffer {
  return typeof value === "string" ? Buffer.from(value) : value;
}
function u16(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(value);
  return b;
}
function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value);
  return b;
}
