import { AwsCallError, DasDecryptError } from "../config/errors.ts";

/** What an error message must not show, and how to name what was read. */
export interface ExplainContext {
  /** Values never printed, whatever a service echoes back (the secret key, the session token). */
  readonly secrets: readonly string[];
  /** Errors locate a local file as `s3://<bucket>/<path>`: `[that prefix, the path to print]`. */
  readonly rename?: readonly [from: string, to: string];
}

/** What the CLI prints for an error. */
export interface Explanation {
  /** What failed, where, and the service's (or the system's) own words: one line. */
  readonly message: string;
  /** What to do about it, when the error is one a user can fix. */
  readonly hint: string | undefined;
}

/** The secret parts of the AWS credentials in `env`, for {@link ExplainContext.secrets}. */
export function secretsIn(env: Readonly<Record<string, string | undefined>>): string[] {
  return [env.AWS_SECRET_ACCESS_KEY, env.AWS_SESSION_TOKEN].filter(
    (value): value is string => value !== undefined && value.length >= 8,
  );
}

/**
 * Turns an error into one line and a hint, the way the aws CLI does: our own message (which says
 * where), then the SDK's message (which names the missing permission, the host that did not
 * resolve, the credentials that were not found), then what to do. Only our messages and those of
 * the SDK and the operating system are shown: neither holds plaintext audit data.
 */
export function explainError(error: unknown, context: ExplainContext): Explanation {
  const root = rootOf(error);
  let message = describe(error);
  if (root !== error && root instanceof Error && isServiceOrSystemError(root, error)) {
    // An AwsCallError already ends with the SDK error's name: its message follows.
    const named = awsCallOf(error)?.errorName === root.name;
    message += `: ${named ? root.message || root.name : describe(root)}`;
  }
  const hint = hintFor(root, {
    operation: operationOf(error),
    ...(error instanceof DasDecryptError && error.bucket !== undefined ? { bucket: error.bucket } : {}),
    ...(error instanceof DasDecryptError && error.key !== undefined ? { key: error.key } : {}),
  });
  return { message: clean(message, context), hint: hint === undefined ? undefined : clean(hint, context) };
}

/** The error's own message; a name alone for errors that may quote data (a JSON parser's). */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error instanceof DasDecryptError) return error.message;
  if (error instanceof SyntaxError) return error.name;
  if (isSystemError(error) || error.name === "Error" || error.message === "")
    return error.message || error.name;
  return `${error.name}: ${error.message}`;
}

/** The innermost cause below our own errors: the SDK's or the system's error, when there is one. */
function rootOf(error: unknown): unknown {
  let at = error;
  while (at instanceof DasDecryptError && at.cause instanceof Error) at = at.cause;
  return at;
}

function awsCallOf(error: unknown): AwsCallError | undefined {
  for (let at = error; at instanceof Error; at = at.cause) if (at instanceof AwsCallError) return at;
  return undefined;
}

/** The permission an AwsCallError names, e.g. `s3:GetObject` (of `s3:GetObject (body)`). */
function operationOf(error: unknown): string | undefined {
  return awsCallOf(error)?.operation.replace(/ \(.*\)$/, "");
}

/**
 * True for what an SDK call or a socket threw: a service answer (`$metadata`), a network error
 * (`syscall`), a credential provider's error, or anything below an AwsCallError (the SDK's own).
 */
function isServiceOrSystemError(root: unknown, top: unknown): boolean {
  if (!(root instanceof Error)) return false;
  if (operationOf(top) !== undefined) return true;
  return "$metadata" in root || isSystemError(root) || root.name.endsWith("ProviderError");
}

function isSystemError(error: Error): boolean {
  return typeof (error as { syscall?: unknown }).syscall === "string";
}

/** One line, without secrets, local files by their path, not longer than a screen. */
function clean(text: string, context: ExplainContext): string {
  let line = text.replace(/\s*\n\s*/g, " ");
  if (context.rename !== undefined) line = line.split(context.rename[0]).join(context.rename[1]);
  for (const secret of context.secrets) line = line.split(secret).join("****");
  return line.length > 1000 ? `${line.slice(0, 999)}…` : line;
}

