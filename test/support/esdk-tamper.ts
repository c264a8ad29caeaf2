/**
 * Tampered forms of an existing AWS Encryption SDK message (format version 1), as the AWS Crypto
 * Tools test vector framework defines its tampering methods for decrypt-generate manifests
 * (github awslabs/aws-crypto-tools-test-vector-framework at c3d73fae, features/0006-awses-message-
 * decryption-generation.md version 2, "tampering"; its handler: github aws/aws-encryption-sdk-python
 * at 51089773, test_vector_handlers/src/awses_test_vectors/manifests/full_message/
 * decrypt_generation.py). Written from their definitions; no code of theirs is copied.
 * Every form is one the framework requires a decryptor to refuse.
 *
 * - `truncate`: the message cut at N bytes, for every N from 1 to one less than its length (the
 *   empty prefix is not a form of the framework).
 * - `mutate`: the message with its Nth bit flipped, for every N from 0 to one less than its bit
 *   count. Bit N is the bit of mask `0x80 >> (N % 8)` in byte `N >> 3` (most significant first),
 *   as the python handler's `flip_bit` numbers them; the framework text does not fix an order.
 *   NOTE: in the python handler the two class bodies are swapped (since commit 863b04db, 2021-05): `TruncateTamperingMethod`, built for the tag `truncate`, writes the bit
 *   flips (expected error "Bit N flipped"), and `MutateTamperingMethod`, built for `mutate`, writes
 *   the truncations ("Truncated at byte N"). The two tags together yield the same forms either way;
 *   this module names each form by what it is, as the framework text does.
 * - `change-edk-provider-info`: for each of a list of values, the message with the provider info
 *   of every encrypted data key replaced by that value (the framework's "all encrypted data keys";
 *   the decryptable one among them). The framework changes the info during encryption, so its
 *   header authentication tag covers the new value; here it is applied to a finished message, so
 *   the header is re-serialized (the info's length field updated; a version 1 header has no other
 *   length covering it) and the original header tag no longer verifies: the message is refused
 *   for the data key (the keyring's checks of key name, tag and IV lengths, or the unwrap) and, if
 *   anything got that far, for the header tag.
 *
 * Left out: `half-sign`. It needs encryption: a custom materials manager generates signing
 * materials for an unsigned suite and drops the signing key, so the message's encryption context
 * carries `aws-crypto-public-key` while it has no footer, and its header tag and data key are made
 * for that context. It has to be sealed anew, not derived from an existing message's bytes (and the
 * framework generates it for suite 0x0478 only, which these vectors do not use). The framework
 * defines no other tampering method (the manifest's `decryption-method`, `result` and
 * `decryption-master-keys` are not tampering).
 *
 * The functions are pure: they never change the buffer given, and each form owns its bytes.
 */

/** One tampered form: what was done (for failure messages) and the bytes. */
export interface TamperedForm {
  readonly name: string;
  readonly bytes: Buffer;
}

/** A field that steers parsing (a type, count, length, sequence number…), or carried data. */
export type FieldKind = "structure" | "opaque";

export interface Field {
  /** e.g. `header.edk[0].providerInfo`, `frame[3].tag`, `footer.signatureLength`. */
  readonly name: string;
  readonly start: number;
  readonly end: number;
  readonly kind: FieldKind;
}

export interface EdkLayout {
  readonly providerId: string;
  readonly providerInfo: Buffer;
  /** The 2-byte length of the provider info, then the info itself. */
  readonly providerInfoLength: Field;
  readonly providerInfoField: Field;
}

export interface FrameLayout {
  /** 1-based, as in the message; a non-framed body is one final "frame" of sequence 1. */
  readonly sequence: number;
  readonly final: boolean;
  readonly fields: readonly Field[];
}

