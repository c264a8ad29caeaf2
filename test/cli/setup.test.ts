/**
 * `das-decrypt setup` against the RDS answers moto recorded (test/fixtures/rds/), served on
 * loopback and parsed by the SDK's own RDS client: the parameters file it writes, and one clear
 * line (exit code non-zero) for each way a database cannot be deployed from.
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { type FakeService, type Ran, runInProcess } from "./cli-harness.ts";
import { RECORDED_ACCOUNT, RECORDED_REGION, rdsRequest, startRecordedRds } from "./setup-rds.ts";

const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const AURORA_ARN = `arn:aws:rds:${RECORDED_REGION}:${RECORDED_ACCOUNT}:cluster:audit-aurora`;
const ORACLE_ARN = `arn:aws:rds:${RECORDED_REGION}:${RECORDED_ACCOUNT}:db:audit-oracle`;
const AURORA_PARAMS = {
  dasResourceId: "cluster-P74MFUJBI3PYA2N5L22YVVX3VY",
  // RDS gave the key's id: the ARN is built from the cluster ARN's partition, region and account.
  dasKmsKeyArn: `arn:aws:kms:${RECORDED_REGION}:${RECORDED_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
  dasKinesisStreamArn: `arn:aws:kinesis:${RECORDED_REGION}:${RECORDED_ACCOUNT}:stream/aws-rds-das-cluster-P74MFUJBI3PYA2N5L22YVVX3VY`,
};
/** The variables the SDK reads that a test sets or removes; everything else stays as it is. */
const AWS_VARIABLES = [
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_PROFILE",
  "AWS_REGION",
  "AWS_DEFAULT_REGION",
  "AWS_CONFIG_FILE",
  "AWS_SHARED_CREDENTIALS_FILE",
  "AWS_EC2_METADATA_DISABLED",
  "AWS_ENDPOINT_URL",
  "AWS_ENDPOINT_URL_RDS",
];

let scratch: string;
let rds: FakeService;
const saved = Object.fromEntries(AWS_VARIABLES.map((name) => [name, process.env[name]]));

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "das-setup-"));
  rds = await startRecordedRds();
});
afterAll(async () => {
  await rds.stop();
  await rm(scratch, { recursive: true, force: true });
});
afterEach(() => {
  rds.received.length = 0;
  for (const [name, value] of Object.entries(saved)) setVariable(name, value);
});

