// deploy/stack-config.cjs run as osls runs it, on parameters given here: a pretend deploy's
// variables, no AWS, no packaging. Shared by the tests of the stack's parameters and parts.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/** What the stack's CloudFormation is made of; properties are untyped JSON the tests check. */
export type CfnResource = {
  Type: string;
  // biome-ignore lint/suspicious/noExplicitAny: reading arbitrary CloudFormation JSON
  Properties: Record<string, any>;
  DependsOn?: string[];
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
};

export type StackConfig = {
  bucketName: string;
  outputBucket: string;
  reservedConcurrency: number | null;
  environment: Record<string, unknown>;
  iamStatements: { Sid?: string; Action?: string[]; Resource?: unknown; Condition?: unknown }[];
  events: unknown[];
  resources: { Resources: Record<string, CfnResource>; Outputs: Record<string, { Value: unknown }> };
};

const build = require("../../deploy/stack-config.cjs") as ((input: {
  resolveVariable: (name: string) => Promise<unknown>;
}) => Promise<StackConfig>) & {
  checkParams: (params: Record<string, string>) => string[];
  readParams: (readParam: (name: string) => Promise<unknown>) => Promise<Record<string, string>>;
};

/** Valid parameters: those serverless.yml defaults to, with a resource id and DAS key. */
export const BASE: Record<string, string> = {
  dasResourceId: "cluster-P74MFUJBI3PYA2N5L22YVVX3VY",
  dasKmsKeyArn: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
  existingBucket: "false",
  rawPrefix: "raw/",
  outputPrefix: "decrypted/",
  quarantinePrefix: "quarantine/",
  outputFormat: "events",
  outputCompression: "gzip",
  includeHeartbeats: "false",
  objectEvents: "true",
  streamSilenceMinutes: "30",
};

/** The bucket the stack names when bucketName is empty, at the pretend deploy's stage "prod". */
export const GENERATED_BUCKET = "das-decrypt-prod-111122223333-eu-west-1";

/**
 * Resolves `param:x, ""` from the given params, and the stage/account/region of a pretend deploy;
 * `asked` records what was resolved, in order.
 */
export function configWith(
  params: Record<string, string>,
  asked: string[] = [],
  stage = "prod",
): Promise<StackConfig> {
  const values: Record<string, string> = { ...BASE, ...params };
  return build({
    resolveVariable: async (expression) => {
      asked.push(expression);
      const [source, name] = expression.replace(/, "".*$/, "").split(":");
      if (source === "param") return values[name ?? ""] ?? "";
      return { "sls:stage": stage, "aws:accountId": "111122223333", "aws:region": "eu-west-1" }[expression];
    },
  });
}

/** The problems checkParams finds in BASE with these changes. */
export async function problemsWith(params: Record<string, string>): Promise<string[]> {
  const values: Record<string, string> = { ...BASE, ...params };
  return build.checkParams(await build.readParams(async (name) => values[name]));
}