interface HintContext {
  readonly operation: string | undefined;
  readonly bucket?: string;
  readonly key?: string;
}

const PERMISSION_DENIED = ["AccessDenied", "AccessDeniedException", "Forbidden", "AuthorizationError"];
const EXPIRED = ["ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"];
const INVALID_CREDENTIALS = [
  "InvalidAccessKeyId",
  "InvalidClientTokenId",
  "UnrecognizedClientException",
  "SignatureDoesNotMatch",
  "InvalidSignatureException",
  "IncompleteSignature",
];
const THROTTLED = [
  "ThrottlingException",
  "Throttling",
  "SlowDown",
  "TooManyRequestsException",
  "RequestLimitExceeded",
];
const UNREACHABLE = ["ETIMEDOUT", "ECONNRESET", "ECONNABORTED", "EPIPE", "TimeoutError", "RequestTimeout"];
const WRONG_REGION = [
  "PermanentRedirect",
  "AuthorizationHeaderMalformed",
  "IllegalLocationConstraintException",
];

/** What to do about an SDK or system error, chosen by its name or code (never by its message). */
function hintFor(error: unknown, at: HintContext): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  const id = typeof code === "string" && isSystemError(error) ? code : error.name;
  const service = at.operation?.split(":")[0];
  if (id.endsWith("ProviderError"))
    return "No AWS credentials were found: set AWS_PROFILE (after `aws configure` or `aws sso login`), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.";
  if (PERMISSION_DENIED.includes(id)) {
    const what = at.operation ?? "this operation";
    const keyPolicy = service === "kms" ? " and the KMS key's key policy" : "";
    return `The credentials in use may not call ${what}: allow it in their IAM policy${keyPolicy}, or run with credentials that may (AWS_PROFILE).`;
  }
  if (EXPIRED.includes(id))
    return "The credentials have expired: renew them (`aws sso login`, or new temporary credentials) and run again.";
  if (INVALID_CREDENTIALS.includes(id))
    return "AWS does not accept these credentials: check AWS_PROFILE or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, and that this machine's clock is right.";
  if (id === "ENOTFOUND" || id === "EAI_AGAIN")
    return "The endpoint's host name does not resolve: check AWS_REGION (or the profile's region), any AWS_ENDPOINT_URL_* variable, and DNS or proxy settings.";
  if (id === "ECONNREFUSED")
    return "Nothing answers at that address: check the AWS_ENDPOINT_URL_* variables (a local stack must be running).";
  if (UNREACHABLE.includes(id))
    return "The endpoint did not answer, even after the SDK's retries: check the network path (proxy, VPC endpoints, firewall) and run again.";
  if (THROTTLED.includes(id))
    return "AWS throttled the calls, even after the SDK's retries: run again later or with less --concurrency (and --rate).";
  if (WRONG_REGION.includes(id))
    return "The bucket is in another region: set AWS_REGION to the bucket's region.";
  if (id === "NoSuchBucket") return "No bucket has that name: check the s3:// address.";
  if (id === "NoSuchKey" || (id === "NotFound" && service === "s3")) {
    const folder = at.key?.slice(0, at.key.lastIndexOf("/") + 1) ?? "";
    const where = at.bucket === undefined ? "the prefix" : `s3://${at.bucket}/${folder}`;
    return `No object has that key: see what is there with \`aws s3 ls ${where}\`.`;
  }
  if (id === "NotFoundException" && service === "kms")
    return "KMS has no such key in this account and region: AWS_REGION must be the region of the stream.";
  if (id === "DisabledException" || id === "KeyUnavailableException")
    return "The stream's KMS key is disabled or unavailable: check its state in KMS.";
  if (id === "InvalidCiphertextException")
    return "KMS refused the data key: DAS_RESOURCE_ID (--resource-id) must be the resource id of the stream that wrote the object.";
  if (id === "ResourceNotFoundException" && service === "lambda")
    return "No function has that name in this account and region: check --function (name or ARN) and AWS_REGION.";
  return undefined;
}
