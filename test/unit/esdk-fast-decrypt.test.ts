import { randomBytes } from "node:crypto";
import { AlgorithmSuiteIdentifier, buildClient, CommitmentPolicy } from "@aws-crypto/client-node";
import { describe, expect, test } from "vitest";
import { keyringFor } from "../../src/das-keyring.ts";
import { fastDecrypt } from "../../src/esdk-fast-decrypt.ts";

const { encrypt, decrypt } = buildClient(CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT);
const SUITES = {
  "0x0178": AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA256,
  "0x0378": AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384,
} as const;

const wrappingKey = new Uint8Array(randomBytes(32));
const keyring = keyringFor(wrappingKey);

async function seal(plaintext: Buffer, suite: keyof typeof SUITES, frameLength?: number): Promise<Buffer> {
  const { result } = await encrypt(keyring, plaintext, {
    suiteId: SUITES[suite],
    ...(frameLength === undefined ? {} : { frameLength }),
  });
  return result;
}

/** The SDK's answer: the plaintext, or `undefined` when it refuses the message. */
async function sdk(message: Buffer, key = keyring): Promise<Buffer | undefined> {
  try {
    return (await decrypt(key, message)).plaintext;
  } catch {
    return undefined;
  }
}

describe("fastDecrypt gives the SDK's plaintext on every message shape DAS produces", () => {
  for (const suite of Object.keys(SUITES) as (keyof typeof SUITES)[]) {
    test.each([0, 1, 700, 4095, 4096, 4097, 12_289])(
      `suite ${suite}, %i bytes, 4 KiB frames`,
      async (size) => {
        const plaintext = randomBytes(size);
        const message = await seal(plaintext, suite);
        const fast = fastDecrypt(message, wrappingKey);
        expect(fast).toBeDefined();
        expect(fast?.equals(plaintext)).toBe(true);
        expect((await sdk(message))?.equals(plaintext)).toBe(true);
      },
    );
    test(`suite ${suite}, small frames (many frames per message)`, async () => {
      const plaintext = randomBytes(1000);
      const message = await seal(plaintext, suite, 64);
      expect(fastDecrypt(message, wrappingKey)?.equals(plaintext)).toBe(true);
    });
  }
});

describe("fastDecrypt never accepts what the SDK refuses", () => {
  for (const suite of Object.keys(SUITES) as (keyof typeof SUITES)[]) {
    test(`suite ${suite}: every single-byte change anywhere in a message is refused by both`, async () => {
      const message = await seal(randomBytes(600), suite, 256);
      for (let at = 0; at < message.length; at += 1) {
        const tampered = Buffer.from(message);
        tampered[at] = (tampered[at] as number) ^ 0x01;
        expect(fastDecrypt(tampered, wrappingKey), `byte ${at}`).toBeUndefined();
        expect(await sdk(tampered), `byte ${at}`).toBeUndefined();
      }
    });
    test(`suite ${suite}: cut short at any length, or with bytes appended, is refused by both`, async () => {
      const message = await seal(randomBytes(300), suite, 128);
      for (let length = 0; length < message.length; length += 7) {
        expect(fastDecrypt(message.subarray(0, length), wrappingKey), `length ${length}`).toBeUndefined();
        expect(await sdk(message.subarray(0, length)), `length ${length}`).toBeUndefined();
      }
      const longer = Buffer.concat([message, Buffer.from([0])]);
      expect(fastDecrypt(longer, wrappingKey)).toBeUndefined();
    });
    test(`suite ${suite}: another data key is refused by both`, async () => {
      const message = await seal(randomBytes(100), suite);
      const other = new Uint8Array(randomBytes(32));
      expect(fastDecrypt(message, other)).toBeUndefined();
      expect(await sdk(message, keyringFor(other))).toBeUndefined();
    });
  }

  test("a shape it does not read (another suite) is left to the SDK, which still decrypts it", async () => {
    const plaintext = randomBytes(200);
    const { result } = await encrypt(keyring, plaintext, {
      suiteId: AlgorithmSuiteIdentifier.ALG_AES128_GCM_IV12_TAG16_HKDF_SHA256,
    });
    expect(fastDecrypt(result, wrappingKey)).toBeUndefined();
    expect((await sdk(result))?.equals(plaintext)).toBe(true);
  });

  test("a message with an extra encryption context entry is left to the SDK", async () => {
    const plaintext = randomBytes(50);
    const { result } = await encrypt(keyring, plaintext, {
      suiteId: SUITES["0x0178"],
      encryptionContext: { purpose: "test" },
    });
    expect(fastDecrypt(result, wrappingKey)).toBeUndefined();
    expect((await sdk(result))?.equals(plaintext)).toBe(true);
  });
});