/** Where everything is in a version 1 message, read without any cryptography. */
export interface MessageLayout {
  readonly suiteId: number;
  readonly signed: boolean;
  readonly framed: boolean;
  readonly frameLength: number;
  /** The header's fields, its authentication IV and tag last. */
  readonly header: readonly Field[];
  readonly edks: readonly EdkLayout[];
  readonly frames: readonly FrameLayout[];
  /** Signature length and signature, for a signed suite; else empty. */
  readonly footer: readonly Field[];
  readonly length: number;
}

/** The version 1 suites of the Encryption SDK: which of them sign (and so end with a footer). */
const V1_SUITES = new Map([
  [0x0014, false],
  [0x0046, false],
  [0x0078, false],
  [0x0114, false],
  [0x0146, false],
  [0x0178, false],
  [0x0214, true],
  [0x0346, true],
  [0x0378, true],
]);
const TAG = 16;
const FINAL_MARK = 0xffffffff;

class Cursor {
  at = 0;
  readonly fields: Field[] = [];
  constructor(private readonly m: Buffer) {}

  take(name: string, length: number, kind: FieldKind): Field {
    if (length < 0 || this.at + length > this.m.length) {
      throw new Error(`not a well-formed message: ${name} runs past the end (byte ${this.at})`);
    }
    const field = { name, start: this.at, end: this.at + length, kind };
    this.fields.push(field);
    this.at += length;
    return field;
  }

  uint(name: string, length: 1 | 2 | 4): number {
    return this.m.readUIntBE(this.take(name, length, "structure").start, length);
  }

  bytes(field: Field): Buffer {
    return this.m.subarray(field.start, field.end);
  }

  /** Takes the fields pushed since `mark` out of the list. */
  since(mark: number): Field[] {
    return this.fields.splice(mark);
  }
}

/**
 * Reads where every field of a version 1 message is.
 * @throws Error when the bytes are not a well-formed version 1 message.
 */
export function parseLayout(m: Buffer): MessageLayout {
  const c = new Cursor(m);
  const version = c.uint("header.version", 1);
  const type = c.uint("header.type", 1);
  if (version !== 0x01 || type !== 0x80) throw new Error(`not a version 1 message (${version}, ${type})`);
  const suiteId = c.uint("header.suiteId", 2);
  const signed = V1_SUITES.get(suiteId);
  if (signed === undefined) throw new Error(`not a version 1 suite: 0x${suiteId.toString(16)}`);
  c.take("header.messageId", 16, "opaque");
  const contextLength = c.uint("header.contextLength", 2);
  if (contextLength > 0) {
    const contextEnd = c.at + contextLength;
    const count = c.uint("header.context.count", 2);
    for (let i = 0; i < count; i += 1) {
      c.take(`header.context[${i}].key`, c.uint(`header.context[${i}].keyLength`, 2), "opaque");
      c.take(`header.context[${i}].value`, c.uint(`header.context[${i}].valueLength`, 2), "opaque");
    }
    if (c.at !== contextEnd) throw new Error("not a well-formed message: the context length is off");
  }
  const edks: EdkLayout[] = [];
  const edkCount = c.uint("header.edkCount", 2);
  for (let i = 0; i < edkCount; i += 1) {
    const id = c.take(
      `header.edk[${i}].providerId`,
      c.uint(`header.edk[${i}].providerIdLength`, 2),
      "opaque",
    );
    const infoLength = c.uint(`header.edk[${i}].providerInfoLength`, 2);
    const providerInfoLength = c.fields[c.fields.length - 1] as Field;
    const info = c.take(`header.edk[${i}].providerInfo`, infoLength, "opaque");
    c.take(`header.edk[${i}].ciphertext`, c.uint(`header.edk[${i}].ciphertextLength`, 2), "opaque");
    edks.push({
      providerId: c.bytes(id).toString("utf8"),
      providerInfo: c.bytes(info),
      providerInfoLength,
      providerInfoField: info,
    });
  }
  const contentType = c.uint("header.contentType", 1);
  if (contentType !== 1 && contentType !== 2)
    throw new Error(`not a well-formed message: content type ${contentType}`);
  c.uint("header.reserved", 4);
  const ivLength = c.uint("header.ivLength", 1);
  const frameLength = c.uint("header.frameLength", 4);
  c.take("header.authIv", ivLength, "opaque");
  c.take("header.authTag", TAG, "opaque");
  const header = c.since(0);

  const frames: FrameLayout[] = [];
  if (contentType === 1) {
    c.take("body.iv", ivLength, "opaque");
    const lengthField = c.take("body.contentLength", 8, "structure");
    const contentLength = Number(m.readBigUInt64BE(lengthField.start));
    c.take("body.content", contentLength, "opaque");
    c.take("body.tag", TAG, "opaque");
    frames.push({ sequence: 1, final: true, fields: c.since(0) });
  } else {
    for (let sequence = 1; ; sequence += 1) {
      const final = c.at + 4 <= m.length && m.readUInt32BE(c.at) === FINAL_MARK;
      const p = `frame[${sequence}]`;
      if (final) c.uint(`${p}.finalMark`, 4);
      if (c.uint(`${p}.sequence`, 4) !== sequence)
        throw new Error(`not a well-formed message: ${p} sequence`);
      c.take(`${p}.iv`, ivLength, "opaque");
      const length = final ? c.uint(`${p}.contentLength`, 4) : frameLength;
      c.take(`${p}.content`, length, "opaque");
      c.take(`${p}.tag`, TAG, "opaque");
      frames.push({ sequence, final, fields: c.since(0) });
      if (final) break;
    }
  }
  if (signed) c.take("footer.signature", c.uint("footer.signatureLength", 2), "opaque");
  const footer = c.since(0);
  if (c.at !== m.length) throw new Error(`not a well-formed message: ${m.length - c.at} bytes after the end`);
  return {
    suiteId,
    signed,
    framed: contentType === 2,
    frameLength,
    header,
    edks,
    frames,
    footer,
    length: m.length,
  };
}

