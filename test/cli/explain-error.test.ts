import { DisabledException, KMSServiceException, NotFoundException } from "@aws-sdk/client-kms";
import { ResourceNotFoundException, TooManyRequestsException } from "@aws-sdk/client-lambda";
import { NoSuchBucket, S3ServiceException } from "@aws-sdk/client-s3";
import { describe, expect, test } from "vitest";
import { explainError, secretsIn } from "../../src/cli/explain-error.ts";
import { AwsCallError, DasDecryptError } from "../../src/config/errors.ts";

const $metadata = { httpStatusCode: 400, attempts: 1, totalRetryDelay: 0 };
const none = { secrets: [] };

/** A socket error as Node raises it and the SDK passes it on after its retries. */
function systemError(code: string, syscall: string, message: string): Error {
  return Object.assign(new Error(message), {
    code,
    syscall,
    $metadata: { attempts: 6, totalRetryDelay: 900 },
  });
}

/** KMS's AccessDeniedException is not modeled: the SDK raises its service exception under that name. */
function kmsAccessDenied(message: string): Error {
  return new KMSServiceException({ name: "AccessDeniedException", message, $fault: "client", $metadata });
}

/** An S3 error the SDK builds from an answer with no modeled exception (a 403 or 301 without body). */
function s3Error(name: string, message: string): Error {
  return new S3ServiceException({ name, message, $fault: "client", $metadata });
}

describe("explainError", () => {
  test("an AwsCallError shows the SDK's message after our own, e.g. the host that did not resolve", () => {
    const cause = systemError(
      "ENOTFOUND",
      "getaddrinfo",
      "getaddrinfo ENOTFOUND kms.eu-west-1.amazonaws.com",
    );
    const error = new AwsCallError("kms:Decrypt", cause, { bucket: "b", key: "raw/k", recordIndex: 0 });
    expect(explainError(error, none)).toEqual({
      message:
        "s3://b/raw/k, record 0: kms:Decrypt failed: Error: getaddrinfo ENOTFOUND kms.eu-west-1.amazonaws.com",
      hint: "The endpoint's host name does not resolve: check AWS_REGION (or the profile's region), any AWS_ENDPOINT_URL_* variable, and DNS or proxy settings.",
    });
  });

  test.each([
    [
      "kms:Decrypt",
      kmsAccessDenied("User: u is not authorized to perform: kms:Decrypt"),
      "The credentials in use may not call kms:Decrypt: allow it in their IAM policy and the KMS key's key policy, or run with credentials that may (AWS_PROFILE).",
    ],
    [
      "s3:GetObject (body)",
      s3Error("AccessDenied", "Access Denied"),
      "The credentials in use may not call s3:GetObject: allow it in their IAM policy, or run with credentials that may (AWS_PROFILE).",
    ],
    ["s3:GetObject", s3Error("ExpiredToken", "The provided token has expired."), /have expired/],
    [
      "s3:GetObject",
      s3Error("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist"),
      /not accept/,
    ],
    [
      "s3:GetObject",
      s3Error("PermanentRedirect", "The bucket you are attempting to access must be addressed…"),
      /another region/,
    ],
    [
      "s3:ListBucket",
      new NoSuchBucket({ message: "The specified bucket does not exist", $metadata }),
      /No bucket/,
    ],
    [
      "kms:Decrypt",
      new NotFoundException({ message: "Key 'arn:…' does not exist", $metadata }),
      /region of the stream/,
    ],
    [
      "kms:Decrypt",
      new DisabledException({ message: "arn:… is disabled.", $metadata }),
      /disabled or unavailable/,
    ],
    [
      "lambda:InvokeFunction",
      new ResourceNotFoundException({ message: "Function not found: arn:…", $metadata, Type: "User" }),
      /check --function/,
    ],
    [
      "lambda:InvokeFunction",
      new TooManyRequestsException({ message: "Rate exceeded", $metadata }),
      /throttled/,
    ],
    [
      "kms:Decrypt",
      systemError("ECONNREFUSED", "connect", "connect ECONNREFUSED 127.0.0.1:1"),
      /Nothing answers/,
    ],
    ["s3:GetObject (body)", systemError("ECONNRESET", "read", "read ECONNRESET"), /did not answer/],
    [
      "kms:Decrypt",
      Object.assign(new Error("Could not load credentials"), { name: "CredentialsProviderError" }),
      /No AWS credentials/,
    ],
  ])("%s failing with %s: the hint says what to do", (operation, cause, hint) => {
    const { message, hint: given } = explainError(new AwsCallError(operation, cause), none);
    expect(message).toBe(`${operation} failed: ${cause.name}: ${cause.message}`);
    if (typeof hint === "string") expect(given).toBe(hint);
    else expect(given).toMatch(hint);
  });

  test("an error nobody can act on gets no hint", () => {
    const cause = s3Error("InternalError", "We encountered an internal error.");
    expect(explainError(new AwsCallError("s3:GetObject", cause), none).hint).toBeUndefined();
  });

  test("a parser's error below our own is not quoted (it may hold the data it choked on)", () => {
    const cause = new SyntaxError('Unexpected token S in JSON at position 0: "SELECT secret FROM t"');
    expect(explainError(new DasDecryptError("record 3 is not JSON", { cause }), none).message).toBe(
      "record 3 is not JSON",
    );
    expect(explainError(cause, none).message).toBe("SyntaxError");
  });

  test("secrets are blanked, a local file is named by its path, and the message is one line", () => {
    const env = {
      AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG",
      AWS_SESSION_TOKEN: "IQoJb3JpZ2luX2Vj",
      AWS_REGION: "x",
    };
    const cause = kmsAccessDenied("denied\n  for wJalrXUtnFEMI/K7MDENG and IQoJb3JpZ2luX2Vj");
    const error = new AwsCallError("kms:Decrypt", cause, { bucket: "local-file", key: "/tmp/x.bin" });
    expect(
      explainError(error, { secrets: secretsIn(env), rename: ["s3://local-file//tmp/x.bin", "/tmp/x.bin"] })
        .message,
    ).toBe("/tmp/x.bin: kms:Decrypt failed: AccessDeniedException: denied for **** and ****");
  });
});
