/** The S3 notification S3 sends for a new object: one record, key URL-encoded with `+` for spaces. */
export function s3Notification(bucket: string, key: string, etag = "", size = 0): { Records: unknown[] } {
  return s3NotificationOf([{ bucket, key, etag, size }]);
}

/** One S3 notification naming several objects (S3 itself sends one per object; replays may batch). */
export function s3NotificationOf(objects: { bucket: string; key: string; etag?: string; size?: number }[]): {
  Records: unknown[];
} {
  return {
    Records: objects.map(({ bucket, key, etag = "", size = 0 }) => ({
      eventVersion: "2.1",
      eventSource: "aws:s3",
      eventTime: new Date().toISOString(),
      eventName: "ObjectCreated:Put",
      s3: {
        s3SchemaVersion: "1.0",
        configurationId: "das-decrypt",
        bucket: { name: bucket, arn: `arn:aws:s3:::${bucket}` },
        object: { key: encodeS3Key(key), size, eTag: etag.replace(/"/g, ""), sequencer: "0" },
      },
    })),
  };
}

/** Encodes a key as S3 does in notifications: URL-encoding, `+` for spaces, `/` kept. */
export function encodeS3Key(key: string): string {
  return encodeURIComponent(key).replace(/%20/g, "+").replace(/%2F/g, "/");
}
