import { type Cipher, createCipheriv } from "node:crypto";

/**
 * AES-256-GCM decryption of the 32-byte data keys that one wrapping key protects (the raw AES
 * keyring's encrypted data key, one per Encryption SDK message). A DAS data key from KMS wraps the
 * data keys of many consecutive messages, so the per-key work is done once: the AES key schedule
 * (one long-lived AES-ECB context, used only to encrypt counter blocks) and the GHASH tables of
 * H = E(K, 0¹²⁸). Each unwrap is then one AES call for its three counter blocks and a GHASH over a
 * few blocks, instead of a new GCM context per message.
 *
 * GCM as NIST SP 800-38D defines it for a 96-bit IV: J0 = IV ‖ 0³¹1, the plaintext is the ciphertext
 * XOR E(K, inc32(J0)), E(K, inc32²(J0)), and the tag is E(K, J0) XOR GHASH_H(A ‖ 0* ‖ C ‖ 0* ‖ [len(A)]₆₄ ‖ [len(C)]₆₄).
 * The tag is compared in full, without an early exit. test/unit/gcm-unwrap.test.ts checks every
 * result against Node's own AES-256-GCM on random and tampered inputs.
 */
export class DataKeyUnwrapper {
  readonly #ecb: Cipher;
  /** GHASH tables: for byte position p and byte value v, (v at p) · H, as four 32-bit words. */
  readonly #table = new Uint32Array(16 * 256 * 4);
  readonly #counters = Buffer.alloc(48);

  constructor(wrappingKey: Uint8Array) {
    this.#ecb = createCipheriv("aes-256-ecb", wrappingKey, null);
    this.#ecb.setAutoPadding(false);
    this.#fillTable(this.#ecb.update(Buffer.alloc(16)));
  }

  /** The 32-byte data key, or `undefined` when the tag does not verify (wrong key, tampered bytes). */
  open(iv: Buffer, aad: Buffer, ciphertext: Buffer, tag: Buffer): Buffer | undefined {
    if (iv.length !== 12 || ciphertext.length !== 32 || tag.length !== 16 || aad.length >= 2 ** 29) {
      return undefined;
    }
    const counters = this.#counters;
    for (let block = 0; block < 3; block += 1) {
      iv.copy(counters, block * 16);
      counters.writeUInt32BE(block + 1, block * 16 + 12);
    }
    const masks = this.#ecb.update(counters); // E(K, J0), E(K, J0 + 1), E(K, J0 + 2): a new buffer

    const y = STATE;
    y.fill(0);
    const full = aad.length - (aad.length % 16);
    for (let at = 0; at < full; at += 16) {
      this.#absorb(
        aad.readUInt32BE(at),
        aad.readUInt32BE(at + 4),
        aad.readUInt32BE(at + 8),
        aad.readUInt32BE(at + 12),
      );
    }
    if (full < aad.length) {
      const last = LAST_BLOCK;
      last.fill(0);
      aad.copy(last, 0, full);
      this.#absorb(last.readUInt32BE(0), last.readUInt32BE(4), last.readUInt32BE(8), last.readUInt32BE(12));
    }
    for (let at = 0; at < 32; at += 16) {
      this.#absorb(
        ciphertext.readUInt32BE(at),
        ciphertext.readUInt32BE(at + 4),
        ciphertext.readUInt32BE(at + 8),
        ciphertext.readUInt32BE(at + 12),
      );
    }
    this.#absorb(0, aad.length * 8, 0, 32 * 8);

    let difference = 0;
    for (let word = 0; word < 4; word += 1) {
      difference |= ((y[word] as number) ^ masks.readUInt32BE(word * 4) ^ tag.readUInt32BE(word * 4)) >>> 0;
    }
    if (difference !== 0) return undefined;
    const key = masks.subarray(16);
    for (let i = 0; i < 32; i += 1) key[i] = (key[i] as number) ^ (ciphertext[i] as number);
    return key;
  }

  /** y = (y XOR block) · H, the block as four big-endian 32-bit words. */
  #absorb(b0: number, b1: number, b2: number, b3: number): void {
    const y = STATE;
    y[0] = (y[0] as number) ^ b0;
    y[1] = (y[1] as number) ^ b1;
    y[2] = (y[2] as number) ^ b2;
    y[3] = (y[3] as number) ^ b3;
    let r0 = 0;
    let r1 = 0;
    let r2 = 0;
    let r3 = 0;
    const t = this.#table;
    for (let p = 0; p < 16; p += 1) {
      const byte = ((y[p >> 2] as number) >>> (24 - 8 * (p & 3))) & 0xff;
      const at = (p * 256 + byte) * 4;
      r0 ^= t[at] as number;
      r1 ^= t[at + 1] as number;
      r2 ^= t[at + 2] as number;
      r3 ^= t[at + 3] as number;
    }
    y[0] = r0;
    y[1] = r1;
    y[2] = r2;
    y[3] = r3;
  }

  /**
   * In GCM's bit order the first bit of a block (0x80 of byte 0) is the coefficient of x⁰, and
   * multiplying by x is a right shift by one bit, reduced by R = 0xE1 ‖ 0¹²⁰ when a bit falls off.
   */
  #fillTable(h: Buffer): void {
    const t = this.#table;
    let v0 = h.readUInt32BE(0);
    let v1 = h.readUInt32BE(4);
    let v2 = h.readUInt32BE(8);
    let v3 = h.readUInt32BE(12);
    for (let p = 0; p < 16; p += 1) {
      const base = p * 256 * 4;
      for (let bit = 0; bit < 8; bit += 1) {
        const at = base + (0x80 >> bit) * 4; // H · x^(8p + bit)
        t[at] = v0;
        t[at + 1] = v1;
        t[at + 2] = v2;
        t[at + 3] = v3;
        const carry = v3 & 1;
        v3 = (v3 >>> 1) | (v2 << 31);
        v2 = (v2 >>> 1) | (v1 << 31);
        v1 = (v1 >>> 1) | (v0 << 31);
        v0 = (v0 >>> 1) ^ (carry === 1 ? 0xe1000000 : 0);
      }
      for (let value = 3; value < 256; value += 1) {
        const low = value & -value;
        if (low === value) continue; // a single bit: set above
        const a = base + (value ^ low) * 4;
        const b = base + low * 4;
        const at = base + value * 4;
        for (let word = 0; word < 4; word += 1)
          t[at + word] = (t[a + word] as number) ^ (t[b + word] as number);
      }
    }
  }
}

// Scratch of the synchronous unwrap (filled and consumed within one call).
const STATE = new Uint32Array(4);
const LAST_BLOCK = Buffer.alloc(16);

/**
 * Unwrappers of the wrapping keys met last. Each holds 64 KiB of tables and an AES context, so
 * only a few are kept: records come in runs that share a KMS data key, and a batch needs a few.
 */
const unwrappers = new Map<Uint8Array, DataKeyUnwrapper>();
const KEPT_UNWRAPPERS = 8;

/** The unwrapper of a wrapping key (its bytes, as the data key cache holds them). */
export function unwrapperFor(wrappingKey: Uint8Array): DataKeyUnwrapper {
  let unwrapper = unwrappers.get(wrappingKey);
  if (unwrapper === undefined) {
    unwrapper = new DataKeyUnwrapper(wrappingKey);
    if (unwrappers.size >= KEPT_UNWRAPPERS) unwrappers.delete(unwrappers.keys().next().value as Uint8Array);
    unwrappers.set(wrappingKey, unwrapper);
  }
  return unwrapper;
}
