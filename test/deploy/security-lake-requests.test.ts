// Security Lake without a provider role, proven on the function's own requests: it runs against
// local S3 and KMS with the environment of the ci stage packaged with securityLakeBucket, its
// requests are recorded inside its SDK clients, and the packaged role's policies decide them with
// @cloud-copilot/iam-simulate. The function's own role writes the Parquet files under ext/<source>/
// of the lake bucket, and nowhere else. security-lake-role-requests.test.ts has the provider role.
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { buildFirehoseObject } from "../../src/local/fixtures.ts";
import { type LocalStack, startLocalStack } from "../../src/local/stack.ts";
import { type FaultProxy, startFaultProxy } from "../support/fault-proxy.ts";
import { evaluate, isColonKey } from "../support/iam-evaluate.ts";
import { type IamRequest, iamRequestsOf, type StackPolicies } from "../support/iam-model.ts";
import {
  ACCOUNT,
  BUCKET,
  CLUSTER,
  keyArnsOf,
  LAKE_BUCKET,
  LAKE_PREFIX,
  type LakeRun,
  OTHER_LAKE_BUCKET,
  packagedCi,
  packagedWith,
  runFunction,
  toLake,
} from "./security-lake-deployment.ts";

const SCENARIOS = ["single-part file", "multipart file", "aborted file"] as const;
type ScenarioName = (typeof SCENARIOS)[number];

let local: LocalStack;
let proxy: FaultProxy;
let stack: StackPolicies;
/** The ci stage as packaged by default, without securityLakeBucket. */
let ci: StackPolicies;
const runs = new Map<ScenarioName, LakeRun>();

/** Incompressible SQL text, the same on every run: 10,000 events of it make a Parquet file of several parts. */
const noise = (record: number, event: number) =>
  Array.from({ length: 10 }, (_, i) =>
    createHash("sha512").update(`${record}/${event}/${i}`).digest("base64"),
  ).join("");

beforeAll(async () => {
  stack = packagedWith({ securityLakeBucket: LAKE_BUCKET });
  ci = packagedCi();
  local = await startLocalStack();
  local.createBucket(BUCKET);
  local.createBucket(LAKE_BUCKET);
  proxy = await startFaultProxy(local.s3Endpoint);
  // The handler's clients are made after this: every S3 request of the handler crosses the proxy.
  process.env.AWS_ENDPOINT_URL_S3 = proxy.endpoint;

  const fixture = (records: number, eventsPerRecord: number, seed: number, noisy: boolean) =>
    buildFirehoseObject(local.kmsClient, local.kms.keyArn, {
      engine: "aurora-postgresql",
      resourceId: CLUSTER,
      records,
      eventsPerRecord,
      seed,
      ...(noisy
        ? {
            mapEvents: (events, record) =>
              events.map((event, index) => ({ ...event, commandText: noise(record, index) })),
          }
        : {}),
    });
  const small = await fixture(5, 2, 41, false);
  const large = await fixture(500, 20, 42, true);
  const hour = "raw/2026/11/25/10";

  runs.set("single-part file", await runFunction(local, stack, `${hour}/lake-single`, small.body));
  runs.set("multipart file", await runFunction(local, stack, `${hour}/lake-multipart`, large.body));
  proxy.rule = (request) =>
    request.operation === "UploadPart" &&
    request.path.startsWith(`/${LAKE_BUCKET}/`) &&
    request.query.get("partNumber") === "2"
      ? { kind: "fail", status: 500, code: "InternalError" }
      : { kind: "pass" };
  runs.set("aborted file", await runFunction(local, stack, `${hour}/lake-aborted`, large.body));
  proxy.rule = () => ({ kind: "pass" });
}, 300_000);

afterAll(async () => {
  await proxy?.stop();
  await local?.stop();
});

function run(name: ScenarioName): LakeRun {
  const found = runs.get(name);
  if (found === undefined) throw new Error(`no scenario ${name}`);
  return found;
}

const lakeCommands = (name: ScenarioName) =>
  run(name)
    .requests.filter(toLake)
    .map((request) => request.command);

/** The IAM requests of the Parquet files of every scenario. */
async function lakeWrites(): Promise<IamRequest[]> {
  const writes: IamRequest[] = [];
  for (const name of SCENARIOS)
    writes.push(...(await iamRequestsOf(run(name).requests.filter(toLake), stack, keyArnsOf(local))));
  return writes;
}

