// The function's PutEvents as IAM sees them: recorded inside its EventBridge client, turned into the
// IAM request(s) EventBridge authorizes, and decided by @cloud-copilot/iam-simulate against the
// role's policies. Beside test/support/iam-model.ts, which maps the S3 and KMS commands.
import type { EventBridgeClient, PutEventsCommandInput } from "@aws-sdk/client-eventbridge";
import { runSimulation } from "@cloud-copilot/iam-simulate";
import type { Verdict } from "../support/iam-evaluate.ts";
import type { IamRequest, StackPolicies } from "../support/iam-model.ts";

/** A PutEvents the client sent: each entry's bus (unset: the default bus), source and detail-type. */
export interface SentPutEvents {
  readonly entries: readonly { bus?: string; source?: string; detailType?: string }[];
}

/**
 * Adds a middleware to `client` (step `initialize`, where the command's input is as the caller gave
 * it) that appends every PutEvents to `into`: names only, never an entry's detail.
 */
export function recordPutEvents(client: EventBridgeClient, into: SentPutEvents[]): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === "PutEventsCommand") {
        const { Entries = [] } = args.input as PutEventsCommandInput;
        into.push({
          entries: Entries.map((entry) => ({
            ...(entry.EventBusName === undefined ? {} : { bus: entry.EventBusName }),
            ...(entry.Source === undefined ? {} : { source: entry.Source }),
            ...(entry.DetailType === undefined ? {} : { detailType: entry.DetailType }),
          })),
        });
      }
      return next(args);
    },
    { step: "initialize", name: "recordPutEvents" },
  );
}

/**
 * The IAM requests of a PutEvents: `events:PutEvents` on each bus its entries name (by name or ARN;
 * none: the account's default bus), with `events:source` and `events:detail-type` holding the
 * values of that bus's entries (multivalued keys, ArrayOfString in the Service Authorization
 * Reference), and `aws:SecureTransport` true as on AWS's https endpoints.
 */
export function putEventsRequests(sent: SentPutEvents, stack: StackPolicies): IamRequest[] {
  const byBus = new Map<string, SentPutEvents["entries"][number][]>();
  for (const entry of sent.entries) {
    const name = entry.bus ?? "default";
    const arn = name.startsWith("arn:")
      ? name
      : `arn:aws:events:${stack.region}:${stack.account}:event-bus/${name}`;
    byBus.set(arn, [...(byBus.get(arn) ?? []), entry]);
  }
  const values = (list: (string | undefined)[]) => [
    ...new Set(list.filter((value): value is string => value !== undefined)),
  ];
  return [...byBus].map(([resource, entries]) => {
    const sources = values(entries.map((entry) => entry.source));
    const detailTypes = values(entries.map((entry) => entry.detailType));
    return {
      via: "PutEvents",
      action: "events:PutEvents",
      resource,
      context: {
        "aws:SecureTransport": "true",
        ...(sources.length === 0 ? {} : { "events:source": sources }),
        ...(detailTypes.length === 0 ? {} : { "events:detail-type": detailTypes }),
      },
    };
  });
}

/**
 * Decides a request on an event bus of the account. A bus has no resource policy unless one is put
 * on it (the stack puts none): the role's policies decide alone.
 * @throws Error when the evaluator refuses the input.
 */
export async function evaluateOnBus(request: IamRequest, stack: StackPolicies): Promise<Verdict> {
  const outcome = await runSimulation(
    {
      request: {
        principal: stack.principal,
        action: request.action,
        resource: { resource: request.resource, accountId: stack.account },
        contextVariables: { ...request.context },
      },
      identityPolicies: stack.identityPolicies,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: undefined,
    },
    {},
  );
  if (outcome.resultType === "error")
    throw new Error(`iam-simulate refused the input: ${JSON.stringify(outcome.errors)}`);
  const detail = outcome.resultType === "single" ? outcome.result : outcome.results[0];
  return { result: outcome.overallResult, ignoredContextKeys: detail?.ignoredContextKeys ?? [] };
}
