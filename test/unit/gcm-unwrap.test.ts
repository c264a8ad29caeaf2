import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { describe, expect, test } from "vitest";
import { DataKeyUnwrapper, unwrapperFor } from "../../src/gcm-unwrap.ts";

function seal(key: Buffer, iv: Buffer, aad: Buffer, plaintext: Buffer) {
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { ciphertext, tag: cipher.getAuthTag() };
}

/** Node's own AES-256-GCM verdict: the plaintext, or `undefined` when the tag does not verify. */
function nodeOpen(key: Buffer, iv: Buffer, aad: Buffer, ciphertext: Buffer, tag: Buffer) {
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, iv);
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    return undefined;
  }
}

describe("DataKeyUnwrapper agrees with Node's AES-256-GCM", () => {
  test("random keys, IVs and data keys, with associated data of 0 to 100 bytes", () => {
    for (let round = 0; round < 20; round += 1) {
      const key = randomBytes(32);
      const unwrapper = new DataKeyUnwrapper(key);
      for (let aadLength = 0; aadLength <= 100; aadLength += 1) {
        const iv = randomBytes(12);
        const aad = randomBytes(aadLength);
        const dataKey = randomBytes(32);
        const { ciphertext, tag } = seal(key, iv, aad, dataKey);
        expect(unwrapper.open(iv, aad, ciphertext, tag)).toEqual(dataKey);
      }
    }
  });

  test("every flipped bit of the IV, associated data, ciphertext or tag is refused, as Node refuses it", () => {
    const key = randomBytes(32);
    const unwrapper = unwrapperFor(new Uint8Array(key));
    const iv = randomBytes(12);
    const aad = randomBytes(37);
    const { ciphertext, tag } = seal(key, iv, aad, randomBytes(32));
    const parts = { iv, aad, ciphertext, tag };
    for (const name of Object.keys(parts) as (keyof typeof parts)[]) {
      for (let bit = 0; bit < parts[name].length * 8; bit += 1) {
        const tampered = { ...parts, [name]: Buffer.from(parts[name]) };
        const bytes = tampered[name] as Buffer;
        bytes[bit >> 3] = (bytes[bit >> 3] as number) ^ (0x80 >> (bit & 7));
        const { iv: i, aad: a, ciphertext: c, tag: t } = tampered;
        expect(nodeOpen(key, i, a, c, t)).toBeUndefined();
        expect(unwrapper.open(i, a, c, t)).toBeUndefined();
      }
    }
  });

  test("another wrapping key, a short tag or a data key of another size is refused", () => {
    const key = randomBytes(32);
    const iv = randomBytes(12);
    const { ciphertext, tag } = seal(key, iv, Buffer.alloc(0), randomBytes(32));
    expect(new DataKeyUnwrapper(randomBytes(32)).open(iv, Buffer.alloc(0), ciphertext, tag)).toBeUndefined();
    const unwrapper = new DataKeyUnwrapper(key);
    expect(unwrapper.open(iv, Buffer.alloc(0), ciphertext, tag.subarray(0, 12))).toBeUndefined();
    const long = seal(key, iv, Buffer.alloc(0), randomBytes(48));
    expect(unwrapper.open(iv, Buffer.alloc(0), long.ciphertext, long.tag)).toBeUndefined();
    // The right inputs still open after refusals: nothing is left over from a failed call.
    expect(unwrapper.open(iv, Buffer.alloc(0), ciphertext, tag)).toHaveLength(32);
  });

  test("one unwrapper per wrapping key's bytes, for the last 8 keys met", () => {
    const bytes = new Uint8Array(randomBytes(32));
    const first = unwrapperFor(bytes);
    expect(unwrapperFor(bytes)).toBe(first);
    expect(unwrapperFor(new Uint8Array(bytes))).not.toBe(first);
    for (let i = 0; i < 8; i += 1) unwrapperFor(new Uint8Array(randomBytes(32)));
    const again = unwrapperFor(bytes);
    expect(again).not.toBe(first); // dropped after 8 others, made again: it still opens the same keys
    const iv = randomBytes(12);
    const dataKey = randomBytes(32);
    const { ciphertext, tag } = seal(Buffer.from(bytes), iv, Buffer.alloc(0), dataKey);
    expect(again.open(iv, Buffer.alloc(0), ciphertext, tag)).toEqual(dataKey);
  });
});
