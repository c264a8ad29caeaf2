import { randomBytes } from "node:crypto";
import {
  AlgorithmSuiteIdentifier,
  buildClient,
  CommitmentPolicy,
  MultiKeyringNode,
} from "@aws-crypto/client-node";
import { describe, expect, test } from "vitest";
import { RecordError } from "../../../src/config/errors.ts";
import { keyringFor } from "../../../src/decrypt/das-keyring.ts";
import { parseMessage } from "../../../src/decrypt/esdk-message.ts";
import { buildMessageDecrypt } from "../../../src/decrypt/message-decrypt.ts";
import { type SealOptions, sealMessage } from "../../support/esdk-builder.ts";

// The SDK encrypts the non-committing suites DAS uses only under this policy; it decrypts under ours.
const { encrypt } = buildClient(CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT);
const { decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT);
const SUITES = {
  "0x0178": AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA256,
  "0x0378": AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384,
} as const;
type SuiteName = keyof typeof SUITES;
const SUITE_NAMES = Object.keys(SUITES) as SuiteName[];

const wrappingKey = new Uint8Array(randomBytes(32));
const keyring = keyringFor(wrappingKey);
const decryptMessage = buildMessageDecrypt();

async function sdkSeal(plaintext: Buffer, suite: SuiteName, frameLength?: number): Promise<Buffer> {
  const { result } = await encrypt(keyring, plaintext, {
    suiteId: SUITES[suite],
    ...(frameLength === undefined ? {} : { frameLength }),
  });
  return result;
}

function seal(plaintext: Buffer, options: Partial<SealOptions> = {}): Buffer {
  return sealMessage(plaintext, { wrappingKey, ...options });
}

/** The SDK's verdict on its own: the plaintext, or `undefined` when it refuses the message. */
async function sdk(message: Buffer, key = wrappingKey): Promise<Buffer | undefined> {
  try {
    return (await decrypt(keyringFor(key), message)).plaintext;
  } catch {
    return undefined;
  }
}

type Verdict =
  | { readonly plaintext: Buffer; readonly direct: boolean }
  | { readonly reason: string; readonly message: string };

/** das-decrypt's verdict: the plaintext and which path gave it, or the quarantine reason. */
async function ours(message: Buffer, key = wrappingKey): Promise<Verdict> {
  try {
    const result = decryptMessage(message, key);
    return { plaintext: await result, direct: !(result instanceof Promise) };
  } catch (error) {
    if (!(error instanceof RecordError)) throw error;
    return { reason: error.reason, message: error.message };
  }
}

function reasonOf(verdict: Verdict): string | undefined {
  return "reason" in verdict ? verdict.reason : undefined;
}

/** `reason: message` of a refusal, to tell apart the checks that share a reason. */
function refusalOf(verdict: Verdict): string | undefined {
  return "reason" in verdict ? `${verdict.reason}: ${verdict.message}` : undefined;
}

const AUTHENTICATION = "message-authentication-failed";

/**
 * The reason a flipped bit at each byte must give, for the bytes whose field decides it: the
 * version, type and suite; every IV; the message id, data key and its IV, tags, contents and
 * signature, which only the cryptography can tell. Length and count fields may give any reason.
 */
function reasonsByField(message: Buffer): (at: number) => string | undefined {
  const m = parseMessage(message);
  const spans: [Buffer, string][] = [
    [m.messageId, AUTHENTICATION],
    [m.headerIv, "message-iv-mismatch"],
    [m.headerTag, AUTHENTICATION],
    ...m.dataKeys.flatMap((key): [Buffer, string][] => [
      [key.providerInfo.subarray(-12), AUTHENTICATION],
      [key.ciphertext, AUTHENTICATION],
    ]),
    ...m.frames.flatMap((frame): [Buffer, string][] => [
      [frame.iv, "message-iv-mismatch"],
      [frame.content, AUTHENTICATION],
      [frame.tag, AUTHENTICATION],
    ]),
    ...(m.signature === undefined ? [] : [[m.signature, AUTHENTICATION] as [Buffer, string]]),
  ];
  return (at) => {
    if (at < 4) return "message-unsupported";
    for (const [field, reason] of spans) {
      const start = field.byteOffset - message.byteOffset;
      if (at >= start && at < start + field.length) return reason;
    }
    return undefined;
  };
}

describe("the direct reader gives the SDK's plaintext on every message shape DAS produces", () => {
  for (const suite of SUITE_NAMES) {
    test.each([0, 1, 700, 4095, 4096, 4097, 12_289])(
      `suite ${suite}, %i bytes, 4 KiB frames`,
      async (size) => {
        const plaintext = randomBytes(size);
        const message = await sdkSeal(plaintext, suite);
        expect(await ours(message)).toEqual({ plaintext, direct: true });
        expect(await sdk(message)).toEqual(plaintext);
      },
    );
    test(`suite ${suite}, small frames (many frames per message)`, async () => {
      const plaintext = randomBytes(1000);
      expect(await ours(await sdkSeal(plaintext, suite, 64))).toEqual({ plaintext, direct: true });
    });
  }
});

