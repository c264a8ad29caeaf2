/**
 * "DAS Object Decrypted" events, delivered by moto's EventBridge (a bus we did not write) through a
 * rule on the default bus to an SQS queue, as a SIEM forwarder would subscribe; and a bus that
 * cannot be reached, which must neither fail nor repeat an object whose output is complete.
 */
import { gunzipSync } from "node:zlib";
import { EventBridgeClient, PutRuleCommand, PutTargetsCommand } from "@aws-sdk/client-eventbridge";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createHandler } from "../../src/lambda/handler.ts";
import {
  EVENT_SOURCE,
  eventBridgePublisher,
  OBJECT_DECRYPTED,
  type ObjectDecryptedDetail,
} from "../../src/lambda/object-events.ts";
import { buildFirehoseObject } from "../../src/local/fixtures.ts";
import { type LocalStack, s3Notification, startLocalStack } from "../../src/local/stack.ts";
import type { ObjectSummary } from "../../src/process-object.ts";
import { CapturingLog, getBytes, putObject } from "../support/harness.ts";
import { RecordingMetrics } from "../support/leak-watch.ts";
import { type MotoServer, startMotoServer } from "../support/moto-server.ts";

const BUCKET = "das-events";
const CLUSTER = "cluster-P74MFUJBI3PYA2N5L22YVVX3VY";
const REGION = "us-east-1";
const CREDENTIALS = { accessKeyId: "testing", secretAccessKey: "testing" };

let stack: LocalStack;
let moto: MotoServer;
let sqs: SQSClient;
let queueUrl: string;

/** Every command the EventBridge client sent, with its input, as the SDK's middleware saw it. */
const sent: { command: string; input: Record<string, unknown> }[] = [];

function eventBridgeClient(endpoint: string): EventBridgeClient {
  const client = new EventBridgeClient({
    endpoint,
    region: REGION,
    credentials: CREDENTIALS,
    maxAttempts: 2,
  });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push({
        command: String(context.commandName).replace(/Command$/, ""),
        input: args.input as Record<string, unknown>,
      });
      return next(args);
    },
    { step: "initialize", name: "recordCommands" },
  );
  return client;
}

beforeAll(async () => {
  [stack, moto] = await Promise.all([startLocalStack(), startMotoServer()]);
  stack.createBucket(BUCKET);
  sqs = new SQSClient({ endpoint: moto.endpoint, region: REGION, credentials: CREDENTIALS });
  queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: "das-object-events" }))).QueueUrl as string;
  const attributes = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }),
  );
  const rules = new EventBridgeClient({ endpoint: moto.endpoint, region: REGION, credentials: CREDENTIALS });
  await rules.send(
    new PutRuleCommand({
      Name: "das-objects",
      EventPattern: JSON.stringify({ source: [EVENT_SOURCE], "detail-type": [OBJECT_DECRYPTED] }),
    }),
  );
  await rules.send(
    new PutTargetsCommand({
      Rule: "das-objects",
      Targets: [{ Id: "queue", Arn: attributes.Attributes?.QueueArn as string }],
    }),
  );
}, 60_000);
afterAll(async () => {
  await Promise.all([stack?.stop(), moto?.stop()]);
});

/** An object of 30 records with two runs of garbage in it, so that it has a quarantine object too. */
async function writeObject(key: string) {
  const fixture = await buildFirehoseObject(stack.kmsClient, stack.kms.keyArn, {
    engine: "aurora-postgresql",
    resourceId: CLUSTER,
    records: 30,
    eventsPerRecord: 3,
    heartbeatEvery: 10,
    delimiter: "newline",
  });
  const body = Buffer.concat([fixture.body, Buffer.from("not a record\n"), fixture.body.subarray(0, 40)]);
  const etag = await putObject(stack, BUCKET, key, body);
  return { etag, body };
}

