// What IAM sees of the function: the policies of the packaged template with its intrinsics resolved
// to concrete strings, and each recorded SDK command as the IAM request(s) it is authorized as.
// iam-evaluate.ts has them decided by an evaluator we did not write.
import { allowedContextKeysForRequest } from "@cloud-copilot/iam-simulate";
import type { Template } from "../deploy/packaged.ts";
import type { RecordedRequest } from "./request-recorder.ts";

type Json = Record<string, unknown>;
/** An IAM policy document. */
export type Policy = { Version: string; Statement: Json[] };

/** What CloudFormation would fill in: the account, the region, the attributes of created resources. */
export interface Deployment {
  readonly account: string;
  readonly region: string;
  /** `Fn::GetAtt` values, as `"<LogicalId>.<Attribute>"` → value. */
  readonly attributes: Readonly<Record<string, string>>;
  /** Key policies of KMS keys outside the stack, by key ARN. */
  readonly externalKeyPolicies: Readonly<Record<string, Policy>>;
}

/** The function's identity and every policy that decides its requests, as concrete JSON. */
export interface StackPolicies {
  readonly account: string;
  readonly region: string;
  /** The function's session: `arn:aws:sts::<account>:assumed-role/<role>/<function>`. */
  readonly principal: string;
  readonly identityPolicies: { name: string; policy: Policy }[];
  /** Bucket policy and default SSE-KMS key of each bucket the stack creates, by bucket name. */
  readonly buckets: Readonly<Record<string, { policy: Policy | undefined; defaultKey: string | undefined }>>;
  /** Key policies by key ARN: the stack's keys and the external ones. */
  readonly keyPolicies: Readonly<Record<string, Policy>>;
  /** The function's environment variables. */
  readonly environment: Readonly<Record<string, string>>;
}

/** One request as IAM evaluates it. */
export interface IamRequest {
  /**
   * The recorded command it comes from, `(S3 → KMS)` when S3 makes it on the role's behalf, and the
   * error's name when the command failed (a failed request was sent, and authorized, all the same).
   */
  readonly via: string;
  /** The S3 object of the recorded command, for a request S3 makes on the role's behalf. */
  readonly serves?: string;
  readonly action: string;
  readonly resource: string;
  readonly context: Readonly<Record<string, string | string[]>>;
}

/**
 * Replaces `Ref`, `Fn::Sub`, `Fn::GetAtt` and `Fn::Join` with concrete strings.
 * @throws Error on any other intrinsic, or a name `refs` / `attributes` do not hold.
 */
export function resolveIntrinsics(
  value: unknown,
  refs: Record<string, string>,
  attributes: Record<string, string>,
): unknown {
  const resolve = (inner: unknown) => resolveIntrinsics(inner, refs, attributes);
  const named = (name: string, table: Record<string, string>) => {
    const found = table[name];
    if (found === undefined)
      throw new Error(`the template names ${name}, which the deployment does not give`);
    return found;
  };
  if (Array.isArray(value)) return value.map(resolve);
  if (typeof value !== "object" || value === null) return value;
  const [key, ...others] = Object.keys(value);
  const args = (value as Json)[key ?? ""];
  if (key === undefined || others.length > 0 || !(key === "Ref" || key.startsWith("Fn::"))) {
    return Object.fromEntries(Object.entries(value).map(([name, inner]) => [name, resolve(inner)]));
  }
  if (key === "Ref") return named(String(args), refs);
  if (key === "Fn::GetAtt") {
    const parts = Array.isArray(args) ? args : String(args).split(/\.(.*)/s);
    return named(`${parts[0]}.${parts[1]}`, attributes);
  }
  if (key === "Fn::Join") {
    const [separator, list] = args as [string, unknown[]];
    return list.map((part) => String(resolve(part))).join(separator);
  }
  if (key === "Fn::Sub") {
    const [text, vars] = Array.isArray(args) ? (args as [string, Json]) : [String(args), {}];
    return text.replace(/\$\{(!?)([^}]+)\}/g, (_, literal: string, name: string) => {
      if (literal === "!") return `\${${name}}`;
      if (name in vars) return String(resolve(vars[name]));
      return name.includes(".") ? named(name, attributes) : named(name, refs);
    });
  }
  throw new Error(`${key} is not resolved by this model`);
}

/**
 * Reads the function's role, the buckets' policies and default keys, the stack's key policies and
 * the function's environment from a packaged template, resolved for `deployment`.
 * @throws Error when something the function's requests depend on cannot be resolved.
 */