describe("the test's message builder writes what the SDK reads", () => {
  for (const suite of [0x0178, 0x0378]) {
    test.each([0, 4096])(
      `suite 0x0${suite.toString(16)}, frame length %i, with a context`,
      async (frameLength) => {
        const plaintext = randomBytes(5000);
        const message = seal(plaintext, { suiteId: suite, frameLength, context: [["purpose", "test"]] });
        expect(await sdk(message)).toEqual(plaintext);
        expect(await ours(message)).toEqual({ plaintext, direct: frameLength !== 0 });
      },
    );
  }
});

describe("the SDK path reads contexts in the specification's byte order", () => {
  test("a non-framed message whose context keys sort differently by bytes and by locale decrypts", async () => {
    const plaintext = randomBytes(100);
    const message = seal(plaintext, {
      frameLength: 0,
      context: [
        ["alpha", "1"],
        ["Zeta", "2"],
        ["_x", "3"],
      ],
    });
    expect(await ours(message)).toEqual({ plaintext, direct: false });
  });
});

describe("nothing the SDK refuses is accepted", () => {
  for (const suite of SUITE_NAMES) {
    test(`suite ${suite}: a bit flipped in every byte of a message is refused by both, with the reason of the field it hit`, async () => {
      const message = await sdkSeal(randomBytes(600), suite, 256);
      const expectedAt = reasonsByField(message);
      for (let at = 0; at < message.length; at += 1) {
        const tampered = Buffer.from(message);
        tampered[at] = (tampered[at] as number) ^ 0x01;
        const reason = reasonOf(await ours(tampered));
        expect(reason, `byte ${at}`).toMatch(/^message-/);
        const expected = expectedAt(at);
        if (expected !== undefined) expect(reason, `byte ${at}`).toBe(expected);
        expect(await sdk(tampered), `byte ${at}`).toBeUndefined();
      }
    });
    test(`suite ${suite}: cut short at any length is refused by both, as truncated`, async () => {
      const message = await sdkSeal(randomBytes(300), suite, 128);
      for (let length = 0; length < message.length; length += 1) {
        expect(reasonOf(await ours(message.subarray(0, length))), `length ${length}`).toBe(
          "message-truncated",
        );
        expect(await sdk(message.subarray(0, length)), `length ${length}`).toBeUndefined();
      }
    });
    test(`suite ${suite}: another data key is refused by both`, async () => {
      const message = await sdkSeal(randomBytes(100), suite);
      const other = new Uint8Array(randomBytes(32));
      expect(reasonOf(await ours(message, other))).toBe("message-authentication-failed");
      expect(await sdk(message, other)).toBeUndefined();
    });
  }

  test("a signing key holding a byte that is not UTF-8 is refused by both (the SDK through its rebuilt AAD)", async () => {
    // Node's base64 decoder skips the stray byte, so the key and the signature would still verify.
    const message = seal(randomBytes(100), {
      suiteId: 0x0378,
      publicKeyText: (text) =>
        Buffer.concat([Buffer.from(text.slice(0, 10)), Buffer.from([0xff]), Buffer.from(text.slice(10))]),
    });
    expect(await sdk(message)).toBeUndefined();
    expect(refusalOf(await ours(message))).toMatch(/^message-malformed: .*not UTF-8/);
  });

  test("suite 0x0378: bytes after the footer are refused by both, as message-trailing-bytes", async () => {
    const message = Buffer.concat([seal(randomBytes(100), { suiteId: 0x0378 }), Buffer.from([0])]);
    expect(await sdk(message)).toBeUndefined();
    expect(reasonOf(await ours(message))).toBe("message-trailing-bytes");
  });

  test("encryption context keys out of order are refused by both", async () => {
    const message = seal(randomBytes(10), {
      unsorted: true,
      context: [
        ["zz", "1"],
        ["aa", "2"],
      ],
    });
    expect(await sdk(message)).toBeUndefined();
    expect(refusalOf(await ours(message))).toMatch(/^message-malformed: .*not sorted and unique/);
  });

  test("an encryption context key that is not UTF-8 is refused by both", async () => {
    const message = seal(randomBytes(10), { context: [[Buffer.from([0x61, 0xff]), "1"]] });
    expect(await sdk(message)).toBeUndefined();
    expect(refusalOf(await ours(message))).toMatch(/^message-malformed: .*not UTF-8/);
  });

  test("an encryption context of zero entries that still has a length is refused by both", async () => {
    const message = seal(randomBytes(10), { rawContext: Buffer.from([0, 0]) });
    expect(await sdk(message)).toBeUndefined();
    expect(refusalOf(await ours(message))).toMatch(/^message-malformed: .*empty but has a length/);
  });

  test("an encryption context with bytes after its entries is refused by both", async () => {
    const entry = Buffer.from([0, 1, 0, 1, 0x61, 0, 1, 0x62]);
    const message = seal(randomBytes(10), { rawContext: Buffer.concat([entry, Buffer.from([0])]) });
    expect(await sdk(message)).toBeUndefined();
    expect(refusalOf(await ours(message))).toMatch(/^message-malformed: .*length does not match its entries/);
  });

  test("an unsigned message carrying a signing key is refused by both", async () => {
    const point = Buffer.concat([Buffer.from([0x02]), randomBytes(48)]).toString("base64");
    const message = seal(randomBytes(10), { context: [["aws-crypto-public-key", point]] });
    expect(await sdk(message)).toBeUndefined();
    expect(refusalOf(await ours(message))).toMatch(
      /^message-malformed: .*an unsigned message with aws-crypto-public-key/,
    );
  });

  test("a final frame longer than the header's frame length is refused by both", async () => {
    const message = seal(randomBytes(100), { headerFrameLength: 99 });
    expect(await sdk(message)).toBeUndefined();
    expect(refusalOf(await ours(message))).toMatch(/^message-malformed: .*more than the frame length/);
  });

  test("a data key whose provider info announces another tag length is refused by both", async () => {
    const message = seal(randomBytes(10), { tagBits: 96 });
    expect(await sdk(message)).toBeUndefined();
    expect(refusalOf(await ours(message))).toMatch(
      /^message-authentication-failed: .*no data key wrapped by/,
    );
  });

  test("a non-framed content length past 2^36 - 32 is refused as malformed, not read", async () => {
    const plaintext = randomBytes(10);
    const message = seal(plaintext, { frameLength: 0 });
    const lengthAt = message.length - 16 - plaintext.length - 8;
    expect(message.readBigUInt64BE(lengthAt)).toBe(10n);
    for (const [length, reason] of [
      [2n ** 36n - 32n, "message-truncated"],
      [2n ** 36n - 31n, "message-malformed"],
    ] as const) {
      const changed = Buffer.from(message);
      changed.writeBigUInt64BE(length, lengthAt);
      expect(reasonOf(await ours(changed)), String(length)).toBe(reason);
    }
  });

  test("header reserved bytes other than zero are refused by both", async () => {
    const message = seal(randomBytes(10), { reserved: 1 });
    expect(await sdk(message)).toBeUndefined();
    expect(refusalOf(await ours(message))).toMatch(/^message-malformed: .*reserved bytes are not zero/);
  });

  test("no encrypted data key, or more than the 4 the SDK client allows, is refused; 4 go to the SDK", async () => {
    const plaintext = randomBytes(10);
    expect(refusalOf(await ours(seal(plaintext, { dataKeys: 0 })))).toMatch(
      /^message-malformed: .*0 encrypted data keys/,
    );
    expect(refusalOf(await ours(seal(plaintext, { dataKeys: 5 })))).toMatch(
      /^message-malformed: .*5 encrypted data keys/,
    );
    expect(await ours(seal(plaintext, { dataKeys: 4 }))).toEqual({ plaintext, direct: false });
  });

  test("duplicate encryption context keys are refused by both", async () => {
    const message = seal(randomBytes(10), {
      context: [
        ["a", "1"],
        ["a", "2"],
      ],
    });
    expect(await sdk(message)).toBeUndefined();
    expect(refusalOf(await ours(message))).toMatch(/^message-malformed: .*not sorted and unique/);
  });
});

