// Decides the function's IAM requests with @cloud-copilot/iam-simulate (identity and resource
// policies, conditions), an evaluator we did not write, against the stack's resolved policies.
import { type EvaluationResult, runSimulation } from "@cloud-copilot/iam-simulate";
import type { IamRequest, Policy, StackPolicies } from "./iam-model.ts";

/** What the evaluator decided, and the context keys it left out because it does not know them. */
export interface Verdict {
  readonly result: EvaluationResult;
  readonly ignoredContextKeys: readonly string[];
}

/**
 * Evaluates `request` with @cloud-copilot/iam-simulate against the role's policies and the
 * resource's policy (the bucket policy, or the key policy). The evaluator drops context keys such
 * as `kms:EncryptionContext:aws:rds:dbc-id` (it matches only `/` variables, like
 * `aws:PrincipalTag/…`, against IAM's `kms:EncryptionContext:${EncryptionContextKey}`), so
 * conditions on such keys are decided first, on the statements themselves ({@link bindColonConditions}).
 * @throws Error when the resource has no policy in the model, or the evaluator refuses the input.
 */
export async function evaluate(request: IamRequest, stack: StackPolicies): Promise<Verdict> {
  const bucket = /^arn:aws:s3:::([^/]+)/.exec(request.resource)?.[1];
  const resourcePolicy =
    bucket === undefined ? stack.keyPolicies[request.resource] : stack.buckets[bucket]?.policy;
  if (resourcePolicy === undefined) throw new Error(`the model has no policy for ${request.resource}`);
  const outcome = await runSimulation(
    {
      request: {
        principal: stack.principal,
        action: request.action,
        resource: { resource: request.resource, accountId: stack.account },
        contextVariables: { ...request.context },
      },
      identityPolicies: stack.identityPolicies.map(({ name, policy }) => ({
        name,
        policy: bindColonConditions(policy, request.context),
      })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: bindColonConditions(resourcePolicy, request.context),
    },
    {},
  );
  if (outcome.resultType === "error")
    throw new Error(`iam-simulate refused the input: ${JSON.stringify(outcome.errors)}`);
  const detail = outcome.resultType === "single" ? outcome.result : outcome.results[0];
  return { result: outcome.overallResult, ignoredContextKeys: detail?.ignoredContextKeys ?? [] };
}

/** Whether a condition key is one the evaluator drops: more colons than `service:name`. */
export const isColonKey = (key: string): boolean => key.split(":").length > 2;

/**
 * The policy with its conditions on colon keys decided against `context`: a statement whose
 * condition holds keeps its other conditions; one whose condition fails is removed, as it does not
 * apply to the request. Only `StringEquals` is decided here.
 * @throws Error for another operator on such a key.
 */
export function bindColonConditions(
  policy: Policy,
  context: Readonly<Record<string, string | string[]>>,
): Policy {
  const given = new Map(Object.entries(context).map(([key, value]) => [key.toLowerCase(), value]));
  const statements = [policy.Statement].flat().flatMap((statement) => {
    const conditions = (statement.Condition ?? {}) as Record<string, Record<string, unknown>>;
    const kept: Record<string, Record<string, unknown>> = {};
    for (const [operator, entries] of Object.entries(conditions)) {
      for (const [key, expected] of Object.entries(entries)) {
        if (!isColonKey(key)) {
          kept[operator] = { ...kept[operator], [key]: expected };
          continue;
        }
        if (operator !== "StringEquals")
          throw new Error(`${operator} on ${key} is not decided by this model`);
        const value = given.get(key.toLowerCase());
        if (typeof value !== "string" || ![expected].flat().includes(value)) return [];
      }
    }
    const { Condition: _, ...rest } = statement;
    return [Object.keys(kept).length === 0 ? rest : { ...rest, Condition: kept }];
  });
  return { ...policy, Statement: statements };
}
