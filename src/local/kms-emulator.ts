import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** Faults the emulator injects, changeable while it runs. */
export interface KmsFaults {
  /** Delay before every answer, in milliseconds. */
  latencyMs: number;
  /** Called with the 1-based request number; `true` answers that request with ThrottlingException. */
  throttle: (requestNumber: number) => boolean;
  /** While true, every connection is reset without an answer (KMS unreachable). */
  down: boolean;
}

export interface KmsEmulator {
  /** `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL_KMS`. */
  readonly endpoint: string;
  /** ARN of the emulator's one symmetric key. */
  readonly keyArn: string;
  readonly faults: KmsFaults;
  /** Requests answered, by operation (`Decrypt`, `Encrypt`, `GenerateDataKey`), faults included. */
  readonly calls: Record<string, number>;
  stop(): Promise<void>;
}

export interface KmsEmulatorOptions {
  readonly port?: number;
  /** Seed of the master key, so ciphertexts survive a restart (fixtures written by one run decrypt in the next). */
  readonly seed?: string;
  readonly faults?: Partial<KmsFaults>;
}

const REGION = "us-east-1";
const ACCOUNT = "111122223333";
const KEY_ID = "0b5a0b5a-das0-4e1c-9a7e-10ca1da5de55";
/** Real KMS ciphertext blobs start with these bytes (base64 `AQIDAH…`). */
const BLOB_MAGIC = Buffer.from([0x01, 0x02, 0x03, 0x00]);

class KmsFault extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Starts a KMS emulator on loopback that speaks the KMS JSON 1.1 protocol (`Decrypt`, `Encrypt`,
 * `GenerateDataKey`, `GenerateMac`), so the real SDK client, its retries and its error parsing are exercised.
 * Ciphertexts are bound to the encryption context like the real service: decrypting under another
 * context answers `InvalidCiphertextException`. Signatures are not checked.
 */