function setVariable(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

/**
 * Runs `das-decrypt <args>` in this process, the SDK pointed at `endpoint` with the given region
 * and static credentials (no profile, no instance metadata); `env` changes that. What it printed
 * must not hold the secret key.
 */
async function setup(
  args: string[],
  env: Record<string, string | undefined> = {},
  endpoint: FakeService = rds,
): Promise<Ran> {
  const shell: Record<string, string | undefined> = {
    AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
    AWS_SECRET_ACCESS_KEY: SECRET,
    AWS_REGION: RECORDED_REGION,
    AWS_CONFIG_FILE: join(scratch, "no-aws-config"),
    AWS_SHARED_CREDENTIALS_FILE: join(scratch, "no-aws-credentials"),
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_ENDPOINT_URL_RDS: endpoint.endpoint,
    ...env,
  };
  for (const name of AWS_VARIABLES) setVariable(name, shell[name]);
  const ran = await runInProcess(["setup", ...args], { ...process.env });
  expect(`${ran.stdout}${ran.stderr}`).not.toContain(SECRET);
  return ran;
}

const fileIn = (name: string) => join(scratch, name);
const readJson = async (path: string) => JSON.parse(await readFile(path, "utf8")) as unknown;

describe("writes the stage's parameters", () => {
  test("--cluster by name: the resource id, the key's ARN built from the cluster's, the stream's ARN and the region", async () => {
    const out = fileIn("by-name.json");
    const ran = await setup(["--cluster", "audit-aurora", "--stage", "prod", "--out", out]);
    expect(ran.code, ran.stderr).toBe(0);
    expect(await readJson(out)).toEqual({
      region: RECORDED_REGION,
      database: AURORA_ARN,
      params: AURORA_PARAMS,
    });
    expect(rds.received.map(rdsRequest)).toEqual([
      { action: "DescribeDBClusters", identifier: "audit-aurora", region: RECORDED_REGION },
    ]);
    expect(ran.stdout).toBe("");
    expect(ran.stderr).toContain(
      "Aurora cluster audit-aurora (aurora-postgresql, eu-west-1): activity stream started, async",
    );
    expect(ran.stderr).toContain(`dasResourceId        ${AURORA_PARAMS.dasResourceId}`);
  });

  test("--cluster by ARN: RDS is asked with the ARN, in the ARN's region whatever AWS_REGION says", async () => {
    const out = fileIn("by-arn.json");
    const ran = await setup(["--cluster", AURORA_ARN, "--out", out], { AWS_REGION: "us-west-2" });
    expect(ran.code, ran.stderr).toBe(0);
    expect(await readJson(out)).toEqual({
      region: RECORDED_REGION,
      database: AURORA_ARN,
      params: AURORA_PARAMS,
    });
    expect(rds.received.map(rdsRequest)).toEqual([
      { action: "DescribeDBClusters", identifier: AURORA_ARN, region: RECORDED_REGION },
    ]);
  });

  test("--instance (RDS for Oracle): the db- resource id, and the key ARN as RDS gave it", async () => {
    const out = fileIn("oracle.json");
    const ran = await setup(["--instance", "audit-oracle", "--stage", "prod", "--out", out]);
    expect(ran.code, ran.stderr).toBe(0);
    expect(await readJson(out)).toEqual({
      region: RECORDED_REGION,
      database: ORACLE_ARN,
      params: {
        dasResourceId: "db-KBKJGYAAF5QT253EYKEI37WBCY",
        dasKmsKeyArn: `arn:aws:kms:${RECORDED_REGION}:${RECORDED_ACCOUNT}:key/0987dcba-09fe-87dc-65ba-ab0987654321`,
        dasKinesisStreamArn: `arn:aws:kinesis:${RECORDED_REGION}:${RECORDED_ACCOUNT}:stream/aws-rds-das-db-KBKJGYAAF5QT253EYKEI37WBCY`,
      },
    });
    expect(rds.received.map((r) => rdsRequest(r).action)).toEqual(["DescribeDBInstances"]);
    expect(ran.stderr).toContain("DB instance audit-oracle (oracle-ee, eu-west-1): activity stream started");
  });

  test("--bucket and --param are written with what RDS gives; --out - prints the file on stdout", async () => {
    const ran = await setup([
      "--cluster",
      "audit-aurora",
      "--bucket",
      "corp-das",
      "--param",
      "existingBucket=true",
      "--param",
      "rawPrefix=das/",
      "--out",
      "-",
    ]);
    expect(ran.code, ran.stderr).toBe(0);
    expect(JSON.parse(ran.stdout)).toEqual({
      region: RECORDED_REGION,
      database: AURORA_ARN,
      params: { bucketName: "corp-das", existingBucket: "true", rawPrefix: "das/", ...AURORA_PARAMS },
    });
    expect(ran.stderr).toContain("Deploy reads these from params/dev.json beside serverless.yml.");
  });

  test("run again on its file, it replaces what RDS gives and keeps the other parameters set there", async () => {
    const out = fileIn("again.json");
    await writeFile(
      out,
      JSON.stringify({
        region: RECORDED_REGION,
        database: AURORA_ARN,
        params: { dasResourceId: "cluster-OLD", memorySize: 3538, outputPrefix: "plain/" },
      }),
    );
    const ran = await setup(["--cluster", "audit-aurora", "--out", out]);
    expect(ran.code, ran.stderr).toBe(0);
    expect(await readJson(out)).toEqual({
      region: RECORDED_REGION,
      database: AURORA_ARN,
      params: { ...AURORA_PARAMS, outputPrefix: "plain/", memorySize: 3538 },
    });
    expect(ran.stderr).toContain(`Updated ${out}.`);
  });

  test("a KMS alias is refused with how to find the key's ARN; given with --param, the file is written", async () => {
    const alias = await startRecordedRds((xml) =>
      xml.replace(/<ActivityStreamKmsKeyId>[^<]*</, "<ActivityStreamKmsKeyId>alias/das-key<"),
    );
    try {
      const out = fileIn("alias.json");
      const refused = await setup(["--cluster", "audit-aurora", "--out", out], {}, alias);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toBe(
        "das-decrypt: RDS names the stream's KMS key alias/das-key: the stack needs the key's ARN (an alias can point elsewhere later)\n" +
          "  Find it: aws kms describe-key --region eu-west-1 --key-id alias/das-key --query KeyMetadata.Arn --output text\n" +
          "  then run setup again with --param dasKmsKeyArn=<that ARN>.\n",
      );
      expect(existsSync(out)).toBe(false);
      const key = "arn:aws:kms:eu-west-1:123456789012:key/5555aaaa-12ab-34cd-56ef-1234567890ab";
      const given = await setup(
        ["--cluster", "audit-aurora", "--out", out, "--param", `dasKmsKeyArn=${key}`],
        {},
        alias,
      );
      expect(given.code, given.stderr).toBe(0);
      expect(await readJson(out)).toMatchObject({ params: { dasKmsKeyArn: key } });
    } finally {
      await alias.stop();
    }
  });
});

describe("where it writes", () => {
  const cwd = process.cwd();
  afterEach(() => process.chdir(cwd));

  test("by default params/<stage>.json in the folder of serverless.yml, and says how to deploy", async () => {
    const service = fileIn("service");
    await mkdir(service, { recursive: true });
    await writeFile(join(service, "serverless.yml"), "service: das-decrypt\n");
    process.chdir(service);
    const ran = await setup(["--cluster", "audit-aurora", "--stage", "audit-prod"]);
    expect(ran.code, ran.stderr).toBe(0);
    expect(await readJson(join(service, "params", "audit-prod.json"))).toMatchObject({
      params: AURORA_PARAMS,
    });
    expect(ran.stderr).toContain(
      "Wrote params/audit-prod.json. Deploy with: npx serverless deploy --stage audit-prod\n",
    );
  });

  test("without serverless.yml here nor --out: exit 2 before RDS is asked", async () => {
    const elsewhere = fileIn("elsewhere");
    await mkdir(elsewhere, { recursive: true });
    process.chdir(elsewhere);
    const ran = await setup(["--cluster", "audit-aurora"]);
    expect(ran.code).toBe(2);
    expect(ran.stderr).toMatch(/^das-decrypt: no serverless\.yml here: run setup in the das-decrypt folder/);
    expect(rds.received).toEqual([]);
    expect(existsSync(join(elsewhere, "params"))).toBe(false);
  });
});

describe("refuses, in one line and what to do, with a non-zero exit and no file", () => {
  const out = () => fileIn("refused.json");
  afterEach(async () => {
    const written = existsSync(out());
    await rm(out(), { force: true });
    expect(written).toBe(false);
  });

  test("a stopped stream: the start-activity-stream command for this cluster", async () => {
    const ran = await setup(["--cluster", "audit-stopped", "--out", out()]);
    expect(ran.code).toBe(1);
    expect(ran.stderr).toBe(
      "das-decrypt: Cluster audit-stopped (aurora-mysql) has no activity stream started (its status: stopped)\n" +
        "  Start it: aws rds start-activity-stream --region eu-west-1 --resource-arn arn:aws:rds:eu-west-1:123456789012:cluster:audit-stopped --mode async --kms-key-id <a KMS key of yours> --apply-immediately\n" +
        "  then run setup again once it is started.\n",
    );
  });

  test("a stream still starting: run again once started", async () => {
    const starting = await startRecordedRds((xml) => xml.replace(">started<", ">starting<"));
    try {
      const ran = await setup(["--cluster", "audit-aurora", "--out", out()], {}, starting);
      expect(ran.code).toBe(1);
      expect(ran.stderr).toContain(
        "has no activity stream started (its status: starting)\n  It is starting:",
      );
    } finally {
      await starting.stop();
    }
  });

  test("no such cluster: its name, the region, and how to list those there", async () => {
    const ran = await setup(["--cluster", "no-such-db", "--out", out()]);
    expect(ran.code).toBe(1);
    expect(ran.stderr).toBe(
      "das-decrypt: No DB cluster no-such-db in eu-west-1\n" +
        '  Check the name and the region (--region, or give the ARN). Those there: aws rds describe-db-clusters --region eu-west-1 --query "DBClusters[].DBClusterIdentifier"\n',
    );
    // The instance of the same name is looked for, to say which flag was meant.
    expect(rds.received.map((r) => rdsRequest(r).action)).toEqual([
      "DescribeDBClusters",
      "DescribeDBInstances",
    ]);
  });

  test("no such instance", async () => {
    const ran = await setup(["--instance", "no-such-db", "--out", out()]);
    expect(ran.code).toBe(1);
    expect(ran.stderr).toMatch(/^das-decrypt: No DB instance no-such-db in eu-west-1\n {2}Check the name/);
  });

  test("an RDS for Oracle instance given to --cluster: use --instance", async () => {
    const ran = await setup(["--cluster", "audit-oracle", "--out", out()]);
    expect(ran.code).toBe(1);
    expect(ran.stderr).toBe(
      "das-decrypt: audit-oracle is a DB instance (oracle-ee), not a cluster\n  Run: das-decrypt setup --instance audit-oracle\n",
    );
  });

  test("an Aurora cluster given to --instance: use --cluster", async () => {
    const ran = await setup(["--instance", "audit-aurora", "--out", out()]);
    expect(ran.code).toBe(1);
    expect(ran.stderr).toBe(
      "das-decrypt: audit-aurora is an Aurora cluster, not a DB instance\n  Run: das-decrypt setup --cluster audit-aurora\n",
    );
  });

  test("an Aurora instance given to --instance: its stream is its cluster's", async () => {
    const ran = await setup(["--instance", "audit-aurora-1", "--out", out()]);
    expect(ran.code).toBe(1);
    expect(ran.stderr).toBe(
      "das-decrypt: audit-aurora-1 is an instance of the Aurora cluster audit-aurora, whose activity stream is the cluster's\n" +
        "  Run: das-decrypt setup --cluster audit-aurora\n",
    );
  });

  test("an instance's ARN given to --cluster: exit 2 before RDS is asked", async () => {
    const ran = await setup(["--cluster", ORACLE_ARN, "--out", out()]);
    expect(ran.code).toBe(2);
    expect(ran.stderr).toMatch(
      /^das-decrypt: --cluster arn:aws:rds:eu-west-1:123456789012:db:audit-oracle is a DB instance's ARN: use --instance\n/,
    );
    expect(rds.received).toEqual([]);
  });

  test("a parameter the deploy would refuse: the deploy's own line", async () => {
    const ran = await setup(["--cluster", "audit-aurora", "--param", "rawPrefix=das", "--out", out()]);
    expect(ran.code).toBe(1);
    expect(ran.stderr).toBe(
      `das-decrypt: These parameters would not deploy, so ${out()} was not written:\n` +
        '  Parameter rawPrefix must be a non-empty key prefix ending in "/", got "das"\n',
    );
  });

  test("a parameter the stack does not have: exit 2 before RDS is asked", async () => {
    const ran = await setup(["--cluster", "audit-aurora", "--param", "rawprefix=das/", "--out", out()]);
    expect(ran.code).toBe(2);
    expect(ran.stderr).toMatch(
      /^das-decrypt: option '--param <name=value>' argument 'rawprefix=das\/' is invalid\. --param rawprefix is not a parameter of the stack/,
    );
    expect(rds.received).toEqual([]);
  });

  test("neither --cluster nor --instance, or both: exit 2 with the usage line", async () => {
    const neither = await setup(["--out", out()]);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toMatch(
      /^das-decrypt: setup needs --cluster <name or ARN> \(Aurora\) or --instance <name or ARN>.*\nUsage: das-decrypt setup \[options\]\n/,
    );
    const both = await setup(["--cluster", "a", "--instance", "b", "--out", out()]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/cannot be used with option '--instance/);
    expect(rds.received).toEqual([]);
  });

  test("no region anywhere: exit 2 naming --region, before RDS is asked", async () => {
    const ran = await setup(["--cluster", "audit-aurora", "--out", out()], { AWS_REGION: undefined });
    expect(ran.code).toBe(2);
    expect(ran.stderr).toBe(
      "das-decrypt: AWS_REGION is not set and no profile gives a region: pass --region <the database's region> (or the database's ARN), or export AWS_REGION\n",
    );
    expect(rds.received).toEqual([]);
  });

  test("no credentials: the SDK's message and what to do", async () => {
    const ran = await setup(["--cluster", "audit-aurora", "--out", out()], {
      AWS_ACCESS_KEY_ID: undefined,
      AWS_SECRET_ACCESS_KEY: undefined,
    });
    expect(ran.code).toBe(1);
    expect(ran.stderr).toMatch(
      /^das-decrypt: rds:DescribeDBClusters failed: CredentialsProviderError: .+\n {2}No AWS credentials were found: set AWS_PROFILE/,
    );
    expect(rds.received).toEqual([]);
  });
});