describe("what the specification says MUST fail is refused even where the SDK accepts it, each with its reason", () => {
  const plaintext = randomBytes(5000);

  for (const suiteId of [0x0178, 0x0378]) {
    const suite = `0x0${suiteId.toString(16)}`;
    test(`suite ${suite}: a frame whose IV is not its sequence number: message-iv-mismatch`, async () => {
      const message = seal(plaintext, {
        suiteId,
        frameIv: (n) => Buffer.concat([Buffer.alloc(8, n === 2 ? 1 : 0), u32(n)]),
      });
      expect(await sdk(message)).toEqual(plaintext);
      expect(reasonOf(await ours(message))).toBe("message-iv-mismatch");
    });
    test(`suite ${suite}: frames whose IVs are the next frame's number: message-iv-mismatch`, async () => {
      const message = seal(plaintext, {
        suiteId,
        frameLength: 1000,
        frameIv: (n) => Buffer.concat([Buffer.alloc(8), u32(n + 1)]),
      });
      expect(await sdk(message)).toEqual(plaintext);
      expect(refusalOf(await ours(message))).toMatch(/^message-iv-mismatch: .*frame 1's IV/);
    });
    test(`suite ${suite}: a header IV other than 0: message-iv-mismatch`, async () => {
      const message = seal(plaintext, { suiteId, headerIv: u32Padded(1) });
      expect(await sdk(message)).toEqual(plaintext);
      expect(refusalOf(await ours(message))).toMatch(/^message-iv-mismatch: .*header's IV/);
    });
    test(`suite ${suite}: a non-framed body whose IV is not 1: message-iv-mismatch`, async () => {
      const message = seal(plaintext, { suiteId, frameLength: 0, frameIv: () => randomBytes(12) });
      expect(await sdk(message)).toEqual(plaintext);
      expect(reasonOf(await ours(message))).toBe("message-iv-mismatch");
    });
    test(`suite ${suite}: a non-framed message whose header announces a frame length: message-frame-length-not-zero`, async () => {
      const message = seal(plaintext, { suiteId, frameLength: 0, headerFrameLength: 4096 });
      expect(await sdk(message)).toEqual(plaintext);
      expect(reasonOf(await ours(message))).toBe("message-frame-length-not-zero");
    });
  }

  test("suite 0x0178: bytes after the final frame: message-trailing-bytes", async () => {
    const message = Buffer.concat([seal(plaintext), Buffer.from([0])]);
    expect(await sdk(message)).toEqual(plaintext);
    expect(reasonOf(await ours(message))).toBe("message-trailing-bytes");
  });

  test("suite 0x0178: a whole second final frame after the first: message-trailing-bytes", async () => {
    const message = seal(plaintext, { secondFinalFrame: true });
    expect(await sdk(message)).toEqual(plaintext);
    expect(reasonOf(await ours(message))).toBe("message-trailing-bytes");
  });

  test("a signing key in base64 that is not canonical (padding dropped): message-malformed", async () => {
    const message = seal(plaintext, {
      suiteId: 0x0378,
      publicKeyText: (text) => Buffer.from(text.replace(/=+$/, "")),
    });
    expect(await sdk(message)).toEqual(plaintext);
    expect(refusalOf(await ours(message))).toMatch(/^message-malformed: .*not base64 of a compressed/);
  });

  test("a framed message with frame length 0: message-malformed", async () => {
    const message = seal(Buffer.alloc(0), { headerFrameLength: 0 });
    expect(await sdk(message)).toEqual(Buffer.alloc(0));
    expect(refusalOf(await ours(message))).toMatch(/^message-malformed: .*frame length 0/);
  });

  test("an algorithm suite DAS does not write: message-unsupported", async () => {
    const { result } = await encrypt(keyring, plaintext, {
      suiteId: AlgorithmSuiteIdentifier.ALG_AES128_GCM_IV12_TAG16_HKDF_SHA256,
    });
    expect(await sdk(result)).toEqual(plaintext);
    expect(reasonOf(await ours(result))).toBe("message-unsupported");
  });
});

describe("shapes DAS does not write go to the SDK after the same checks", () => {
  test("a non-framed message is decrypted by the SDK", async () => {
    const plaintext = randomBytes(3000);
    expect(await ours(seal(plaintext, { frameLength: 0 }))).toEqual({ plaintext, direct: false });
  });

  test("a wrapping key that is not 32 bytes is refused as a bad data key, on either path", async () => {
    const short = new Uint8Array(16);
    expect(reasonOf(await ours(seal(randomBytes(10)), short))).toBe("kms-bad-data-key");
    expect(reasonOf(await ours(seal(randomBytes(10), { frameLength: 0 }), short))).toBe("kms-bad-data-key");
  });

  test("a message with two data keys, ours first, is decrypted by the SDK", async () => {
    const plaintext = randomBytes(3000);
    const { result } = await encrypt(
      new MultiKeyringNode({
        generator: keyring,
        children: [keyringFor(new Uint8Array(randomBytes(32)), { namespace: "other", name: "key" })],
      }),
      plaintext,
      { suiteId: SUITES["0x0178"] },
    );
    expect(await ours(result)).toEqual({ plaintext, direct: false });
  });

  test("a message with two data keys, ours second, is decrypted by the SDK", async () => {
    const plaintext = randomBytes(3000);
    const { result } = await encrypt(
      // The SDK's multi-keyring: a generator of another namespace, then ours.
      new MultiKeyringNode({
        generator: keyringFor(new Uint8Array(randomBytes(32)), { namespace: "other", name: "key" }),
        children: [keyring],
      }),
      plaintext,
      { suiteId: SUITES["0x0178"] },
    );
    expect(await ours(result)).toEqual({ plaintext, direct: false });
  });
});

/** A 12-byte IV holding `value` in its last four bytes. */
function u32Padded(value: number): Buffer {
  return Buffer.concat([Buffer.alloc(8), u32(value)]);
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value);
  return b;
}
