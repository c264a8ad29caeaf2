// biome-ignore-all lint/suspicious/noTemplateCurlyInString: CloudFormation and serverless variables are literal text here
/**
 * resources/athena.yml as `serverless package` (stage `ci`) puts it into the stack: every variable
 * resolved, the same columns and queries, names and locations that match the function's output.
 */
import { beforeAll, describe, expect, test } from "vitest";
import { type AthenaTemplate, loadAthenaTemplate } from "../../../src/athena/athena-template.ts";
import { glueColumns } from "../../../src/athena/event-columns.ts";
import { dateProjection, partitionOf } from "../../../src/athena/projection.ts";
import { readTemplate, type Template } from "../../deploy/packaged.ts";

let stack: Template;
let fragment: AthenaTemplate;
beforeAll(() => {
  stack = readTemplate();
  fragment = loadAthenaTemplate();
}, 300_000);

// Template properties are untyped JSON; the assertions below are what checks their shape.
const props = (id: string): Record<string, unknown> => {
  const found = stack.Resources[id];
  if (found === undefined) throw new Error(`no ${id} in the packaged template`);
  return found.Properties;
};
const at = (value: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], value);

describe("the packaged stack holds the Athena resources with every variable resolved", () => {
  test("every resource of the fragment is in the stack, and no ${self:…} / ${param:…} is left in them", () => {
    for (const [id, resource] of Object.entries(fragment.resources)) {
      expect(stack.Resources[id]?.Type).toBe(resource.Type);
      expect(JSON.stringify(stack.Resources[id])).not.toMatch(/\$\{(self|param|sls|opt):/);
    }
  });

  test("database and workgroup are named after the stage", () => {
    expect(at(props("AuditDatabase"), "DatabaseInput", "Name")).toBe("das_audit_ci");
    expect(props("AuditWorkGroup").Name).toBe("das-audit-ci");
  });

  test("the table reads the output prefix of the stage's bucket, projected by the Firehose hour", () => {
    const input = props("AuditEventsTable").TableInput as Record<string, unknown>;
    expect(at(input, "StorageDescriptor", "Columns")).toEqual(glueColumns());
    expect(at(input, "StorageDescriptor", "Location")).toBe("s3://das-decrypt-ci-example/decrypted/raw/");
    const projection = dateProjection(input.Parameters as Record<string, string>, "datehour");
    expect(projection).toMatchObject({ bucket: "das-decrypt-ci-example", keyPrefix: "decrypted/raw/" });
    expect(projection.rangeEnd).toBe("NOW");
    // The handler's output key for a Firehose object of that stage lands in a projected partition.
    const outputKey = "decrypted/raw/2026/11/18/22/das-stream-1-2026-11-18-22-30-00-0000.gz";
    expect(partitionOf(projection, outputKey, new Date(Date.UTC(2026, 10, 25)))).toBe("2026/11/18/22");
  });

  test("the workgroup caps scans at 10 GiB and encrypts results with the output's KMS key", () => {
    const configuration = props("AuditWorkGroup").WorkGroupConfiguration;
    expect(at(configuration, "BytesScannedCutoffPerQuery")).toBe(10 * 1024 ** 3);
    expect(at(configuration, "ResultConfiguration")).toEqual({
      OutputLocation: "s3://das-decrypt-ci-example/athena-results/",
      EncryptionConfiguration: {
        EncryptionOption: "SSE_KMS",
        KmsKey: { "Fn::GetAtt": ["OutputEncryptionKey", "Arn"] },
      },
    });
    expect(at(props("DecryptLambdaFunction"), "Environment", "Variables", "OUTPUT_KMS_KEY_ID")).toEqual(
      at(configuration, "ResultConfiguration", "EncryptionConfiguration", "KmsKey"),
    );
  });

  test("the saved queries are those of the fragment, word for word", () => {
    for (const query of fragment.namedQueries) {
      expect(props(query.logicalId)).toEqual({
        Name: query.name,
        Description: query.description,
        Database: { Ref: "AuditDatabase" },
        WorkGroup: { Ref: "AuditWorkGroup" },
        QueryString: query.queryString,
      });
    }
  });

  test("the reader policy grants the workgroup, the table, the events prefix, the results prefix and the key", () => {
    const statements = at(props("AuditReaderPolicy"), "PolicyDocument", "Statement") as {
      Sid: string;
      Action: string | string[];
      Resource: unknown;
      Condition?: unknown;
    }[];
    const bySid = Object.fromEntries(statements.map((statement) => [statement.Sid, statement]));
    const sub = (text: string) => ({ "Fn::Sub": text });
    expect(bySid.ReadTheEvents?.Resource).toEqual(
      sub("arn:${AWS::Partition}:s3:::das-decrypt-ci-example/decrypted/raw/*"),
    );
    expect(bySid.ReadTheEvents?.Action).toBe("s3:GetObject");
    expect(bySid.WriteAndReadResults?.Resource).toEqual(
      sub("arn:${AWS::Partition}:s3:::das-decrypt-ci-example/athena-results/*"),
    );
    expect(bySid.ListTheEventsAndResults?.Condition).toEqual({
      StringLike: { "s3:prefix": ["decrypted/raw/*", "athena-results/*"] },
    });
    expect(bySid.UseTheOutputKey?.Resource).toEqual({ "Fn::GetAtt": ["OutputEncryptionKey", "Arn"] });
    expect(bySid.RunQueriesInTheAuditWorkgroup?.Resource).toEqual(
      sub("arn:${AWS::Partition}:athena:${AWS::Region}:${AWS::AccountId}:workgroup/${AuditWorkGroup}"),
    );
    // "*" only for the list actions that have no resource-level permissions.
    for (const statement of statements) {
      const actions = [statement.Action].flat();
      expect(actions.some((action) => action.endsWith("*"))).toBe(false);
      if (statement.Resource === "*")
        expect(actions.every((action) => /^athena:List/.test(action))).toBe(true);
    }
  });
});
