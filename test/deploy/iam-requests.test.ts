// Every request the function makes is allowed by what the packaged stack grants, and what must be
// refused is refused. The requests are recorded inside the handler's own SDK clients while it runs
// against local S3 and KMS, and moto's EventBridge; the policies are the packaged template's; the
// verdicts are @cloud-copilot/iam-simulate's.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { allowedContextKeysForRequest, typeForContextKey } from "@cloud-copilot/iam-simulate";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createClients, createEventBridgeClient } from "../../src/config/clients.ts";
import { loadConfig } from "../../src/config/config.ts";
import { createHandler } from "../../src/lambda/handler.ts";
import { EVENT_SOURCE, eventBridgePublisher, OBJECT_DECRYPTED } from "../../src/lambda/object-events.ts";
import { buildFirehoseObject } from "../../src/local/fixtures.ts";
import { type LocalStack, s3Notification, startLocalStack } from "../../src/local/stack.ts";
import { createSealer, gzippedJson, tamperedMessage } from "../support/bad-records.ts";
import { type FaultProxy, startFaultProxy } from "../support/fault-proxy.ts";
import { CapturingLog, putObject } from "../support/harness.ts";
import { evaluate, isColonKey, type Verdict } from "../support/iam-evaluate.ts";
import { type IamRequest, iamRequestsOf, type StackPolicies, stackPolicies } from "../support/iam-model.ts";
import { type MotoServer, startMotoServer } from "../support/moto-server.ts";
import { type RecordedRequest, recordRequests } from "../support/request-recorder.ts";
import {
  evaluateOnBus,
  putEventsRequests,
  recordPutEvents,
  type SentPutEvents,
} from "./event-bus-requests.ts";
import { packageTemplate, readTemplate } from "./packaged.ts";

// The handler runs on the clients src/config/clients.ts builds (the production settings), with the
// recorder added to their middleware stacks.
const recorded: RecordedRequest[] = [];
/** What the handler's EventBridge client sent ("DAS Object Decrypted" events, the stack turns them on). */
const published: SentPutEvents[] = [];

const ACCOUNT = "111122223333";
const REGION = "us-east-1";
/** The `ci` stage's parameters (serverless.yml), which `npm run package` packages. */
const BUCKET = "das-decrypt-ci-example";
const CLUSTER = "cluster-P74MFUJBI3PYA2N5L22YVVX3VY";
const DAS_KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
/** What CloudFormation would return for the stack's own key and queue. */
const OUTPUT_KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/6f1c2d3e-4a5b-4c6d-8e7f-90a1b2c3d4e5";
const QUEUE_ARN = "arn:aws:sqs:us-east-1:111122223333:das-decrypt-ci-FailedEventsQueue-EXAMPLE";
const DEFAULT_BUS = "arn:aws:events:us-east-1:111122223333:event-bus/default";
/**
 * The DAS key is the cluster's, outside the stack: assumed to keep the default key policy (the
 * account administers it, so IAM policies decide), which the stack's role statement relies on.
 */
const DEFAULT_KEY_POLICY = {
  Version: "2012-10-17",
  Statement: [
    {
      Sid: "Enable IAM User Permissions",
      Effect: "Allow",
      Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
      Action: "kms:*",
      Resource: "*",
    },
  ],
};

type Scenario = {
  name: string;
  requests: RecordedRequest[];
  events: SentPutEvents[];
  /** What the handler returned when it succeeded: the objects' summaries. */
  result?: unknown;
  error?: unknown;
};

let local: LocalStack;
let moto: MotoServer;
let proxy: FaultProxy;
let stack: StackPolicies;
/**
 * The local KMS emulator's key stands for the DAS key: the function's Decrypt names no key (the
 * ciphertext does), and the key's ARN is read from KMS's answer.
 */
let keyArns: Record<string, string>;
const scenarios = new Map<string, Scenario>();