describe("without a provider role: the function's own role writes the files, under ext/<source>/ only", () => {
  test("the stack gives the function the lake's bucket, the default source and its own account, and no role", () => {
    expect(stack.environment).toMatchObject({
      SECURITY_LAKE_BUCKET: LAKE_BUCKET,
      SECURITY_LAKE_SOURCE: "das-decrypt",
      SECURITY_LAKE_ACCOUNT_ID: ACCOUNT,
    });
    expect(stack.environment).not.toHaveProperty("SECURITY_LAKE_ROLE_ARN");
    expect(stack.environment).not.toHaveProperty("SECURITY_LAKE_EXTERNAL_ID");
  });

  test("each scenario wrote its Parquet file as it stands for: one part; several parts; several parts, the second failing and the upload aborted", () => {
    expect(run("single-part file").error).toBeUndefined();
    expect(lakeCommands("single-part file")).toEqual(["PutObject"]);
    expect(run("multipart file").error).toBeUndefined();
    const multipart = lakeCommands("multipart file");
    expect(multipart[0]).toBe("CreateMultipartUpload");
    expect(multipart.filter((command) => command === "UploadPart").length).toBeGreaterThanOrEqual(2);
    expect(multipart.at(-1)).toBe("CompleteMultipartUpload");
    expect(run("aborted file").error).toBeDefined();
    expect(lakeCommands("aborted file")).toContain("AbortMultipartUpload");
    expect(lakeCommands("aborted file")).not.toContain("CompleteMultipartUpload");
    for (const name of SCENARIOS) {
      // Without a provider role the files go through the function's own client.
      expect(run(name).lakeRequests, name).toEqual([]);
      for (const request of run(name).requests.filter(toLake))
        expect(String(request.input.Key), name).toMatch(
          new RegExp(`^${LAKE_PREFIX}eventDay=20261125/lake-[a-z]+\\.parquet$`),
        );
    }
  });

  test("every recorded request, the Parquet files' among them, is allowed by the role, bucket and key policies", async () => {
    const refused = [];
    const ignored = [];
    for (const name of SCENARIOS) {
      for (const request of await iamRequestsOf(run(name).requests, stack, keyArnsOf(local))) {
        const verdict = await evaluate(request, stack);
        if (verdict.result !== "Allowed") refused.push({ request, verdict });
        ignored.push(...verdict.ignoredContextKeys.filter((key) => !isColonKey(key)));
      }
    }
    expect(refused).toEqual([]);
    expect(ignored).toEqual([]);
    expect(new Set((await lakeWrites()).map((request) => request.action))).toEqual(
      new Set(["s3:PutObject", "s3:AbortMultipartUpload"]),
    );
  });

  test("the files are written without SSE headers: the lake bucket's default encryption applies (SSE-S3 here, so no KMS request is made for them)", async () => {
    const writes = await lakeWrites();
    expect(writes.length).toBeGreaterThan(0);
    for (const request of writes) {
      expect(request.resource.startsWith(`arn:aws:s3:::${LAKE_BUCKET}/${LAKE_PREFIX}`)).toBe(true);
      expect(Object.keys(request.context)).toEqual(["aws:SecureTransport"]);
    }
  });

  test("the same writes under another source's prefix, elsewhere in the lake, in another lake or in the stack's bucket are refused", async () => {
    const elsewhere = (resource: string) => [
      resource.replace("/ext/das-decrypt/", "/ext/other/"),
      // A source whose name starts with ours.
      resource.replace("/ext/das-decrypt/", "/ext/das-decrypt-other/"),
      resource.replace("/ext/das-decrypt/", "/"),
      resource.replace(LAKE_BUCKET, OTHER_LAKE_BUCKET),
      resource.replace(LAKE_BUCKET, BUCKET),
    ];
    let checked = 0;
    for (const request of await lakeWrites()) {
      for (const resource of elsewhere(request.resource)) {
        expect(
          (await evaluate({ ...request, resource }, stack)).result,
          `${request.action} ${resource}`,
        ).toBe("ImplicitlyDenied");
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(10);
  });

  test("on the files themselves, anything but writing them is refused: read, delete, tag, ACL", async () => {
    const [write] = await lakeWrites();
    if (write === undefined) throw new Error("no write of a Parquet file was recorded");
    for (const action of ["s3:GetObject", "s3:DeleteObject", "s3:PutObjectTagging", "s3:PutObjectAcl"]) {
      expect((await evaluate({ ...write, action }, stack)).result, action).toBe("ImplicitlyDenied");
    }
  });

  test("the writes are allowed by the stack's statement for the lake: the ci stack, without securityLakeBucket, refuses them", async () => {
    const writes = await lakeWrites();
    expect(writes.length).toBeGreaterThan(0);
    for (const request of writes) {
      expect((await evaluate(request, ci)).result, request.action).toBe("ImplicitlyDenied");
    }
  });
});