/** Every field of the message, in order. */
export function allFields(layout: MessageLayout): Field[] {
  return [...layout.header, ...layout.frames.flatMap((frame) => frame.fields), ...layout.footer];
}

/** The name of the field holding byte `offset`. */
export function fieldAt(layout: MessageLayout, offset: number): string {
  return allFields(layout).find((field) => field.start <= offset && offset < field.end)?.name ?? "outside";
}

function layoutOrUndefined(message: Buffer): MessageLayout | undefined {
  try {
    return parseLayout(message);
  } catch {
    return undefined;
  }
}

/**
 * Framework `truncate`: the message cut at each of `lengths` bytes; by default every length from
 * 1 to one less than the message's.
 */
export function* truncate(message: Buffer, lengths?: Iterable<number>): Generator<TamperedForm> {
  const layout = layoutOrUndefined(message);
  for (const length of lengths ?? range(1, message.length)) {
    if (!Number.isInteger(length) || length < 1 || length >= message.length) {
      throw new RangeError(`truncate: ${length} is not a length from 1 to ${message.length - 1}`);
    }
    const cut = layout && allFields(layout).find((field) => field.start <= length && length < field.end);
    const where = cut === undefined ? "" : `, cut ${cut.start === length ? "before" : "inside"} ${cut.name}`;
    yield { name: `truncate to ${length} bytes${where}`, bytes: Buffer.from(message.subarray(0, length)) };
  }
}

/**
 * Framework `mutate`: the message with bit N flipped (mask `0x80 >> (N % 8)` of byte `N >> 3`), for
 * each N of `bits`; by default every bit of the message.
 */
export function* mutate(message: Buffer, bits?: Iterable<number>): Generator<TamperedForm> {
  const layout = layoutOrUndefined(message);
  for (const bit of bits ?? range(0, message.length * 8)) {
    if (!Number.isInteger(bit) || bit < 0 || bit >= message.length * 8) {
      throw new RangeError(`mutate: ${bit} is not a bit of a ${message.length}-byte message`);
    }
    const byte = bit >> 3;
    const mask = 0x80 >> (bit & 7);
    const bytes = Buffer.from(message);
    bytes[byte] = (bytes[byte] as number) ^ mask;
    const where = layout === undefined ? "" : ` in ${fieldAt(layout, byte)}`;
    yield {
      name: `mutate bit ${bit} (byte ${byte} mask 0x${mask.toString(16).padStart(2, "0")}${where})`,
      bytes,
    };
  }
}