beforeAll(async () => {
  stack = stackPolicies(readTemplate(), {
    account: ACCOUNT,
    region: REGION,
    attributes: { "OutputEncryptionKey.Arn": OUTPUT_KEY_ARN, "FailedEventsQueue.Arn": QUEUE_ARN },
    externalKeyPolicies: { [DAS_KEY_ARN]: DEFAULT_KEY_POLICY },
  });
  [local, moto] = await Promise.all([startLocalStack(), startMotoServer()]);
  // The handler's EventBridge clients (src/config/clients.ts) are made after this: they reach moto's bus.
  process.env.AWS_ENDPOINT_URL_EVENTBRIDGE = moto.endpoint;
  local.createBucket(BUCKET);
  keyArns = { [local.kms.keyArn]: DAS_KEY_ARN };
  proxy = await startFaultProxy(local.s3Endpoint);
  // The handler's clients are made after this: every S3 request of the handler crosses the proxy.
  process.env.AWS_ENDPOINT_URL_S3 = proxy.endpoint;

  const fixture = (records: number, eventsPerRecord: number, seed: number) =>
    buildFirehoseObject(local.kmsClient, local.kms.keyArn, {
      engine: "aurora-postgresql",
      resourceId: CLUSTER,
      records,
      eventsPerRecord,
      seed,
    });
  const small = await fixture(5, 1, 31);
  // Plain NDJSON past 5 MiB: two parts or more.
  const large = await fixture(500, 20, 32);
  const sealer = await createSealer(local.kmsClient, local.kms.keyArn, CLUSTER);
  const bad = tamperedMessage(await sealer.seal(gzippedJson({ type: "DatabaseActivityMonitoringRecord" })));
  const hour = "raw/2026/11/25/10";

  const run = async (name: string, key: string, body: Buffer, env: Record<string, string> = {}) => {
    await putObject(local, BUCKET, key, body);
    const functionEnv = {
      ...stack.environment,
      // Local settings: path-style S3, and decryption in the handler's thread (as at 1769 MB).
      S3_FORCE_PATH_STYLE: "true",
      DECRYPT_WORKERS: "0",
      UPLOAD_PART_SIZE_MB: "5",
      ...env,
    };
    const clients = createClients(loadConfig(functionEnv));
    recordRequests(clients.s3, recorded);
    recordRequests(clients.kms, recorded);
    const eventBridge = createEventBridgeClient();
    recordPutEvents(eventBridge, published);
    const handler = createHandler(functionEnv, {
      logger: new CapturingLog(),
      clients,
      objectEvents: eventBridgePublisher(eventBridge),
    });
    const from = { requests: recorded.length, events: published.length };
    const outcome = await handler(s3Notification(BUCKET, key)).then(
      (result) => ({ result }),
      (error: unknown) => ({ error }),
    );
    scenarios.set(name, {
      name,
      requests: recorded.slice(from.requests),
      events: published.slice(from.events),
      ...outcome,
    });
  };

  await run("single-part output", `${hour}/single`, small.body);
  await run("multipart output", `${hour}/multipart`, large.body, { OUTPUT_COMPRESSION: "none" });
  await run("quarantine object", `${hour}/quarantine`, Buffer.concat([small.body, bad]));
  await run("clean rerun removes the quarantine", `${hour}/quarantine`, small.body);
  proxy.rule = (request) =>
    request.operation === "UploadPart" && request.query.get("partNumber") === "2"
      ? { kind: "fail", status: 500, code: "InternalError" }
      : { kind: "pass" };
  await run("aborted upload", `${hour}/aborted`, large.body, { OUTPUT_COMPRESSION: "none" });
  proxy.rule = () => ({ kind: "pass" });
}, 300_000);

afterAll(async () => {
  await proxy?.stop();
  await Promise.all([local?.stop(), moto?.stop()]);
});

function scenario(name: string): Scenario {
  const found = scenarios.get(name);
  if (found === undefined) throw new Error(`no scenario ${name}`);
  return found;
}

const commandsOf = (name: string) => scenario(name).requests.map((request) => request.command);
const keysOf = (name: string, command: string) =>
  scenario(name)
    .requests.filter((request) => request.command === command)
    .map((request) => String(request.input.Key));