export function stackPolicies(template: Template, deployment: Deployment): StackPolicies {
  const resources = Object.entries(template.Resources);
  const ofType = (type: string) => resources.filter(([, resource]) => resource.Type === type);
  const refs: Record<string, string> = {
    "AWS::Partition": "aws",
    "AWS::Region": deployment.region,
    "AWS::AccountId": deployment.account,
    "AWS::URLSuffix": "amazonaws.com",
  };
  for (const [id, bucket] of ofType("AWS::S3::Bucket")) {
    if (typeof bucket.Properties.BucketName === "string") refs[id] = bucket.Properties.BucketName;
  }
  const resolve = <T>(value: unknown) => resolveIntrinsics(value, refs, { ...deployment.attributes }) as T;

  const functions = ofType("AWS::Lambda::Function");
  if (functions.length !== 1) throw new Error(`expected one function, the template has ${functions.length}`);
  const [, fn] = functions[0] as [string, { Properties: Json }];
  const roleId = ((fn.Properties.Role as Json)["Fn::GetAtt"] as string[])[0] ?? "";
  const role = template.Resources[roleId]?.Properties ?? {};
  if (role.ManagedPolicyArns !== undefined)
    throw new Error(`${roleId} has managed policies this model cannot read`);
  const attached = [...ofType("AWS::IAM::Policy"), ...ofType("AWS::IAM::ManagedPolicy")].filter(
    ([, policy]) => JSON.stringify(policy.Properties.Roles ?? []).includes(JSON.stringify({ Ref: roleId })),
  );
  const identityPolicies = [
    ...resolve<{ PolicyName: string; PolicyDocument: Policy }[]>(role.Policies ?? []).map((inline) => ({
      name: inline.PolicyName,
      policy: inline.PolicyDocument,
    })),
    ...attached.map(([id, policy]) => ({
      name: id,
      policy: resolve<Policy>(policy.Properties.PolicyDocument),
    })),
  ];
  const roleName = resolve<string>(role.RoleName);
  const functionName = resolve<string>(fn.Properties.FunctionName);

  const buckets: Record<string, { policy: Policy | undefined; defaultKey: string | undefined }> = {};
  for (const [id, bucket] of ofType("AWS::S3::Bucket")) {
    const name = refs[id];
    if (name === undefined) continue;
    const policy = ofType("AWS::S3::BucketPolicy").find(
      ([, candidate]) => JSON.stringify(candidate.Properties.Bucket) === JSON.stringify({ Ref: id }),
    );
    const encryption = resolve<{ ServerSideEncryptionByDefault?: { KMSMasterKeyID?: string } }[]>(
      (bucket.Properties.BucketEncryption as Json | undefined)?.ServerSideEncryptionConfiguration ?? [],
    );
    buckets[name] = {
      policy: policy === undefined ? undefined : resolve<Policy>(policy[1].Properties.PolicyDocument),
      defaultKey: encryption[0]?.ServerSideEncryptionByDefault?.KMSMasterKeyID,
    };
  }
  const keyPolicies: Record<string, Policy> = { ...deployment.externalKeyPolicies };
  for (const [id, key] of ofType("AWS::KMS::Key")) {
    keyPolicies[resolve<string>({ "Fn::GetAtt": [id, "Arn"] })] = resolve<Policy>(key.Properties.KeyPolicy);
  }
  const variables = (fn.Properties.Environment as Json | undefined)?.Variables ?? {};
  return {
    account: deployment.account,
    region: deployment.region,
    principal: `arn:aws:sts::${deployment.account}:assumed-role/${roleName}/${functionName}`,
    identityPolicies,
    buckets,
    keyPolicies,
    environment: resolve<Record<string, string>>(variables),
  };
}

/** An S3 command as IAM authorizes it: the action, and the object it acts on. */
type S3Target = { action: string; bucket: string; key: string };
const onObject = (action: string) => (request: RecordedRequest) => [
  { action, bucket: String(request.input.Bucket), key: String(request.input.Key) },
];