/**
 * Framework `change-edk-provider-info`: for each value (a string is taken as UTF-8), the message
 * with the provider info of every encrypted data key replaced by it, lengths re-serialized.
 * @throws Error when the message does not parse, a value is longer than 65535 bytes, or a value
 * leaves every data key as it was (that form would not be tampered).
 */
export function* changeEdkProviderInfo(
  message: Buffer,
  values: Iterable<string | Uint8Array>,
): Generator<TamperedForm> {
  const layout = parseLayout(message);
  for (const value of values) {
    const info = typeof value === "string" ? Buffer.from(value, "utf8") : Buffer.from(value);
    if (info.length > 0xffff) throw new RangeError(`provider info of ${info.length} bytes does not fit`);
    if (layout.edks.every((edk) => edk.providerInfo.equals(info))) {
      throw new Error("change-edk-provider-info: the value is every data key's provider info already");
    }
    const parts: Buffer[] = [];
    let at = 0;
    for (const edk of layout.edks) {
      parts.push(message.subarray(at, edk.providerInfoLength.start));
      const length = Buffer.alloc(2);
      length.writeUInt16BE(info.length);
      parts.push(length, info);
      at = edk.providerInfoField.end;
    }
    parts.push(message.subarray(at));
    const shown = typeof value === "string" ? JSON.stringify(value) : `0x${info.toString("hex")}`;
    yield {
      name: `change-edk-provider-info to ${shown} (${info.length} bytes)`,
      bytes: Buffer.concat(parts),
    };
  }
}

/**
 * Provider info values for `change-edk-provider-info` on a message of the raw AES keyring, whose
 * provider info is the key name, the tag length in bits (4 bytes), the IV length (4 bytes) and the
 * IV: the framework's own value (a KMS key ARN, from its canonical manifest), empty, and the
 * original with one part changed: the key name, the tag length, the IV length, the IV, one byte
 * short, one byte more, and the key name alone.
 */
export function rawAesProviderInfoVariants(info: Buffer): { label: string; value: string | Buffer }[] {
  if (info.length < 21) throw new Error("not a raw AES keyring's provider info");
  const nameLength = info.length - 20;
  const changed = (at: number, mask = 0x01) => {
    const copy = Buffer.from(info);
    copy[at] = (copy[at] as number) ^ mask;
    return copy;
  };
  return [
    { label: "framework value", value: "arn:aws:kms:us-west-2:658956600833:alias/EncryptOnly" },
    { label: "empty", value: Buffer.alloc(0) },
    { label: "key name changed", value: changed(nameLength - 1) },
    { label: "tag length 96 bits", value: changed(nameLength + 3, 0xe0) }, // 0x80 ^ 0xe0 = 0x60
    { label: "IV length changed", value: changed(nameLength + 7) },
    { label: "IV changed", value: changed(info.length - 1) },
    { label: "one byte short", value: info.subarray(0, info.length - 1) },
    { label: "one byte more", value: Buffer.concat([info, Buffer.from([0])]) },
    { label: "key name alone", value: info.subarray(0, nameLength) },
  ];
}

/*
 * Deterministic subsets of `mutate` and `truncate`: all of them is (bits + bytes) decryptions per
 * message, too many for a test run. "Edge frames" are the first two frames, the last regular frame
 * and the final frame (a non-framed body is one final frame): there are frame numbering, the
 * final-frame handling and the footer's boundary; the frames between them differ from their
 * neighbours only by their sequence number, IV, content and tag.
 */

