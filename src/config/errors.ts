/** Where an error happened: the object and, when known, the record inside it. */
export interface ErrorLocation {
  bucket?: string;
  key?: string;
  /** Zero-based position of the record in the object. */
  recordIndex?: number;
  /** Byte offset of the record in the (decompressed) object. */
  byteOffset?: number;
}

interface DasDecryptErrorOptions extends ErrorLocation {
  cause?: unknown;
  retryable?: boolean;
}

/**
 * Base of every error this project throws. `retryable` tells the edge whether running the same
 * work again may succeed (throttling, a network fault) or never will (bad input, bad config).
 * Messages never contain plaintext, data keys or ciphertext: only names, counts and positions.
 */
export class DasDecryptError extends Error {
  readonly retryable: boolean;
  readonly bucket: string | undefined;
  readonly key: string | undefined;
  readonly recordIndex: number | undefined;
  readonly byteOffset: number | undefined;

  constructor(message: string, options: DasDecryptErrorOptions = {}) {
    super(withLocation(message, options), options.cause === undefined ? {} : { cause: options.cause });
    this.name = "DasDecryptError";
    this.retryable = options.retryable ?? false;
    this.bucket = options.bucket;
    this.key = options.key;
    this.recordIndex = options.recordIndex;
    this.byteOffset = options.byteOffset;
  }
}

/** A configuration variable is missing or malformed; raised at cold start. */
export class ConfigError extends DasDecryptError {
  readonly variable: string;

  constructor(variable: string, problem: string) {
    super(`${variable} ${problem}`);
    this.name = "ConfigError";
    this.variable = variable;
  }
}

/** A command-line argument or flag is malformed; the command prints it as one line and exits 2. */
export class UsageError extends DasDecryptError {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The invocation event is not one of the shapes the handler accepts. */
export class EventShapeError extends DasDecryptError {
  constructor(message: string) {
    super(message);
    this.name = "EventShapeError";
  }
}

/** A record (or the bytes where a record should be) cannot be turned into activity events. */
export class RecordError extends DasDecryptError {
  /** Short machine-readable reason, e.g. `invalid-json`, `kms-invalid-ciphertext`. */
  readonly reason: string;

  constructor(reason: string, message: string, options: DasDecryptErrorOptions = {}) {
    super(message, options);
    this.name = "RecordError";
    this.reason = reason;
  }
}

/** A call to S3 or KMS failed; `retryable` comes from {@link isRetryableAwsError}. */
export class AwsCallError extends DasDecryptError {
  readonly operation: string;
  readonly errorName: string;

  constructor(operation: string, cause: unknown, options: ErrorLocation = {}) {
    const errorName = cause instanceof Error ? cause.name : "UnknownError";
    super(`${operation} failed: ${errorName}`, { ...options, cause, retryable: isRetryableAwsError(cause) });
    this.name = "AwsCallError";
    this.operation = operation;
    this.errorName = errorName;
  }
}

/** The invocation is about to run out of time; the work was stopped cleanly and can be retried. */
export class DeadlineError extends DasDecryptError {
  constructor(options: ErrorLocation = {}) {
    super("stopped before the Lambda deadline; no output was written", { ...options, retryable: true });
    this.name = "DeadlineError";
  }
}

/**
 * KMS refused the data key of every record that reached it, and accepted none: the configured
 * resource id (or its encryption context) is not the stream's. A configuration error, not bad data.
 */
export class ResourceIdMismatchError extends DasDecryptError {
  /** The variable that chose the resource id, e.g. `DAS_RESOURCE_ID` or `DAS_RESOURCE_ID_MAP["raw/a/"]`. */
  readonly variable: string;

  constructor(variable: string, problem: string, options: ErrorLocation = {}) {
    super(`${variable} looks wrong: ${problem}`, options);
    this.name = "ResourceIdMismatchError";
    this.variable = variable;
  }
}

/** More records were bad than `MAX_QUARANTINED_RECORDS` allows: the object fails as a whole. */
export class TooManyBadRecordsError extends DasDecryptError {
  readonly quarantined: number;
  readonly reasons: Readonly<Record<string, number>>;