/** S3 commands → the IAM actions they are authorized as (the Service Authorization Reference). */
const S3_COMMANDS: Readonly<Record<string, (request: RecordedRequest) => S3Target[]>> = {
  GetObject: onObject("s3:GetObject"),
  HeadObject: onObject("s3:GetObject"),
  PutObject: onObject("s3:PutObject"),
  CreateMultipartUpload: onObject("s3:PutObject"),
  UploadPart: onObject("s3:PutObject"),
  CompleteMultipartUpload: onObject("s3:PutObject"),
  AbortMultipartUpload: onObject("s3:AbortMultipartUpload"),
  PutObjectTagging: onObject("s3:PutObjectTagging"),
  GetObjectTagging: onObject("s3:GetObjectTagging"),
  DeleteObject: onObject("s3:DeleteObject"),
  CopyObject: (request) => {
    const source = decodeURIComponent(String(request.input.CopySource)).replace(/^\//, "");
    const at = source.indexOf("/");
    return [
      ...onObject("s3:PutObject")(request),
      { action: "s3:GetObject", bucket: source.slice(0, at), key: source.slice(at + 1) },
    ];
  },
};

/**
 * The KMS requests S3 makes with the caller's permissions (`kms:ViaService`) to serve an S3
 * command on an SSE-KMS object: a data key for a new object, its decryption to read one, and to
 * add each part of a multipart upload and complete it. HeadObject, tagging and deletes need none.
 */
const S3_KMS_ACTIONS: Readonly<Record<string, readonly ("kms:GenerateDataKey" | "kms:Decrypt")[]>> = {
  GetObject: ["kms:Decrypt"],
  PutObject: ["kms:GenerateDataKey"],
  CreateMultipartUpload: ["kms:GenerateDataKey"],
  UploadPart: ["kms:Decrypt"],
  CompleteMultipartUpload: ["kms:Decrypt"],
  CopyObject: ["kms:Decrypt", "kms:GenerateDataKey"],
};

const KMS_COMMANDS: Readonly<Record<string, string>> = {
  Decrypt: "kms:Decrypt",
  GenerateMac: "kms:GenerateMac",
  GenerateDataKey: "kms:GenerateDataKey",
  Encrypt: "kms:Encrypt",
};

/**
 * The IAM requests behind recorded SDK commands, in order: each command's own (with the condition
 * keys its headers carry, and `aws:SecureTransport` true: on AWS the SDK's endpoints are https),
 * followed by the KMS requests S3 makes on the role's behalf for it. A KMS key the local emulator
 * named is replaced by the ARN `keyArns` maps it to.
 * @throws Error for a command without a mapping (so a new command cannot slip through unchecked),
 *   a versioned request, or a KMS key without a mapping.
 */
export async function iamRequestsOf(
  recorded: readonly RecordedRequest[],
  stack: StackPolicies,
  keyArns: Readonly<Record<string, string>>,
): Promise<IamRequest[]> {
  const requests: IamRequest[] = [];
  const secure = { "aws:SecureTransport": "true" };
  for (const request of recorded) {
    const name = `${request.service}:${request.command}`;
    const via = request.command + (request.answer.error === undefined ? "" : ` → ${request.answer.error}`);
    if (request.input.VersionId !== undefined) throw new Error(`${name} of a version is not mapped`);
    if (request.service === "s3") {
      const targets = S3_COMMANDS[request.command]?.(request);
      if (targets === undefined) throw new Error(`${name} has no IAM mapping`);
      for (const { action, bucket, key } of targets) {
        const resource = `arn:aws:s3:::${bucket}/${key}`;
        const allowed = new Set(
          await allowedContextKeysForRequest("s3", action.slice(3), resource, false, undefined),
        );
        const fromHeaders = Object.entries(request.headers)
          .map(([header, value]) => [`s3:${header.toLowerCase()}`, value] as const)
          .filter(([conditionKey]) => allowed.has(conditionKey));
        requests.push({
          via,
          action,
          resource,
          context: { ...secure, ...Object.fromEntries(fromHeaders) },
        });
      }
      for (const action of S3_KMS_ACTIONS[request.command] ?? []) {
        const keyArn = sseKeyOf(request, recorded, stack);
        if (keyArn === undefined) continue;
        const bucketArn = `arn:aws:s3:::${String(request.input.Bucket)}`;
        requests.push({
          via: `${via} (S3 → KMS)`,
          serves: `${bucketArn}/${String(request.input.Key)}`,
          action,
          resource: keyArn,
          context: {
            ...secure,
            "kms:ViaService": `s3.${stack.region}.amazonaws.com`,
            "kms:CallerAccount": stack.account,
            // With an S3 Bucket Key the context is the bucket's ARN.
            "kms:EncryptionContextKeys": ["aws:s3:arn"],
            "kms:EncryptionContext:aws:s3:arn": bucketArn,
          },
        });
      }
    } else if (request.service === "kms") {
      const action = KMS_COMMANDS[request.command];
      if (action === undefined) throw new Error(`${name} has no IAM mapping`);
      const local = String(request.input.KeyId ?? request.answer.keyId);
      const resource = keyArns[local] ?? (Object.values(keyArns).includes(local) ? local : undefined);
      if (resource === undefined)
        throw new Error(`${name} used the KMS key ${local}, which keyArns does not map`);
      const context = (request.input.EncryptionContext ?? {}) as Record<string, string>;
      requests.push({
        via,
        action,
        resource,
        context: {
          ...secure,
          "kms:CallerAccount": stack.account,
          "kms:EncryptionContextKeys": Object.keys(context),
          ...Object.fromEntries(
            Object.entries(context).map(([key, value]) => [`kms:EncryptionContext:${key}`, value]),
          ),
        },
      });
    } else {
      throw new Error(`${name} has no IAM mapping`);
    }
  }
  return requests;
}

/**
 * The KMS key S3 uses for a write or read: the one the request names, else the one its multipart
 * upload was created under, else the bucket's default. Objects the function reads were written by
 * Firehose without SSE headers, so under the bucket's default.
 */
function sseKeyOf(
  request: RecordedRequest,
  recorded: readonly RecordedRequest[],
  stack: StackPolicies,
): string | undefined {
  const named = (candidate: RecordedRequest) =>
    candidate.headers["x-amz-server-side-encryption-aws-kms-key-id"];
  const creation = recorded.find(
    (candidate) =>
      candidate.command === "CreateMultipartUpload" &&
      request.input.UploadId !== undefined &&
      candidate.answer.uploadId === request.input.UploadId,
  );
  return (
    named(request) ??
    (creation === undefined ? undefined : named(creation)) ??
    stack.buckets[String(request.input.Bucket)]?.defaultKey
  );
}