/** The frames the subsets cover in detail. */
export function edgeFrames(layout: MessageLayout): FrameLayout[] {
  const n = layout.frames.length;
  const picked = new Set([0, 1, n - 2, n - 1].filter((i) => i >= 0 && i < n));
  return layout.frames.filter((_, i) => picked.has(i));
}

/** The fields of the header, of the edge frames (their content too when `content`) and of the footer. */
function detailedFields(layout: MessageLayout, content: boolean): Field[] {
  const frames = edgeFrames(layout).flatMap((frame) => frame.fields);
  return [
    ...layout.header,
    ...(content ? frames : frames.filter((field) => !field.name.endsWith(".content"))),
    ...layout.footer,
  ].filter((field) => field.start < field.end);
}

const middle = (field: Field) => (field.start + field.end - 1) >> 1;

/**
 * A sample of `mutate`'s bits, every field of the message hit, for `rotation` 0-3 (four messages
 * of the same shape, taking rotations 0 to 3, together flip every bit of every structure byte):
 * - in the header, the edge frames and the footer: bits `rotation` and `rotation + 4` of every
 *   byte of every structure field (version, type, suite, lengths, counts, content type, reserved,
 *   IV length, frame length, sequence numbers, final-frame mark, content lengths, signature
 *   length); bit `rotation` of the first and last byte of every opaque field, bit `rotation + 4`
 *   of its middle byte;
 * - in every other frame: bit `rotation` of the middle byte of each field.
 */
export function sampledBits(layout: MessageLayout, rotation: number): number[] {
  const r = rotation & 3;
  const bits = new Set<number>();
  for (const field of detailedFields(layout, true)) {
    if (field.kind === "structure") {
      for (let byte = field.start; byte < field.end; byte += 1) bits.add(byte * 8 + r).add(byte * 8 + r + 4);
    } else {
      bits
        .add(field.start * 8 + r)
        .add(middle(field) * 8 + r + 4)
        .add((field.end - 1) * 8 + r);
    }
  }
  const edges = new Set(edgeFrames(layout));
  for (const frame of layout.frames) {
    if (edges.has(frame)) continue;
    for (const field of frame.fields) if (field.start < field.end) bits.add(middle(field) * 8 + r);
  }
  return [...bits].sort((a, b) => a - b);
}

/** Every bit of the header, of the footer and of the edge frames' fields but their content. */
export function denseBits(layout: MessageLayout): number[] {
  const bits = new Set<number>();
  for (const field of detailedFields(layout, false)) {
    for (let bit = field.start * 8; bit < field.end * 8; bit += 1) bits.add(bit);
  }
  return [...bits].sort((a, b) => a - b);
}

/**
 * A sample of `truncate`'s lengths: the end of every field, and one byte before it, in the header,
 * the edge frames and the footer; the end of every other frame; 1 and one less than the message's
 * length (the shortest and the longest cut). Only lengths from 1 to one less than the message's.
 */
export function sampledLengths(layout: MessageLayout): number[] {
  const lengths = new Set<number>([1, layout.length - 1]);
  for (const field of detailedFields(layout, true)) lengths.add(field.end).add(field.end - 1);
  for (const frame of layout.frames) lengths.add(frame.fields[frame.fields.length - 1]?.end ?? 0);
  return [...lengths].filter((n) => n >= 1 && n < layout.length).sort((a, b) => a - b);
}

/**
 * Every length that cuts the message at the start, inside or at the end of a field of the header,
 * of the footer or of an edge frame (but its content), from 1 to one less than the message's length.
 */
export function denseLengths(layout: MessageLayout): number[] {
  const lengths = new Set<number>();
  for (const field of detailedFields(layout, false)) {
    for (let n = field.start; n <= field.end; n += 1) lengths.add(n);
  }
  return [...lengths].filter((n) => n >= 1 && n < layout.length).sort((a, b) => a - b);
}

function* range(from: number, to: number): Generator<number> {
  for (let i = from; i < to; i += 1) yield i;
}