test("each scenario made the requests it stands for", () => {
  expect(scenario("single-part output").error).toBeUndefined();
  expect(commandsOf("single-part output")).toContain("PutObject");
  expect(commandsOf("single-part output")).not.toContain("CreateMultipartUpload");

  const multipart = commandsOf("multipart output");
  expect(scenario("multipart output").error).toBeUndefined();
  expect(multipart).toContain("CreateMultipartUpload");
  expect(multipart.filter((command) => command === "UploadPart").length).toBeGreaterThanOrEqual(2);
  expect(multipart).toContain("CompleteMultipartUpload");

  expect(scenario("quarantine object").error).toBeUndefined();
  expect(keysOf("quarantine object", "PutObject")).toContain("quarantine/raw/2026/11/25/10/quarantine");
  expect(keysOf("clean rerun removes the quarantine", "DeleteObject")).toEqual([
    "quarantine/raw/2026/11/25/10/quarantine",
  ]);

  expect(scenario("aborted upload").error).toBeDefined();
  expect(commandsOf("aborted upload")).toContain("AbortMultipartUpload");
  expect(commandsOf("aborted upload")).not.toContain("CompleteMultipartUpload");

  for (const { requests } of scenarios.values()) {
    expect(requests.filter((request) => request.command === "Decrypt").length).toBeGreaterThan(0);
  }

  // One event per object decrypted, which moto's bus accepted; none for the object that failed.
  for (const { name, events, error, result } of scenarios.values()) {
    expect(events, name).toEqual(
      error === undefined ? [{ entries: [{ source: EVENT_SOURCE, detailType: OBJECT_DECRYPTED }] }] : [],
    );
    if (error === undefined)
      expect(result, name).toEqual({
        objects: [expect.not.objectContaining({ eventNotPublished: expect.anything() })],
      });
  }
});

describe("what the function does is allowed", () => {
  test("every recorded request, and every KMS request S3 makes for it, is allowed by the role, bucket and key policies", async () => {
    const verdicts: { scenario: string; request: IamRequest; verdict: Verdict }[] = [];
    for (const { name, requests, events } of scenarios.values()) {
      for (const request of await iamRequestsOf(requests, stack, keyArns)) {
        verdicts.push({ scenario: name, request, verdict: await evaluate(request, stack) });
      }
      for (const request of events.flatMap((sent) => putEventsRequests(sent, stack))) {
        verdicts.push({ scenario: name, request, verdict: await evaluateOnBus(request, stack) });
      }
    }
    // One row per distinct request of a scenario (parts of one upload are alike), with its count.
    const rows = new Map<string, { cells: string[]; count: number }>();
    for (const { scenario, request, verdict } of verdicts) {
      const cells = [
        scenario,
        request.via,
        request.action,
        request.resource,
        conditions(request),
        verdict.result,
      ];
      const id = JSON.stringify([...cells, request.serves]);
      const row = rows.get(id) ?? { cells, count: 0 };
      row.count += 1;
      rows.set(id, row);
    }
    const lines = [...rows.values()].map(({ cells: [scenario = "", via = "", ...rest], count }) => [
      scenario,
      count > 1 ? `${via} ×${count}` : via,
      ...rest,
    ]);
    console.log(
      "Requests of the function (every one also with aws:SecureTransport=true; KMS ones with kms:CallerAccount)\n" +
        table(["scenario", "request", "action", "resource", "condition keys", "verdict"], lines),
    );
    expect(new Set(verdicts.map(({ request }) => request.action))).toEqual(
      new Set([
        "s3:GetObject",
        "s3:GetObjectTagging",
        "s3:PutObject",
        "s3:PutObjectTagging",
        "s3:AbortMultipartUpload",
        "s3:DeleteObject",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "events:PutEvents",
      ]),
    );
    expect(verdicts.filter(({ verdict }) => verdict.result !== "Allowed")).toEqual([]);
    // Nothing the requests carry is lost on the evaluator but the colon keys decided on the statements.
    const ignored = verdicts.flatMap(({ verdict }) => verdict.ignoredContextKeys);
    expect(ignored.filter((key) => !isColonKey(key))).toEqual([]);
  });

  test("iam-simulate drops kms:EncryptionContext:aws:rds:dbc-id, so on its own it would refuse the DAS key's Decrypt", async () => {
    const [decrypt] = await dasKeyDecrypts();
    if (decrypt === undefined) throw new Error("no Decrypt of the DAS key was recorded");
    const { runSimulation } = await import("@cloud-copilot/iam-simulate");
    const outcome = await runSimulation(
      {
        request: {
          principal: stack.principal,
          action: decrypt.action,
          resource: { resource: decrypt.resource, accountId: ACCOUNT },
          contextVariables: { ...decrypt.context },
        },
        identityPolicies: stack.identityPolicies,
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        resourcePolicy: DEFAULT_KEY_POLICY,
      },
      {},
    );
    expect(outcome).toMatchObject({
      resultType: "single",
      overallResult: "ImplicitlyDenied",
      result: { ignoredContextKeys: ["kms:EncryptionContext:aws:rds:dbc-id"] },
    });
  });

  test("the DAS key's Decrypt statement is bound to exactly the stack's resource id, which every recorded Decrypt carries", async () => {
    const statements = stack.identityPolicies
      .flatMap(({ policy }) => policy.Statement)
      .filter((statement) => JSON.stringify(statement.Resource).includes(DAS_KEY_ARN));
    expect(statements).toEqual([
      {
        Sid: "DecryptDasDataKeysOfClusters",
        Effect: "Allow",
        Action: ["kms:Decrypt"],
        Resource: DAS_KEY_ARN,
        Condition: {
          StringEquals: { "kms:EncryptionContext:aws:rds:dbc-id": [stack.environment.DAS_RESOURCE_ID] },
        },
      },
    ]);
    expect(stack.environment.DAS_RESOURCE_ID).toBe(CLUSTER);
    const decrypts = await dasKeyDecrypts();
    expect(decrypts.length).toBeGreaterThan(0);
    for (const decrypt of decrypts) {
      expect(decrypt.context).toMatchObject({
        "kms:EncryptionContext:aws:rds:dbc-id": CLUSTER,
        "kms:EncryptionContextKeys": ["aws:rds:dbc-id"],
      });
    }
  });
});