describe("PUBLISH_OBJECT_EVENTS=true", () => {
  test("one event per object on the default bus: where the object and its output are, and its counts", async () => {
    const key = "raw/events/2026/11/25/10/with-quarantine";
    const { etag, body } = await writeObject(key);
    const log = new CapturingLog();
    const handler = createHandler(
      { ...stack.env, DAS_RESOURCE_ID: CLUSTER, PUBLISH_OBJECT_EVENTS: "true", EXCLUDE_COMMANDS: "delete" },
      { logger: log, objectEvents: eventBridgePublisher(eventBridgeClient(moto.endpoint)) },
    );
    const result = (await handler(s3Notification(BUCKET, key, etag, body.length))) as {
      objects: ObjectSummary[];
    };
    const summary = result.objects[0] as ObjectSummary;
    expect(summary.quarantined).toBeGreaterThan(0);
    expect(summary.eventsFiltered.command).toBeGreaterThan(0);

    expect(sent.map((request) => request.command)).toEqual(["PutEvents"]);
    const entries = (sent[0]?.input.Entries ?? []) as Record<string, unknown>[];
    expect(entries).toHaveLength(1);
    expect(entries[0]).not.toHaveProperty("EventBusName");

    const received = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 2 }),
    );
    expect(received.Messages).toHaveLength(1);
    const event = JSON.parse(received.Messages?.[0]?.Body as string) as {
      source: string;
      "detail-type": string;
      detail: ObjectDecryptedDetail;
    };
    expect(event.source).toBe("das-decrypt");
    expect(event["detail-type"]).toBe("DAS Object Decrypted");
    expect(event.detail).toEqual({
      bucket: BUCKET,
      key,
      sourceEtag: etag,
      outputBucket: BUCKET,
      outputKeys: [`decrypted/${key}.gz`],
      quarantineKey: summary.quarantineKey,
      counts: {
        recordsIn: summary.recordsIn,
        records: summary.records,
        quarantined: summary.quarantined,
        events: summary.events,
        heartbeatsDropped: summary.heartbeatsDropped,
        filtered: { user: 0, database: 0, command: summary.eventsFiltered.command },
        redacted: 0,
      },
    });
    expect(event.detail.counts.records + event.detail.counts.quarantined).toBe(event.detail.counts.recordsIn);
    // Names and numbers only: nothing of the audit data.
    const output = gunzipSync(await getBytes(stack, BUCKET, `decrypted/${key}.gz`)).toString("utf8");
    const firstLine = JSON.parse(output.split("\n")[0] as string) as Record<string, unknown>;
    expect(JSON.stringify(event)).not.toContain(String(firstLine.remoteHost));
    expect(JSON.stringify(event)).not.toContain(String(firstLine.sessionId));
  });

  test("a bus that cannot be reached: the object is still decrypted once, the failure logged and counted", async () => {
    const key = "raw/events/2026/11/25/11/bus-down";
    const { etag, body } = await writeObject(key);
    const log = new CapturingLog();
    const metrics = new RecordingMetrics();
    const before = sent.length;
    const handler = createHandler(
      { ...stack.env, DAS_RESOURCE_ID: CLUSTER, PUBLISH_OBJECT_EVENTS: "true" },
      // A closed port: the connection is refused on every attempt.
      { logger: log, metrics, objectEvents: eventBridgePublisher(eventBridgeClient("http://127.0.0.1:9")) },
    );
    const result = (await handler(s3Notification(BUCKET, key, etag, body.length))) as {
      objects: ObjectSummary[];
    };
    expect(result.objects).toHaveLength(1);
    expect(sent.slice(before).map((request) => request.command)).toEqual(["PutEvents"]);
    expect(await getBytes(stack, BUCKET, `decrypted/${key}.gz`)).toBeInstanceOf(Buffer);
    expect(log.lines.filter((line) => line.level === "warn").map((line) => line.message)).toEqual([
      "the output is complete, but its event could not be published",
    ]);
    expect(log.lines.find((line) => line.message === "object decrypted")?.extra).toMatchObject({
      eventNotPublished: expect.any(String),
    });
    expect(metrics.blobs.map((blob) => blob.ObjectEventsNotPublished)).toEqual([1]);
    expect(metrics.blobs.map((blob) => blob.ObjectsDecrypted)).toEqual([1]);
  });

  test("off (the function's default): no client call, and the metric says 0", async () => {
    const key = "raw/events/2026/11/25/12/off";
    const { etag, body } = await writeObject(key);
    const metrics = new RecordingMetrics();
    const before = sent.length;
    const handler = createHandler(
      { ...stack.env, DAS_RESOURCE_ID: CLUSTER },
      {
        logger: new CapturingLog(),
        metrics,
        objectEvents: eventBridgePublisher(eventBridgeClient(moto.endpoint)),
      },
    );
    await handler(s3Notification(BUCKET, key, etag, body.length));
    expect(sent.length).toBe(before);
    expect(metrics.blobs.map((blob) => blob.ObjectEventsNotPublished)).toEqual([0]);
  });
});
