// The Security Lake parameters as deploy/stack-config.cjs renders them: each mistake is one line that
// names the parameter, and valid settings become the function's SECURITY_LAKE_* variables and one
// statement: writes under ext/<source>/, or AssumeRole of the provider role. cfn-schema.test.ts
// checks the packaged result against CloudFormation's schemas, security-lake-requests.test.ts the
// statements against the function's own requests.
import { describe, expect, test } from "vitest";
import { loadConfig } from "../../src/config/config.ts";
import { configWith, problemsWith, type StackConfig } from "./stack-config-harness.ts";

const BUCKET = "aws-security-data-lake-eu-west-1-4f2a9c7e1b3d";
const ROLE = "arn:aws:iam::444455556666:role/AmazonSecurityLake-Provider-das-decrypt-eu-west-1";
const EXTERNAL_ID = "das-decrypt@111122223333:audit";

const badBucket = (name: string) =>
  `Parameter securityLakeBucket must be the name of the Security Lake bucket (an S3 bucket name: 3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit, not an IP address), or empty for no Security Lake output, got "${name}"`;
const badSource = (name: string) =>
  `Parameter securityLakeSource must be the custom source's name as registered in Security Lake (1 to 64 letters, digits, - and _), or empty for das-decrypt, got "${name}"`;
const badRole = (arn: string) =>
  `Parameter securityLakeRoleArn must be the ARN of the provider role Security Lake made for the source (arn:aws:iam::<account>:role/AmazonSecurityLake-Provider-<source>-<region>), or empty to write with the function's role, got "${arn}"`;
const badExternalId = (id: string) =>
  `Parameter securityLakeExternalId must be the source's external id, 2 to 1224 letters, digits and any of _+=,.@:/- (as STS accepts it), got "${id}"`;
const needsBucket = (name: string) =>
  `Parameter ${name} needs securityLakeBucket: without it nothing is written to Security Lake`;
const NEEDS_ROLE =
  "Parameter securityLakeExternalId needs securityLakeRoleArn: it is sent only when the function assumes the provider role";

/** A mistake, and the lines that name it. */
const MISTAKES: [Record<string, string>, string[]][] = [
  ...[
    "Aws-Security-Data-Lake",
    "ab",
    "a".repeat(64),
    "-lake",
    "lake.",
    "my..lake",
    "my_lake",
    "192.168.10.20",
    "xn--lake",
    "sthree-lake",
    "lake-s3alias",
    "lake--ol-s3",
    "s3://aws-security-data-lake-eu-west-1-4f2a9c7e1b3d/ext/",
    "arn:aws:s3:::aws-security-data-lake-eu-west-1-4f2a9c7e1b3d",
  ].map((name): [Record<string, string>, string[]] => [{ securityLakeBucket: name }, [badBucket(name)]]),
  ...["das decrypt", "das/decrypt", "das.decrypt", "s".repeat(65)].map(
    (name): [Record<string, string>, string[]] => [
      { securityLakeBucket: BUCKET, securityLakeSource: name },
      [badSource(name)],
    ],
  ),
  ...[
    "AmazonSecurityLake-Provider-das-decrypt-eu-west-1",
    "arn:aws:iam::4444:role/AmazonSecurityLake-Provider-das-decrypt-eu-west-1",
    "arn:aws:iam::444455556666:user/das-decrypt",
    "arn:aws:sts::444455556666:assumed-role/AmazonSecurityLake-Provider-das-decrypt-eu-west-1/s",
    "arn:aws:iam::444455556666:role/",
  ].map((arn): [Record<string, string>, string[]] => [
    { securityLakeBucket: BUCKET, securityLakeRoleArn: arn },
    [badRole(arn)],
  ]),
  ...["x", "has space", "semi;colon", "e".repeat(1225)].map((id): [Record<string, string>, string[]] => [
    { securityLakeBucket: BUCKET, securityLakeRoleArn: ROLE, securityLakeExternalId: id },
    [badExternalId(id)],
  ]),
  [{ securityLakeBucket: BUCKET, securityLakeExternalId: EXTERNAL_ID }, [NEEDS_ROLE]],
  [{ securityLakeSource: "das-decrypt" }, [needsBucket("securityLakeSource")]],
  [{ securityLakeRoleArn: ROLE }, [needsBucket("securityLakeRoleArn")]],
  [
    { securityLakeRoleArn: ROLE, securityLakeExternalId: EXTERNAL_ID },
    [needsBucket("securityLakeRoleArn"), needsBucket("securityLakeExternalId")],
  ],
  // One line per parameter: what is wrong with its value comes first.
  [
    { securityLakeSource: "das decrypt", securityLakeExternalId: "x" },
    [badSource("das decrypt"), badExternalId("x")],
  ],
];