  constructor(quarantined: number, reasons: Record<string, number>, options: ErrorLocation = {}) {
    const listed = Object.entries(reasons)
      .map(([reason, count]) => `${reason}: ${count}`)
      .join(", ");
    super(
      `${quarantined} bad records is over MAX_QUARANTINED_RECORDS (${listed}); nothing was written`,
      options,
    );
    this.name = "TooManyBadRecordsError";
    this.quarantined = quarantined;
    this.reasons = reasons;
  }
}

/** Records in did not equal records decrypted plus records quarantined: a bug, caught before commit. */
export class AccountingError extends DasDecryptError {
  constructor(recordsIn: number, decrypted: number, quarantined: number, options: ErrorLocation = {}) {
    super(
      `records in (${recordsIn}) != decrypted (${decrypted}) + quarantined (${quarantined}); the output was not committed`,
      options,
    );
    this.name = "AccountingError";
  }
}

const PERMANENT_AWS_ERRORS = new Set([
  "AccessDenied",
  "AccessDeniedException",
  "NoSuchBucket",
  "NoSuchKey",
  "NotFound",
  "PreconditionFailed",
  "InvalidCiphertextException",
  "IncorrectKeyException",
  "InvalidKeyUsageException",
  "DisabledException",
  "KeyUnavailableException",
  "NotFoundException",
  "ValidationException",
  "InvalidGrantTokenException",
]);

const TRANSIENT_NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "ENOTFOUND",
  "ERR_STREAM_PREMATURE_CLOSE",
  "ECONNABORTED",
]);

interface AwsErrorShape {
  name?: unknown;
  code?: unknown;
  $retryable?: unknown;
  $fault?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

/**
 * The one place that decides whether an AWS SDK (or socket) error is worth retrying. It reads the
 * SDK's own `$retryable` and `$fault` markers and the error name; it never looks at message text.
 */
export function isRetryableAwsError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error instanceof DasDecryptError) return error.retryable;
  const shape = error as AwsErrorShape;
  if (typeof shape.name === "string" && PERMANENT_AWS_ERRORS.has(shape.name)) return false;
  if (shape.$retryable !== undefined && shape.$retryable !== null) return true;
  if (shape.$fault === "server") return true;
  const status = shape.$metadata?.httpStatusCode;
  if (typeof status === "number" && (status >= 500 || status === 429)) return true;
  if (typeof shape.code === "string" && TRANSIENT_NETWORK_CODES.has(shape.code)) return true;
  const name = typeof shape.name === "string" ? shape.name : "";
  return /Throttl|TimeoutError|RequestTimeout|SlowDown|InternalError|ServiceUnavailable/.test(name);
}

function withLocation(message: string, at: ErrorLocation): string {
  const parts: string[] = [];
  if (at.bucket !== undefined && at.key !== undefined) parts.push(`s3://${at.bucket}/${at.key}`);
  else if (at.key !== undefined) parts.push(at.key);
  if (at.recordIndex !== undefined) parts.push(`record ${at.recordIndex}`);
  if (at.byteOffset !== undefined) parts.push(`byte ${at.byteOffset}`);
  return parts.length === 0 ? message : `${parts.join(", ")}: ${message}`;
}

/**
 * True when an S3 read of an object failed because there is no such object. Without
 * `s3:ListBucket`, S3 answers a missing key with 403 AccessDenied instead of 404: where the caller
 * is granted the read (the function's GetObjectTagging of its own output), AccessDenied means the
 * object is absent too. Other 403s (expired token, bad signature, clock skew) are not absence.
 */
export function isAbsentObjectError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const shape = error as AwsErrorShape;
  if (shape.name === "NoSuchKey" || shape.name === "NotFound" || shape.name === "AccessDenied") return true;
  return shape.name !== "NoSuchBucket" && shape.$metadata?.httpStatusCode === 404;
}
