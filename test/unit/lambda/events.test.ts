import { describe, expect, test } from "vitest";
import { EventShapeError } from "../../../src/config/errors.ts";
import { parseEvent } from "../../../src/lambda/events.ts";
import { encodeS3Key, s3Notification } from "../../../src/local/stack.ts";

const KEY = "raw/2026/11/25/10/das stream+1-ü=x.gz";

describe("parseEvent", () => {
  test("decodes S3 notification keys (URL encoding, + for space)", () => {
    const event = s3Notification("bucket", KEY, '"abc"', 12);
    expect(encodeS3Key(KEY)).toBe("raw/2026/11/25/10/das+stream%2B1-%C3%BC%3Dx.gz");
    expect(parseEvent(event)).toEqual({
      source: "s3",
      objects: [{ bucket: "bucket", key: KEY, etag: "abc", size: 12 }],
      skipped: [],
    });
  });

  test("reads every record of a notification and skips non-creation events", () => {
    const a = s3Notification("b", "k1").Records[0] as Record<string, unknown>;
    const removed = {
      ...(s3Notification("b", "k2").Records[0] as object),
      eventName: "ObjectRemoved:Delete",
    };
    const parsed = parseEvent({ Records: [a, removed, s3Notification("b", "k3").Records[0]] });
    expect(parsed.objects.map((o) => o.key)).toEqual(["k1", "k3"]);
    expect(parsed.skipped).toEqual(["Records[1] is ObjectRemoved:Delete, not ObjectCreated"]);
  });

  test("unwraps SQS messages, keeps their message ids and skips s3:TestEvent", () => {
    const parsed = parseEvent({
      Records: [
        { eventSource: "aws:sqs", messageId: "m1", body: JSON.stringify(s3Notification("b", KEY)) },
        {
          eventSource: "aws:sqs",
          messageId: "m2",
          body: JSON.stringify({ Event: "s3:TestEvent", Bucket: "b" }),
        },
      ],
    });
    expect(parsed.source).toBe("sqs");
    expect(parsed.objects).toEqual([{ bucket: "b", key: KEY, size: 0, messageId: "m1" }]);
    expect(parsed.skipped).toEqual(["SQS message m2 is an s3:TestEvent"]);
  });

  test("reads EventBridge Object Created events", () => {
    const parsed = parseEvent({
      "detail-type": "Object Created",
      source: "aws.s3",
      detail: { bucket: { name: "b" }, object: { key: encodeS3Key(KEY), size: 5, etag: "e1" } },
    });
    expect(parsed).toEqual({
      source: "eventbridge",
      objects: [{ bucket: "b", key: KEY, etag: "e1", size: 5 }],
      skipped: [],
    });
  });

  test.each([
    ["a string", "nope"],
    ["an object without Records", { foo: 1 }],
    ["a record without s3", { Records: [{ eventName: "ObjectCreated:Put" }] }],
    ["an SQS body that is not JSON", { Records: [{ eventSource: "aws:sqs", messageId: "m", body: "{" }] }],
    ["an EventBridge event without an object", { "detail-type": "Object Created", detail: {} }],
  ])("rejects %s with EventShapeError", (_name, event) => {
    expect(() => parseEvent(event)).toThrow(EventShapeError);
  });
});