describe("each mistake is one line naming the parameter", () => {
  test.each(MISTAKES)("%j", async (params, lines) => {
    expect(await problemsWith(params)).toEqual(lines);
    await expect(configWith(params)).rejects.toThrow(lines.join("\n"));
  });

  test.each([
    [{ securityLakeBucket: BUCKET }],
    [{ securityLakeBucket: "abc" }],
    [{ securityLakeBucket: `l${"a".repeat(61)}e` }],
    [{ securityLakeBucket: "lake.example.com" }],
    [{ securityLakeBucket: BUCKET, securityLakeSource: "Das_decrypt-2" }],
    [{ securityLakeBucket: BUCKET, securityLakeSource: "s".repeat(64) }],
    [{ securityLakeBucket: BUCKET, securityLakeRoleArn: ROLE }],
    [
      {
        securityLakeBucket: BUCKET,
        securityLakeRoleArn: "arn:aws:iam::444455556666:role/service-role/Lake+=,.@_-1",
      },
    ],
    [{ securityLakeBucket: BUCKET, securityLakeRoleArn: ROLE.replace("arn:aws:", "arn:aws-us-gov:") }],
    [{ securityLakeBucket: BUCKET, securityLakeRoleArn: ROLE, securityLakeExternalId: EXTERNAL_ID }],
    [{ securityLakeBucket: BUCKET, securityLakeRoleArn: ROLE, securityLakeExternalId: "Az09_+=,.@:/-" }],
    [{ securityLakeBucket: BUCKET, securityLakeRoleArn: ROLE, securityLakeExternalId: "e".repeat(1224) }],
  ])("%j is valid", async (params) => {
    expect(await problemsWith(params)).toEqual([]);
  });
});

/** The function's configuration from the environment the stack gives it, as Lambda would run it. */
function functionConfig(config: StackConfig) {
  const env = Object.fromEntries(
    Object.entries(config.environment).map(([name, value]) => [
      name,
      typeof value === "string"
        ? value
        : name === "SECURITY_LAKE_ACCOUNT_ID"
          ? "111122223333"
          : "arn:aws:kms:eu-west-1:111122223333:key/6f1c2d3e-4a5b-4c6d-8e7f-90a1b2c3d4e5",
    ]),
  );
  return loadConfig({ ...env, AWS_REGION: "eu-west-1" });
}