export async function startKmsEmulator(options: KmsEmulatorOptions = {}): Promise<KmsEmulator> {
  const masterKey = createHash("sha256")
    .update(`das-decrypt local kms:${options.seed ?? "default"}`)
    .digest();
  const keyArn = `arn:aws:kms:${REGION}:${ACCOUNT}:key/${KEY_ID}`;
  // The same key stands for an HMAC_256 key too (GenerateMac), with its own secret.
  const macKey = createHash("sha256").update(masterKey).update("mac").digest();
  const faults: KmsFaults = { latencyMs: 0, throttle: () => false, down: false, ...options.faults };
  const calls: Record<string, number> = {};
  let requestNumber = 0;
  const sockets = new Set<Socket>();

  const encrypt = (plaintext: Buffer, context: Record<string, string>): Buffer => {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", masterKey, iv);
    cipher.setAAD(canonicalContext(context));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const keyId = Buffer.from(KEY_ID);
    return Buffer.concat([BLOB_MAGIC, Buffer.from([keyId.length]), keyId, iv, cipher.getAuthTag(), body]);
  };
  const decrypt = (blob: Buffer, context: Record<string, string>): Buffer => {
    const keyIdLength = blob[4] ?? 0;
    const ivAt = 5 + keyIdLength;
    if (blob.length < ivAt + 28 || !blob.subarray(0, 4).equals(BLOB_MAGIC)) {
      throw new KmsFault("InvalidCiphertextException", "The ciphertext is invalid.");
    }
    try {
      const decipher = createDecipheriv("aes-256-gcm", masterKey, blob.subarray(ivAt, ivAt + 12));
      decipher.setAAD(canonicalContext(context));
      decipher.setAuthTag(blob.subarray(ivAt + 12, ivAt + 28));
      return Buffer.concat([decipher.update(blob.subarray(ivAt + 28)), decipher.final()]);
    } catch {
      // Exactly what KMS says for a wrong context: nothing more.
      throw new KmsFault("InvalidCiphertextException", "");
    }
  };

  const operations: Record<string, (input: Record<string, unknown>) => Record<string, unknown>> = {
    Decrypt(input) {
      const plaintext = decrypt(blobField(input, "CiphertextBlob"), contextField(input));
      return {
        KeyId: keyArn,
        Plaintext: plaintext.toString("base64"),
        EncryptionAlgorithm: "SYMMETRIC_DEFAULT",
      };
    },
    Encrypt(input) {
      checkKeyId(input.KeyId, keyArn);
      const blob = encrypt(blobField(input, "Plaintext"), contextField(input));
      return {
        KeyId: keyArn,
        CiphertextBlob: blob.toString("base64"),
        EncryptionAlgorithm: "SYMMETRIC_DEFAULT",
      };
    },
    GenerateMac(input) {
      checkKeyId(input.KeyId, keyArn);
      if (input.MacAlgorithm !== "HMAC_SHA_256") {
        throw new KmsFault("InvalidKeyUsageException", "this key's MAC algorithm is HMAC_SHA_256");
      }
      const mac = createHmac("sha256", macKey).update(blobField(input, "Message")).digest();
      return { KeyId: keyArn, Mac: mac.toString("base64"), MacAlgorithm: "HMAC_SHA_256" };
    },
    GenerateDataKey(input) {
      checkKeyId(input.KeyId, keyArn);
      const size =
        input.KeySpec === "AES_128" ? 16 : typeof input.NumberOfBytes === "number" ? input.NumberOfBytes : 32;
      const plaintext = randomBytes(size);
      const blob = encrypt(plaintext, contextField(input));
      return {
        KeyId: keyArn,
        Plaintext: plaintext.toString("base64"),
        CiphertextBlob: blob.toString("base64"),
      };
    },
  };

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    requestNumber += 1;
    const number = requestNumber;
    const operation = String(request.headers["x-amz-target"] ?? "").replace(/^TrentService\./, "");
    calls[operation] = (calls[operation] ?? 0) + 1;
    if (faults.down) {
      request.socket.destroy();
      return;
    }
    if (faults.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, faults.latencyMs));
    const send = (status: number, body: Record<string, unknown>) => {
      response.writeHead(status, {
        "content-type": "application/x-amz-json-1.1",
        "x-amzn-requestid": `local-${number}`,
      });
      response.end(JSON.stringify(body));
    };
    try {
      if (faults.throttle(number)) throw new KmsFault("ThrottlingException", "Rate exceeded");
      const run = operations[operation];
      if (run === undefined)
        throw new KmsFault("UnsupportedOperationException", `${operation} is not emulated`);
      send(200, run(JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown>));
    } catch (error) {
      if (error instanceof KmsFault) send(400, { __type: error.type, message: error.message });
      else send(400, { __type: "ValidationException", message: "malformed request" });
    }
  };

  const server: Server = createServer((request, response) => {
    handle(request, response).catch(() => response.destroy());
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    keyArn,
    faults,
    calls,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The bytes KMS authenticates a ciphertext's context with: sorted keys, so order does not matter. */
function canonicalContext(context: Record<string, string>): Buffer {
  return Buffer.from(
    JSON.stringify(Object.entries(context).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
  );
}

function blobField(input: Record<string, unknown>, name: string): Buffer {
  const value = input[name];
  if (typeof value !== "string") throw new KmsFault("ValidationException", `${name} is required`);
  return Buffer.from(value, "base64");
}

function contextField(input: Record<string, unknown>): Record<string, string> {
  const context = input.EncryptionContext;
  if (context === undefined || context === null) return {};
  if (typeof context !== "object")
    throw new KmsFault("ValidationException", "EncryptionContext must be a map");
  return context as Record<string, string>;
}

function checkKeyId(keyId: unknown, keyArn: string): void {
  if (typeof keyId !== "string" || (keyId !== keyArn && keyId !== KEY_ID && !keyId.startsWith("alias/"))) {
    throw new KmsFault("NotFoundException", `Key '${String(keyId)}' does not exist`);
  }
}
