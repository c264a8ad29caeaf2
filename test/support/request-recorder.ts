// Records what an SDK client sends, from inside the client: a middleware of its own stack sees each
// command's name, its input and the HTTP request the serializer built, so the list of requests a
// test reasons about is the one the code made, not one kept by hand.
import type { KMSClient } from "@aws-sdk/client-kms";
import { S3Client } from "@aws-sdk/client-s3";

/** One command a client sent (once, however many times the SDK retried it). */
export interface RecordedRequest {
  /** The client's service, from its name: `s3`, `kms`. */
  readonly service: string;
  /** The command without its `Command` suffix: `PutObject`, `Decrypt`. */
  readonly command: string;
  /** The input fields that name a resource or encryption; never a body, a ciphertext or a key. */
  readonly input: Readonly<Record<string, unknown>>;
  /** The `x-amz-*` headers of the HTTP request (method, path and query excluded). */
  readonly headers: Readonly<Record<string, string>>;
  /** `http:` on loopback; the SDK's default endpoints on AWS are `https:`. */
  readonly protocol: string;
  /** What the answer named: the KMS key that decrypted, the upload created, or the error's name. */
  readonly answer: { readonly keyId?: string; readonly uploadId?: string; readonly error?: string };
}

/** Input fields kept: where the request goes and under which key and context it encrypts. */
const INPUT_FIELDS = [
  "Bucket",
  "Key",
  "VersionId",
  "UploadId",
  "PartNumber",
  "CopySource",
  "ServerSideEncryption",
  "SSEKMSKeyId",
  "BucketKeyEnabled",
  "KeyId",
  "EncryptionContext",
  "EncryptionAlgorithm",
];

/** Headers never kept (a session token is a secret). */
const SECRET_HEADERS = new Set(["x-amz-security-token"]);

type BuildArgs = { input: object; request: unknown };
type Context = { clientName?: string; commandName?: string };

/**
 * Adds a recording middleware to `client` (step `build`, after serialization and before retries
 * and signing): every command it sends is appended to `into`, once, with the answer's key id or
 * upload id, or the error's name when it failed.
 */
export function recordRequests(client: S3Client | KMSClient, into: RecordedRequest[]): void {
  const middleware =
    <R extends { output: unknown }>(next: (args: BuildArgs) => Promise<R>, context: Context) =>
    async (args: BuildArgs): Promise<R> => {
      const input = args.input as Record<string, unknown>;
      const request = args.request as { headers?: Record<string, string>; protocol?: string };
      const answer: { keyId?: string; uploadId?: string; error?: string } = {};
      into.push({
        service: (context.clientName ?? "").replace(/Client$/, "").toLowerCase(),
        command: (context.commandName ?? "").replace(/Command$/, ""),
        input: Object.fromEntries(
          INPUT_FIELDS.filter((name) => input[name] !== undefined).map((name) => [name, input[name]]),
        ),
        headers: Object.fromEntries(
          Object.entries(request.headers ?? {}).filter(
            ([name]) => name.toLowerCase().startsWith("x-amz-") && !SECRET_HEADERS.has(name.toLowerCase()),
          ),
        ),
        protocol: request.protocol ?? "",
        answer,
      });
      try {
        const result = await next(args);
        const output = result.output as { KeyId?: unknown; UploadId?: unknown };
        if (typeof output.KeyId === "string") answer.keyId = output.KeyId;
        if (typeof output.UploadId === "string") answer.uploadId = output.UploadId;
        return result;
      } catch (error) {
        answer.error = error instanceof Error ? error.name : String(error);
        throw error;
      }
    };
  const options = { step: "build", name: "recordRequests", priority: "low" } as const;
  // Each client's stack has its own input types: the middleware fits both, the union does not.
  if (client instanceof S3Client) client.middlewareStack.add(middleware, options);
  else client.middlewareStack.add(middleware, options);
}