describe("the function's environment", () => {
  test("empty securityLakeBucket (the default): no SECURITY_LAKE_* variable and no permission naming a lake or a role", async () => {
    const config = await configWith({});
    expect(Object.keys(config.environment).filter((name) => name.startsWith("SECURITY_LAKE_"))).toEqual([]);
    expect(JSON.stringify(config.iamStatements)).not.toMatch(/sts:|SecurityLake|\/ext\//);
    expect(functionConfig(config).securityLake).toBeUndefined();
  });

  test("the bucket alone: the default source das-decrypt, and the stack's own account for the keys", async () => {
    const config = await configWith({ securityLakeBucket: BUCKET });
    expect(config.environment).toMatchObject({
      SECURITY_LAKE_BUCKET: BUCKET,
      SECURITY_LAKE_SOURCE: "das-decrypt",
      SECURITY_LAKE_ACCOUNT_ID: { Ref: "AWS::AccountId" },
    });
    expect(config.environment).not.toHaveProperty("SECURITY_LAKE_ROLE_ARN");
    expect(config.environment).not.toHaveProperty("SECURITY_LAKE_EXTERNAL_ID");
  });

  test("every variable reaches the function, which reads them as the stack meant (src/config/config.ts)", async () => {
    const config = await configWith({
      securityLakeBucket: BUCKET,
      securityLakeSource: "das-decrypt-aurora",
      securityLakeRoleArn: ROLE,
      securityLakeExternalId: EXTERNAL_ID,
    });
    expect(functionConfig(config).securityLake).toEqual({
      bucket: BUCKET,
      source: "das-decrypt-aurora",
      accountId: "111122223333",
      region: "eu-west-1",
      roleArn: ROLE,
      externalId: EXTERNAL_ID,
    });
  });

  test("a source or role the stack refuses, the function would refuse at cold start too", async () => {
    const valid = await configWith({ securityLakeBucket: BUCKET, securityLakeRoleArn: ROLE });
    for (const [name, value] of [
      ["SECURITY_LAKE_SOURCE", "das decrypt"],
      ["SECURITY_LAKE_ROLE_ARN", "AmazonSecurityLake-Provider-das-decrypt-eu-west-1"],
    ] as const) {
      const config = { ...valid, environment: { ...valid.environment, [name]: value } };
      expect(() => functionConfig(config), name).toThrow(name);
    }
  });
});

describe("the function's permission on the lake", () => {
  const lakeStatements = (config: StackConfig) =>
    config.iamStatements.filter((statement) => /SecurityLake/.test(JSON.stringify(statement)));

  test("without a provider role: PutObject and AbortMultipartUpload under ext/<source>/ of the lake bucket, nothing else", async () => {
    const config = await configWith({ securityLakeBucket: BUCKET, securityLakeSource: "das-decrypt-aurora" });
    expect(lakeStatements(config)).toEqual([
      {
        Sid: "WriteSecurityLakeFiles",
        Effect: "Allow",
        Action: ["s3:PutObject", "s3:AbortMultipartUpload"],
        Resource: [{ "Fn::Sub": `arn:\${AWS::Partition}:s3:::${BUCKET}/ext/das-decrypt-aurora/*` }],
      },
    ]);
    expect(JSON.stringify(config.iamStatements)).not.toContain("sts:");
  });

  test("with a provider role: AssumeRole of that role only, and no statement on the lake bucket", async () => {
    const config = await configWith({ securityLakeBucket: BUCKET, securityLakeRoleArn: ROLE });
    expect(lakeStatements(config)).toEqual([
      {
        Sid: "AssumeSecurityLakeProviderRole",
        Effect: "Allow",
        Action: ["sts:AssumeRole"],
        Resource: [ROLE],
      },
    ]);
    expect(JSON.stringify(config.iamStatements)).not.toContain(BUCKET);
  });

  test("with its external id: AssumeRole only when the call carries that external id", async () => {
    const config = await configWith({
      securityLakeBucket: BUCKET,
      securityLakeRoleArn: ROLE,
      securityLakeExternalId: EXTERNAL_ID,
    });
    expect(lakeStatements(config)).toEqual([
      {
        Sid: "AssumeSecurityLakeProviderRole",
        Effect: "Allow",
        Action: ["sts:AssumeRole"],
        Resource: [ROLE],
        Condition: { StringEquals: { "sts:ExternalId": EXTERNAL_ID } },
      },
    ]);
    expect(JSON.stringify(config.iamStatements)).not.toContain(BUCKET);
  });
});
