// The function's AssumeRole calls as IAM sees them. The SDK's credential provider makes its own STS
// client, out of the tests' reach: the calls are recorded on the wire instead, by a proxy on
// loopback in front of moto's STS, turned into the IAM request STS authorizes and decided by
// @cloud-copilot/iam-simulate. Beside test/support/iam-model.ts, which maps the S3 and KMS commands.
import { createServer, request as httpRequest, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { runSimulation } from "@cloud-copilot/iam-simulate";
import type { Verdict } from "../support/iam-evaluate.ts";
import type { IamRequest, Policy, StackPolicies } from "../support/iam-model.ts";

/** An AssumeRole as sent: the parameters IAM can see (never the answer's credentials). */
export interface SentAssumeRole {
  readonly roleArn: string;
  readonly roleSessionName: string;
  readonly externalId?: string;
}

export interface StsRecorder {
  /** `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL_STS`. */
  readonly endpoint: string;
  /** Every AssumeRole that went through, in order. */
  readonly sent: SentAssumeRole[];
  stop(): Promise<void>;
}

/**
 * A proxy on 127.0.0.1 in front of `upstream` (moto's STS) that appends every AssumeRole to `sent`,
 * read from the request body (the query protocol's form, or JSON), and forwards it unchanged.
 */
export async function startStsRecorder(upstream: string): Promise<StsRecorder> {
  const target = new URL(upstream);
  const sent: SentAssumeRole[] = [];
  const server = createServer(async (incoming: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming as AsyncIterable<Buffer>) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    const call = assumeRoleOf(body.toString("utf8"), incoming.headers);
    if (call !== undefined) sent.push(call);
    const outgoing = httpRequest({
      host: target.hostname,
      port: target.port,
      method: incoming.method,
      path: incoming.url,
      headers: incoming.headers,
    });
    outgoing.on("error", () => response.destroy());
    outgoing.on("response", (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    });
    outgoing.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    sent,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function assumeRoleOf(body: string, headers: IncomingMessage["headers"]): SentAssumeRole | undefined {
  const json = String(headers["content-type"] ?? "").includes("json");
  const target = String(headers["x-amz-target"] ?? "");
  const fields: Record<string, unknown> = json
    ? (JSON.parse(body || "{}") as Record<string, unknown>)
    : Object.fromEntries(new URLSearchParams(body));
  const action = json ? target.split(".").pop() : fields.Action;
  if (action !== "AssumeRole") return undefined;
  return {
    roleArn: String(fields.RoleArn),
    roleSessionName: String(fields.RoleSessionName),
    ...(fields.ExternalId === undefined ? {} : { externalId: String(fields.ExternalId) }),
  };
}

/**
 * The IAM request of an AssumeRole: `sts:AssumeRole` on the role, with `sts:RoleSessionName`, and
 * `sts:ExternalId` when one was sent (condition keys of AssumeRole in the Service Authorization
 * Reference), and `aws:SecureTransport` true as on AWS's https endpoints.
 */
export function assumeRoleRequest(sent: SentAssumeRole): IamRequest {
  return {
    via: "AssumeRole",
    action: "sts:AssumeRole",
    resource: sent.roleArn,
    context: {
      "aws:SecureTransport": "true",
      "sts:RoleSessionName": sent.roleSessionName,
      ...(sent.externalId === undefined ? {} : { "sts:ExternalId": sent.externalId }),
    },
  };
}

/**
 * Decides an AssumeRole of the function against its role's policies and the assumed role's trust
 * policy: across accounts, both must allow it.
 * @throws Error when the evaluator refuses the input.
 */
export async function evaluateAssumeRole(
  request: IamRequest,
  stack: StackPolicies,
  trustPolicy: Policy,
): Promise<Verdict> {
  const roleAccount = /^arn:aws[a-z-]*:iam::(\d{12}):/.exec(request.resource)?.[1] ?? stack.account;
  const outcome = await runSimulation(
    {
      request: {
        principal: stack.principal,
        action: request.action,
        resource: { resource: request.resource, accountId: roleAccount },
        contextVariables: { ...request.context },
      },
      identityPolicies: stack.identityPolicies,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: trustPolicy,
    },
    {},
  );
  if (outcome.resultType === "error")
    throw new Error(`iam-simulate refused the input: ${JSON.stringify(outcome.errors)}`);
  const detail = outcome.resultType === "single" ? outcome.result : outcome.results[0];
  return { result: outcome.overallResult, ignoredContextKeys: detail?.ignoredContextKeys ?? [] };
}
