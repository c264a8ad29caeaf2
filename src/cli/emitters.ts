import { InvokeCommand, type LambdaClient } from "@aws-sdk/client-lambda";
import type { DecryptHandler } from "../handler.ts";
import { s3NotificationOf } from "../s3-notification.ts";
import type { ListedObject } from "./list-raw-objects.ts";

/** Sends the S3 events of a batch of objects somewhere that decrypts them. */
export interface Emitter {
  /** Resolves once the batch is handed over (local: decrypted; remote: accepted for async invoke). */
  emit(objects: readonly ListedObject[]): Promise<void>;
}

/** Runs the same handler code in this process, one S3 notification per batch. */
export function localEmitter(handler: DecryptHandler): Emitter {
  return {
    async emit(objects) {
      await handler(s3NotificationOf([...objects]), { getRemainingTimeInMillis: () => 15 * 60_000 });
    },
  };
}

/**
 * Invokes the deployed function asynchronously (`InvocationType: Event`), as S3 itself would, at
 * most `ratePerSecond` invocations a second. Lambda's async retries and on-failure destination then
 * apply to replays exactly as to live notifications.
 */
export function lambdaEmitter(lambda: LambdaClient, functionName: string, ratePerSecond: number): Emitter {
  const interval = 1000 / ratePerSecond;
  let next = 0;
  return {
    async emit(objects) {
      const now = Date.now();
      const at = Math.max(now, next);
      next = at + interval;
      if (at > now) await new Promise((resolve) => setTimeout(resolve, at - now));
      const answer = await lambda.send(
        new InvokeCommand({
          FunctionName: functionName,
          InvocationType: "Event",
          Payload: Buffer.from(JSON.stringify(s3NotificationOf([...objects]))),
        }),
      );
      if (answer.StatusCode !== 202)
        throw new Error(`Lambda answered ${answer.StatusCode} to an async invoke`);
    },
  };
}