describe("what must be refused is refused", () => {
  test("writes and deletes under the raw prefix are refused", async () => {
    const raw = `arn:aws:s3:::${BUCKET}/raw/2026/11/25/10/single`;
    for (const action of [
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:AbortMultipartUpload",
      "s3:PutObjectTagging",
    ]) {
      const context = { "aws:SecureTransport": "true", "s3:x-amz-server-side-encryption": "aws:kms" };
      expect((await evaluate({ via: "test", action, resource: raw, context }, stack)).result, action).toBe(
        "ImplicitlyDenied",
      );
    }
  });

  test("every recorded S3 request is refused over plain HTTP (aws:SecureTransport false)", async () => {
    const s3 = (await allIamRequests()).filter((request) => request.action.startsWith("s3:"));
    expect(new Set(s3.map((request) => request.action))).toContain("s3:GetObject");
    expect(new Set(s3.map((request) => request.action))).toContain("s3:PutObject");
    for (const request of s3) {
      const plain = { ...request, context: { ...request.context, "aws:SecureTransport": "false" } };
      expect((await evaluate(plain, stack)).result, `${request.action} ${request.resource}`).toBe(
        "ExplicitlyDenied",
      );
    }
  });

  test("a PutObject under the output or quarantine prefix asking for AES256, for another KMS key, or for aws:kms without a key (S3's managed key), is refused", async () => {
    const other = "arn:aws:kms:us-east-1:111122223333:key/00000000-1111-4222-8333-444444444444";
    for (const prefix of ["decrypted", "quarantine"]) {
      const resource = `arn:aws:s3:::${BUCKET}/${prefix}/raw/2026/11/25/10/single`;
      for (const headers of [
        { "s3:x-amz-server-side-encryption": "AES256" },
        {
          "s3:x-amz-server-side-encryption": "aws:kms",
          "s3:x-amz-server-side-encryption-aws-kms-key-id": other,
        },
        { "s3:x-amz-server-side-encryption": "aws:kms" },
      ]) {
        const context = { "aws:SecureTransport": "true", ...headers };
        const request = { via: "test", action: "s3:PutObject", resource, context };
        expect((await evaluate(request, stack)).result, JSON.stringify(request)).toBe("ExplicitlyDenied");
      }
    }
  });

  test("kms:Decrypt of the DAS key under another resource id is refused", async () => {
    const [decrypt] = await dasKeyDecrypts();
    if (decrypt === undefined) throw new Error("no Decrypt of the DAS key was recorded");
    // The recorded request with only its encryption context changed.
    const under = (contextKey: string, id: string): IamRequest => ({
      ...decrypt,
      context: {
        "aws:SecureTransport": "true",
        "kms:CallerAccount": ACCOUNT,
        "kms:EncryptionContextKeys": [contextKey],
        [`kms:EncryptionContext:${contextKey}`]: id,
      },
    });
    expect((await evaluate(under("aws:rds:dbc-id", CLUSTER), stack)).result).toBe("Allowed");
    for (const [contextKey, id] of [
      ["aws:rds:dbc-id", "cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ"],
      ["aws:rds:db-id", "db-KBKJGYAAF5QT253EYKEI37WBCY"],
      ["aws:rds:db-id", CLUSTER],
    ] as const) {
      expect((await evaluate(under(contextKey, id), stack)).result, `${contextKey}=${id}`).toBe(
        "ImplicitlyDenied",
      );
    }
  });

  test("the output key is usable only through S3: a direct GenerateDataKey or Decrypt is refused", async () => {
    const context = { "aws:SecureTransport": "true", "kms:CallerAccount": ACCOUNT };
    for (const action of ["kms:GenerateDataKey", "kms:Decrypt"]) {
      const request = { via: "test", action, resource: OUTPUT_KEY_ARN, context };
      expect((await evaluate(request, stack)).result, action).toBe("ImplicitlyDenied");
    }
  });
});

