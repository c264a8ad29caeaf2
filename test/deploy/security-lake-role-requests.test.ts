// Security Lake through the provider role, proven on the function's own requests: it runs against
// local S3 and KMS and moto's STS with the environment of the ci stage packaged with a bucket, a
// provider role and an external id. Its AssumeRole is recorded on the wire and decided with
// @cloud-copilot/iam-simulate against the packaged role's policies and the provider role's trust
// policy: the function may assume that role only, with that external id, and its own role may not
// write to the lake at all.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { buildFirehoseObject } from "../../src/local/fixtures.ts";
import { type LocalStack, startLocalStack } from "../../src/local/stack.ts";
import { evaluate } from "../support/iam-evaluate.ts";
import { type IamRequest, iamRequestsOf, type Policy, type StackPolicies } from "../support/iam-model.ts";
import { type MotoServer, startMotoServer } from "../support/moto-server.ts";
import {
  assumeRoleRequest,
  evaluateAssumeRole,
  type SentAssumeRole,
  type StsRecorder,
  startStsRecorder,
} from "./assume-role-requests.ts";
import {
  ACCOUNT,
  BUCKET,
  CLUSTER,
  keyArnsOf,
  LAKE_BUCKET,
  LAKE_PREFIX,
  type LakeRun,
  packagedCi,
  packagedWith,
  runFunction,
  toLake,
} from "./security-lake-deployment.ts";

/** The provider role, in the Security Lake administrator's account, and the source's external id. */
const ROLE_ARN = "arn:aws:iam::444455556666:role/AmazonSecurityLake-Provider-das-decrypt-us-east-1";
const EXTERNAL_ID = "das-decrypt@111122223333:audit";
/**
 * The provider role's trust policy: it trusts the log provider's account, with the external id the
 * source was registered with when `withExternalId` (without it, only the function's side decides).
 */
const trustPolicy = (withExternalId: boolean): Policy => ({
  Version: "2012-10-17",
  Statement: [
    {
      Effect: "Allow",
      Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
      Action: "sts:AssumeRole",
      ...(withExternalId ? { Condition: { StringEquals: { "sts:ExternalId": EXTERNAL_ID } } } : {}),
    },
  ],
});

let local: LocalStack;
let moto: MotoServer;
let sts: StsRecorder;
let stack: StackPolicies;
/** The ci stage as packaged by default, without securityLakeBucket. */
let ci: StackPolicies;
let run: LakeRun;
let assumed: SentAssumeRole[];

beforeAll(async () => {
  stack = packagedWith({
    securityLakeBucket: LAKE_BUCKET,
    securityLakeRoleArn: ROLE_ARN,
    securityLakeExternalId: EXTERNAL_ID,
  });
  ci = packagedCi();
  [local, moto] = await Promise.all([startLocalStack(), startMotoServer()]);
  local.createBucket(BUCKET);
  local.createBucket(LAKE_BUCKET);
  sts = await startStsRecorder(moto.endpoint);
  // The handler's clients are made after this: the provider role's credentials come from moto.
  process.env.AWS_ENDPOINT_URL_STS = sts.endpoint;
  const fixture = await buildFirehoseObject(local.kmsClient, local.kms.keyArn, {
    engine: "aurora-postgresql",
    resourceId: CLUSTER,
    records: 5,
    eventsPerRecord: 2,
    seed: 43,
  });
  run = await runFunction(local, stack, "raw/2026/11/25/10/lake-role", fixture.body);
  assumed = [...sts.sent];
}, 300_000);

afterAll(async () => {
  delete process.env.AWS_ENDPOINT_URL_STS;
  await sts?.stop();
  await Promise.all([local?.stop(), moto?.stop()]);
});

const recordedAssumeRole = (): IamRequest => {
  const [sent, ...others] = assumed;
  if (sent === undefined || others.length > 0) throw new Error("expected one AssumeRole");
  return assumeRoleRequest(sent);
};

describe("with a provider role: the function assumes that role with the external id, and may not write to the lake itself", () => {
  test("the stack gives the function the role and the external id, and its own account for the keys", () => {
    expect(stack.environment).toMatchObject({
      SECURITY_LAKE_BUCKET: LAKE_BUCKET,
      SECURITY_LAKE_SOURCE: "das-decrypt",
      SECURITY_LAKE_ACCOUNT_ID: ACCOUNT,
      SECURITY_LAKE_ROLE_ARN: ROLE_ARN,
      SECURITY_LAKE_EXTERNAL_ID: EXTERNAL_ID,
    });
  });

  test("the file went through the provider role's client, after one AssumeRole of that role with the external id", () => {
    expect(run.error).toBeUndefined();
    expect(run.requests.filter(toLake)).toEqual([]);
    expect(run.lakeRequests.map((request) => request.command)).toEqual(["PutObject"]);
    expect(String(run.lakeRequests[0]?.input.Key)).toMatch(new RegExp(`^${LAKE_PREFIX}`));
    expect(assumed).toEqual([{ roleArn: ROLE_ARN, roleSessionName: "das-decrypt", externalId: EXTERNAL_ID }]);
  });

  test("sts:ExternalId is a condition key of AssumeRole the evaluator knows: the recorded AssumeRole is allowed with none lost", async () => {
    expect(await evaluateAssumeRole(recordedAssumeRole(), stack, trustPolicy(true))).toEqual({
      result: "Allowed",
      ignoredContextKeys: [],
    });
  });

  test("another role, no external id or another one is refused by the function's own policy, even where the role would trust it", async () => {
    const request = recordedAssumeRole();
    const { "sts:ExternalId": _, ...withoutExternalId } = request.context;
    const refused: [string, IamRequest][] = [
      ["another role", { ...request, resource: ROLE_ARN.replace("das-decrypt", "other") }],
      ["no external id", { ...request, context: withoutExternalId }],
      ["another external id", { ...request, context: { ...request.context, "sts:ExternalId": "other" } }],
    ];
    for (const [what, changed] of refused) {
      expect((await evaluateAssumeRole(changed, stack, trustPolicy(false))).result, what).toBe(
        "ImplicitlyDenied",
      );
    }
  });

  test("the role's trust alone does not let the function in: the ci stack, without the statement, is refused", async () => {
    expect((await evaluateAssumeRole(recordedAssumeRole(), ci, trustPolicy(true))).result).toBe(
      "ImplicitlyDenied",
    );
  });

  test("the function's own requests are allowed, and the file's, made as the provider role, would be refused to the function's role", async () => {
    for (const request of await iamRequestsOf(run.requests, stack, keyArnsOf(local))) {
      expect((await evaluate(request, stack)).result, `${request.action} ${request.resource}`).toBe(
        "Allowed",
      );
    }
    const lake = await iamRequestsOf(run.lakeRequests, stack, keyArnsOf(local));
    expect(lake.map((request) => request.action)).toEqual(["s3:PutObject"]);
    for (const request of lake) expect((await evaluate(request, stack)).result).toBe("ImplicitlyDenied");
  });
});
