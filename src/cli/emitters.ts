import { InvokeCommand, type LambdaClient } from "@aws-sdk/client-lambda";
import { AwsCallError, DasDecryptError } from "../config/errors.ts";
import type { DecryptHandler } from "../lambda/handler.ts";
import { s3NotificationOf } from "../lambda/s3-notification.ts";
import type { ListedObject } from "./list-raw-objects.ts";

/** An object that could not be sent (or, with `--local`, decrypted), and why. */
export interface EmitFailure {
  readonly object: ListedObject;
  readonly error: unknown;
}

/** Sends the S3 events of a batch of objects somewhere that decrypts them. */
export interface Emitter {
  /**
   * Resolves once the batch is handed over (local: decrypted; remote: accepted for async invoke),
   * with the objects of the batch that failed, each once.
   * @throws when the batch as a whole could not be handed over.
   */
  emit(objects: readonly ListedObject[]): Promise<EmitFailure[]>;
}

/** Runs the same handler code in this process, one S3 notification per batch. */
export function localEmitter(handler: DecryptHandler): Emitter {
  return {
    async emit(objects) {
      try {
        await handler(s3NotificationOf([...objects]), { getRemainingTimeInMillis: () => 15 * 60_000 });
        return [];
      } catch (error) {
        return failuresOf(error, objects);
      }
    },
  };
}

/**
 * The objects a handler error is about: it throws one object's error as it is, and several as one
 * error whose cause lists them; each names its object. An error that names none (a bad event)
 * is every object's that has no error of its own.
 */
function failuresOf(error: unknown, objects: readonly ListedObject[]): EmitFailure[] {
  const errors =
    error instanceof DasDecryptError && error.key === undefined && Array.isArray(error.cause)
      ? (error.cause as unknown[])
      : [error];
  const byObject = new Map<ListedObject, unknown>();
  let unplaced: unknown;
  for (const one of errors) {
    const object =
      one instanceof DasDecryptError
        ? objects.find((o) => o.key === one.key && o.bucket === one.bucket)
        : undefined;
    if (object === undefined) unplaced ??= one;
    else byObject.set(object, one);
  }
  return objects.flatMap((object) => {
    const failure = byObject.has(object) ? byObject.get(object) : unplaced;
    return failure === undefined ? [] : [{ object, error: failure }];
  });
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
      const answer = await lambda
        .send(
          new InvokeCommand({
            FunctionName: functionName,
            InvocationType: "Event",
            Payload: Buffer.from(JSON.stringify(s3NotificationOf([...objects]))),
          }),
        )
        .catch((error: unknown) => {
          throw new AwsCallError("lambda:InvokeFunction", error);
        });
      if (answer.StatusCode !== 202)
        throw new DasDecryptError(`Lambda answered ${answer.StatusCode} to an async invoke (202 expected)`);
      return [];
    },
  };
}