describe("object events: the function may put its own event on the default bus, and nothing else", () => {
  /** The PutEvents of the first scenario, as IAM sees it. */
  const recordedPutEvents = (): IamRequest => {
    const [request, ...others] = scenario("single-part output").events.flatMap((sent) =>
      putEventsRequests(sent, stack),
    );
    if (request === undefined || others.length > 0) throw new Error("expected one PutEvents request");
    return request;
  };

  test("events:source and events:detail-type are condition keys of PutEvents, multivalued (ArrayOfString) in the Service Authorization Reference", async () => {
    const keys = await allowedContextKeysForRequest("events", "PutEvents", DEFAULT_BUS, false, undefined);
    expect(keys).toEqual(expect.arrayContaining(["events:source", "events:detail-type"]));
    expect(await typeForContextKey("events:source")).toBe("ArrayOfString");
    expect(await typeForContextKey("events:detail-type")).toBe("ArrayOfString");
  });

  test("the recorded PutEvents is das-decrypt's event on the default bus, allowed, with no context key lost on the evaluator", async () => {
    const request = recordedPutEvents();
    expect(request).toMatchObject({
      action: "events:PutEvents",
      resource: DEFAULT_BUS,
      context: { "events:source": ["das-decrypt"], "events:detail-type": ["DAS Object Decrypted"] },
    });
    expect(await evaluateOnBus(request, stack)).toEqual({ result: "Allowed", ignoredContextKeys: [] });
  });

  test("another source, another detail-type, another bus, a batch with a foreign entry, or no source and detail-type at all is refused", async () => {
    const request = recordedPutEvents();
    const refused: [string, IamRequest][] = [
      ["source", { ...request, context: { ...request.context, "events:source": ["aws.s3"] } }],
      [
        "detail-type",
        { ...request, context: { ...request.context, "events:detail-type": ["Object Created"] } },
      ],
      ["bus", { ...request, resource: DEFAULT_BUS.replace(/default$/, "security-lake") }],
      ["bus of another region", { ...request, resource: DEFAULT_BUS.replace("us-east-1", "eu-west-1") }],
      ["batch", { ...request, context: { ...request.context, "events:source": ["das-decrypt", "aws.s3"] } }],
      ["no keys", { ...request, context: { "aws:SecureTransport": "true" } }],
    ];
    for (const [what, changed] of refused) {
      expect((await evaluateOnBus(changed, stack)).result, what).toBe("ImplicitlyDenied");
    }
  });

  test("StringEquals on these multivalued keys would refuse the function's own event: the statement needs ForAllValues", async () => {
    const request = recordedPutEvents();
    const [statement] = stack.identityPolicies
      .flatMap(({ policy }) => policy.Statement)
      .filter((candidate) => candidate.Sid === "PublishObjectEvents");
    if (statement === undefined) throw new Error("no PublishObjectEvents statement in the stack");
    const singleValued = {
      ...stack,
      identityPolicies: [
        {
          name: "single-valued",
          policy: {
            Version: "2012-10-17",
            Statement: [
              {
                ...statement,
                Condition: {
                  StringEquals: { "events:source": EVENT_SOURCE, "events:detail-type": OBJECT_DECRYPTED },
                },
              },
            ],
          },
        },
      ],
    };
    expect((await evaluateOnBus(request, singleValued)).result).toBe("ImplicitlyDenied");
    expect((await evaluateOnBus(request, stack)).result).toBe("Allowed");
  });
});

/** The IAM requests of every scenario, in order. */
async function allIamRequests(): Promise<IamRequest[]> {
  const requests: IamRequest[] = [];
  for (const { requests: sent } of scenarios.values())
    requests.push(...(await iamRequestsOf(sent, stack, keyArns)));
  return requests;
}

async function dasKeyDecrypts(): Promise<IamRequest[]> {
  return (await allIamRequests()).filter(
    (request) => request.action === "kms:Decrypt" && request.resource === DAS_KEY_ARN,
  );
}

