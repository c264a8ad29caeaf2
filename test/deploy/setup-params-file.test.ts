/**
 * The packaging `npm run package` runs accepts the file `das-decrypt setup` writes: setup, run as
 * its own process in this folder against the RDS answers moto recorded, writes params/<stage>.json,
 * and `serverless package --stage <stage>` (no --param, no --region) packages the stack with the
 * cluster's resource id, KMS key and Kinesis stream, in the cluster's region.
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, rmdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "vitest";
import { ROOT, runProcess } from "../cli/cli-harness.ts";
import { RECORDED_ACCOUNT, RECORDED_REGION, startRecordedRds } from "../cli/setup-rds.ts";
import { packageTemplate } from "./packaged.ts";

const STAGE = `setup-test-${process.pid}`;
const RESOURCE_ID = "cluster-P74MFUJBI3PYA2N5L22YVVX3VY";
const KEY_ARN = `arn:aws:kms:${RECORDED_REGION}:${RECORDED_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const STREAM_ARN = `arn:aws:kinesis:${RECORDED_REGION}:${RECORDED_ACCOUNT}:stream/aws-rds-das-${RESOURCE_ID}`;

interface Statement {
  Sid?: string;
  Action: string[];
  Resource: unknown;
  Condition?: unknown;
}

test("serverless package --stage <stage> packages the stack from the file setup wrote", async () => {
  const rds = await startRecordedRds();
  const scratch = await mkdtemp(join(tmpdir(), "das-setup-package-"));
  const file = join(ROOT, "params", `${STAGE}.json`);
  const hadParams = existsSync(join(ROOT, "params"));
  try {
    const ran = await runProcess(
      ["setup", "--cluster", "audit-aurora", "--stage", STAGE, "--bucket", "das-decrypt-setup-example"],
      {
        PATH: process.env.PATH,
        HOME: scratch,
        AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
        AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        AWS_REGION: RECORDED_REGION,
        AWS_CONFIG_FILE: join(scratch, "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE: join(scratch, "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED: "true",
        AWS_ENDPOINT_URL_RDS: rds.endpoint,
      },
    );
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stderr).toContain(
      `Wrote params/${STAGE}.json. Deploy with: npx serverless deploy --stage ${STAGE}\n`,
    );

    const packaged = join(scratch, "package");
    const template = packageTemplate(packaged, STAGE, {});
    const resources = template.Resources;
    const environment = resources.DecryptLambdaFunction?.Properties.Environment as
      | { Variables: Record<string, string> }
      | undefined;
    const variables = environment?.Variables ?? {};
    expect(variables.DAS_RESOURCE_ID).toBe(RESOURCE_ID);
    const policies = resources.IamRoleLambdaExecution?.Properties.Policies as {
      PolicyDocument: { Statement: Statement[] };
    }[];
    const decrypt = policies
      .flatMap((policy) => policy.PolicyDocument.Statement)
      .find((statement) => statement.Sid === "DecryptDasDataKeysOfClusters");
    expect(decrypt).toEqual({
      Sid: "DecryptDasDataKeysOfClusters",
      Effect: "Allow",
      Action: ["kms:Decrypt"],
      Resource: KEY_ARN,
      Condition: { StringEquals: { "kms:EncryptionContext:aws:rds:dbc-id": [RESOURCE_ID] } },
    });
    expect(resources.DasFirehose?.Properties.KinesisStreamSourceConfiguration).toMatchObject({
      KinesisStreamARN: STREAM_ARN,
    });
    expect(resources.DasBucket?.Properties.BucketName).toBe("das-decrypt-setup-example");
    // provider.region came from the file: the Firehose reads the stream in its own region.
    const state = JSON.parse(readFileSync(join(packaged, "serverless-state.json"), "utf8")) as {
      service: { provider: { region: string } };
    };
    expect(state.service.provider.region).toBe(RECORDED_REGION);
  } finally {
    await rds.stop();
    await rm(file, { force: true });
    if (!hadParams) await rmdir(join(ROOT, "params")).catch(() => undefined);
    await rm(scratch, { recursive: true, force: true });
  }
}, 300_000);
