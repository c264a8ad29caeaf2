import { EventShapeError } from "../config/errors.ts";

/** One S3 object to decrypt, as named by an invocation event. */
export interface ObjectRef {
  readonly bucket: string;
  readonly key: string;
  /** ETag from the notification, when it carries one (without quotes). */
  readonly etag?: string;
  readonly size?: number;
  /** SQS message that carried this reference, for partial batch failure reports. */
  readonly messageId?: string;
}

/** What the event asked for: objects to process and notifications deliberately passed over. */
export interface ParsedEvent {
  readonly source: "s3" | "sqs" | "eventbridge";
  readonly objects: ObjectRef[];
  /** Human-readable reasons for notifications that named no object (e.g. `s3:TestEvent`). */
  readonly skipped: string[];
}

type Json = Record<string, unknown>;

/**
 * Turns an S3 notification, an SQS batch of S3 notifications, or an EventBridge "Object Created"
 * event into object references with decoded keys.
 * @throws EventShapeError when the event is none of these shapes.
 */
export function parseEvent(event: unknown): ParsedEvent {
  if (!isObject(event)) throw new EventShapeError("event is not a JSON object");
  if (event["detail-type"] !== undefined) return parseEventBridge(event);
  const records = event.Records;
  if (!Array.isArray(records)) {
    throw new EventShapeError(
      "event is not an S3 notification, an SQS batch or an EventBridge Object Created event",
    );
  }
  if (records.length > 0 && records.every((r) => isObject(r) && r.eventSource === "aws:sqs")) {
    return parseSqs(records as Json[]);
  }
  const parsed: ParsedEvent = { source: "s3", objects: [], skipped: [] };
  addS3Records(records, parsed);
  return parsed;
}

/** Decodes an S3 notification key: URL-encoded, with `+` for spaces. */
export function decodeS3Key(encoded: string): string {
  return decodeURIComponent(encoded.replace(/\+/g, " "));
}

function parseSqs(messages: Json[]): ParsedEvent {
  const parsed: ParsedEvent = { source: "sqs", objects: [], skipped: [] };
  for (const message of messages) {
    const messageId = typeof message.messageId === "string" ? message.messageId : undefined;
    let body: unknown;
    try {
      body = JSON.parse(String(message.body));
    } catch {
      throw new EventShapeError(`SQS message ${messageId ?? "?"} body is not JSON`);
    }
    if (isObject(body) && body.Event === "s3:TestEvent") {
      parsed.skipped.push(`SQS message ${messageId ?? "?"} is an s3:TestEvent`);
      continue;
    }
    // S3 → SNS → SQS wraps the notification once more in the SNS envelope.
    if (isObject(body) && body.Type === "Notification" && typeof body.Message === "string") {
      body = JSON.parse(body.Message);
    }
    if (isObject(body) && body["detail-type"] !== undefined) {
      const inner = parseEventBridge(body);
      parsed.objects.push(...inner.objects.map((ref) => withMessageId(ref, messageId)));
      parsed.skipped.push(...inner.skipped);
      continue;
    }
    if (!isObject(body) || !Array.isArray(body.Records)) {
      throw new EventShapeError(`SQS message ${messageId ?? "?"} does not carry an S3 notification`);
    }
    const inner: ParsedEvent = { source: "s3", objects: [], skipped: [] };
    addS3Records(body.Records, inner);
    parsed.objects.push(...inner.objects.map((ref) => withMessageId(ref, messageId)));
    parsed.skipped.push(...inner.skipped);
  }
  return parsed;
}

function addS3Records(records: unknown[], into: ParsedEvent): void {
  records.forEach((record, index) => {
    if (!isObject(record) || !isObject(record.s3)) {
      throw new EventShapeError(`Records[${index}] is not an S3 notification record`);
    }
    const eventName = typeof record.eventName === "string" ? record.eventName : "";
    if (!eventName.startsWith("ObjectCreated")) {
      into.skipped.push(`Records[${index}] is ${eventName || "an unnamed event"}, not ObjectCreated`);
      return;
    }
    const bucket = isObject(record.s3.bucket) ? record.s3.bucket.name : undefined;
    const object = isObject(record.s3.object) ? record.s3.object : undefined;
    if (typeof bucket !== "string" || object === undefined || typeof object.key !== "string") {
      throw new EventShapeError(`Records[${index}] lacks s3.bucket.name or s3.object.key`);
    }
    into.objects.push(objectRef(bucket, decodeS3Key(object.key), object.eTag, object.size));
  });
}

function parseEventBridge(event: Json): ParsedEvent {
  const parsed: ParsedEvent = { source: "eventbridge", objects: [], skipped: [] };
  if (event["detail-type"] !== "Object Created") {
    parsed.skipped.push(`EventBridge event is "${String(event["detail-type"])}", not "Object Created"`);
    return parsed;
  }
  const detail = event.detail;
  const bucket = isObject(detail) && isObject(detail.bucket) ? detail.bucket.name : undefined;
  const object = isObject(detail) && isObject(detail.object) ? detail.object : undefined;
  if (typeof bucket !== "string" || object === undefined || typeof object.key !== "string") {
    throw new EventShapeError(
      "EventBridge Object Created event lacks detail.bucket.name or detail.object.key",
    );
  }
  parsed.objects.push(objectRef(bucket, decodeS3Key(object.key), object.etag, object.size));
  return parsed;
}

function objectRef(bucket: string, key: string, etag: unknown, size: unknown): ObjectRef {
  return {
    bucket,
    key,
    ...(typeof etag === "string" && etag !== "" ? { etag: etag.replace(/"/g, "") } : {}),
    ...(typeof size === "number" ? { size } : {}),
  };
}

function withMessageId(ref: ObjectRef, messageId: string | undefined): ObjectRef {
  return messageId === undefined ? ref : { ...ref, messageId };
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