/** The request's condition keys, as `key=value`, but those alike on every request (and the context's key names). */
function conditions(request: IamRequest): string {
  return Object.entries(request.context)
    .filter(
      ([key]) => !["aws:SecureTransport", "kms:CallerAccount", "kms:EncryptionContextKeys"].includes(key),
    )
    .map(([key, value]) => `${key}=${[value].flat().join(",")}`)
    .join(" ");
}

/** A plain-text table with aligned columns. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(" | ");
  return [line(header), widths.map((width) => "-".repeat(width)).join("-|-"), ...rows.map(line)].join("\n");
}

describe("with redactParams=hash, the bind-value hash key's one request is allowed, and only on its key", () => {
  /** What CloudFormation would return for the stack's HMAC key; the local KMS knows it by an alias. */
  const PARAM_HASH_KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/0badc0de-1111-4222-8333-944455556666";
  const LOCAL_ALIAS = "alias/das-decrypt-param-hash";
  let hashStack: StackPolicies;
  const sent: RecordedRequest[] = [];
  const events: SentPutEvents[] = [];

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "das-decrypt-iam-hash-"));
    try {
      hashStack = stackPolicies(packageTemplate(dir, "ci", { redactParams: "hash" }), {
        account: ACCOUNT,
        region: REGION,
        attributes: {
          "OutputEncryptionKey.Arn": OUTPUT_KEY_ARN,
          "FailedEventsQueue.Arn": QUEUE_ARN,
          "ParamHashKey.Arn": PARAM_HASH_KEY_ARN,
        },
        externalKeyPolicies: { [DAS_KEY_ARN]: DEFAULT_KEY_POLICY },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const fixture = await buildFirehoseObject(local.kmsClient, local.kms.keyArn, {
      engine: "aurora-postgresql",
      resourceId: CLUSTER,
      records: 5,
      eventsPerRecord: 2,
      seed: 33,
    });
    const key = "raw/2026/11/25/11/hashed";
    await putObject(local, BUCKET, key, fixture.body);
    const functionEnv = {
      ...hashStack.environment,
      PARAM_HASH_KEY_ID: LOCAL_ALIAS,
      S3_FORCE_PATH_STYLE: "true",
      DECRYPT_WORKERS: "0",
    };
    const clients = createClients(loadConfig(functionEnv));
    recordRequests(clients.s3, sent);
    recordRequests(clients.kms, sent);
    const eventBridge = createEventBridgeClient();
    recordPutEvents(eventBridge, events);
    const handler = createHandler(functionEnv, {
      logger: new CapturingLog(),
      clients,
      objectEvents: eventBridgePublisher(eventBridge),
    });
    await handler(s3Notification(BUCKET, key));
  }, 120_000);

  test("the packaged function hashes under the stack's key, and every request it made is allowed", async () => {
    expect(hashStack.environment).toMatchObject({
      REDACT_PARAMS: "hash",
      PARAM_HASH_KEY_ID: PARAM_HASH_KEY_ARN,
    });
    const requests = await iamRequestsOf(sent, hashStack, { ...keyArns, [LOCAL_ALIAS]: PARAM_HASH_KEY_ARN });
    const macs = requests.filter((request) => request.action === "kms:GenerateMac");
    expect(macs.map((request) => request.resource)).toEqual([PARAM_HASH_KEY_ARN]);
    expect(requests.some((request) => request.action === "s3:PutObject")).toBe(true);
    for (const request of requests) {
      expect((await evaluate(request, hashStack)).result, `${request.action} ${request.resource}`).toBe(
        "Allowed",
      );
    }
    const putEvents = events.flatMap((event) => putEventsRequests(event, hashStack));
    expect(putEvents).toHaveLength(1);
    for (const request of putEvents) expect((await evaluateOnBus(request, hashStack)).result).toBe("Allowed");
  });

  test("GenerateMac on any other key, and any other use of the HMAC key, are refused", async () => {
    const context = { "aws:SecureTransport": "true", "kms:CallerAccount": ACCOUNT };
    for (const resource of [DAS_KEY_ARN, OUTPUT_KEY_ARN]) {
      const request = { via: "test", action: "kms:GenerateMac", resource, context };
      expect((await evaluate(request, hashStack)).result, resource).toBe("ImplicitlyDenied");
    }
    for (const action of ["kms:VerifyMac", "kms:Decrypt", "kms:DescribeKey"]) {
      const request = { via: "test", action, resource: PARAM_HASH_KEY_ARN, context };
      expect((await evaluate(request, hashStack)).result, action).toBe("ImplicitlyDenied");
    }
  });
});
