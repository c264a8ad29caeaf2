// biome-ignore-all lint/suspicious/noTemplateCurlyInString: serverless, CloudFormation and projection variables are literal text here
import { describe, expect, test } from "vitest";
import { loadAthenaTemplate, namedQuery, resolveValue } from "../../../src/athena/athena-template.ts";
import { EVENT_COLUMNS, glueColumns, PARTITION_COLUMN } from "../../../src/athena/event-columns.ts";
import { dateProjection } from "../../../src/athena/projection.ts";

const template = loadAthenaTemplate();
const resourcesOf = (type: string) => Object.entries(template.resources).filter(([, r]) => r.Type === type);
const VARS = {
  "self:custom.athena.bucket": "audit-bucket",
  "self:custom.athena.eventsPrefix": "decrypted/raw/",
  "self:custom.athena.projectionStart": "2024/01/01/00",
};

describe("resources/athena.yml: the Glue table", () => {
  test("its columns are exactly src/athena/event-columns.ts: names, types, comments, order", () => {
    expect(template.table.columns).toEqual(glueColumns());
  });

  test("column names are lower case and unique, and the partition column is not one of them", () => {
    const names = template.table.columns.map((column) => column.Name);
    expect(names.every((name) => name === name.toLowerCase())).toBe(true);
    expect(new Set(names).size).toBe(EVENT_COLUMNS.length);
    expect(names).not.toContain(PARTITION_COLUMN.name);
  });

  test("is an external GZIP JSON table read with the Hive JSON SerDe, partitioned by datehour", () => {
    const storage = template.table.storageDescriptor;
    expect(storage.SerdeInfo).toEqual({ SerializationLibrary: "org.apache.hive.hcatalog.data.JsonSerDe" });
    expect(storage.InputFormat).toBe("org.apache.hadoop.mapred.TextInputFormat");
    expect(storage.Compressed).toBe(true);
    expect(template.table.partitionKeys.map(({ Name, Type }) => ({ name: Name, type: Type }))).toEqual([
      PARTITION_COLUMN,
    ]);
    expect(template.table.parameters).toMatchObject({ classification: "json", compressionType: "gzip" });
  });

  test("partitions are projected hour by hour over the output prefix: no crawler, no MSCK REPAIR", () => {
    const parameters = Object.fromEntries(
      Object.entries(template.table.parameters).map(([key, value]) => [key, resolveValue(value, VARS)]),
    );
    const projection = dateProjection(parameters, PARTITION_COLUMN.name);
    expect(projection).toEqual({
      column: "datehour",
      bucket: "audit-bucket",
      keyPrefix: "decrypted/raw/",
      keySuffix: "/",
      format: "yyyy/MM/dd/HH",
      rangeStart: "2024/01/01/00",
      rangeEnd: "NOW",
    });
    expect(resolveValue(template.table.storageDescriptor.Location, VARS)).toBe(
      "s3://audit-bucket/decrypted/raw/",
    );
    expect(resourcesOf("AWS::Glue::Crawler")).toEqual([]);
  });
});

describe("resources/athena.yml: the workgroup", () => {
  const [[, workgroup] = ["", { Type: "", Properties: {} }]] = resourcesOf("AWS::Athena::WorkGroup");
  const configuration = workgroup.Properties.WorkGroupConfiguration as Record<string, unknown>;

  test("enforces its settings: results under the stack bucket's results prefix, encrypted, scans capped", () => {
    expect(configuration.EnforceWorkGroupConfiguration).toBe(true);
    expect(configuration.BytesScannedCutoffPerQuery).toBe("${self:custom.athena.bytesScannedCutoffPerQuery}");
    const results = configuration.ResultConfiguration as Record<string, unknown>;
    expect(results.OutputLocation).toBe(
      "s3://${self:custom.athena.bucket}/${self:custom.athena.resultsPrefix}",
    );
    expect(results.EncryptionConfiguration).toMatchObject({
      EncryptionOption: expect.stringMatching(/^SSE_/),
    });
    expect(configuration.EngineVersion).toEqual({ SelectedEngineVersion: "Athena engine version 3" });
  });
});

describe("resources/athena.yml: the saved queries", () => {
  const names = [
    "failed-logins-by-user-and-host",
    "ddl-and-privilege-changes",
    "user-activity-in-time-range",
    "top-statements",
    "activity-outside-business-hours",
    "access-to-table",
  ];

  test("are the six auditor questions", () => {
    expect(template.namedQueries.map((query) => query.name).sort()).toEqual([...names].sort());
  });

  test.each(names)(
    "%s: in the audit database and workgroup, reads the table, bounded by datehour",
    (name) => {
      const query = namedQuery(template, name);
      const properties = template.resources[query.logicalId]?.Properties;
      expect(properties?.Database).toEqual({ Ref: "AuditDatabase" });
      expect(properties?.WorkGroup).toEqual({ Ref: "AuditWorkGroup" });
      expect(query.queryString).toMatch(new RegExp(`\\bFROM ${template.table.name}\\b`));
      expect(query.queryString).toMatch(/WHERE datehour BETWEEN \? AND \?/);
      const parameters = query.queryString.match(/\?/g)?.length ?? 0;
      expect(query.description).toMatch(/Parameters: first datehour; last datehour/);
      expect(query.description.split("Parameters: ")[1]?.split("; ").length).toBe(parameters);
    },
  );

  test("the database and workgroup the queries name are resources of the fragment", () => {
    expect(template.resources.AuditDatabase?.Type).toBe("AWS::Glue::Database");
    expect(template.resources.AuditWorkGroup?.Type).toBe("AWS::Athena::WorkGroup");
    expect(template.resources[template.table.logicalId]?.Properties.DatabaseName).toEqual({
      Ref: "AuditDatabase",
    });
  });
});

describe("resolveValue resolves values as the deployment would", () => {
  test("serverless variables in a plain string; other ${…} text is kept", () => {
    expect(resolveValue("s3://${self:custom.athena.bucket}/x/${datehour}/", VARS)).toBe(
      "s3://audit-bucket/x/${datehour}/",
    );
  });

  test("Fn::Sub: stack names substituted, ${!x} kept as the literal ${x}", () => {
    const value = { "Fn::Sub": "s3://${Bucket}/${self:custom.athena.eventsPrefix}${!datehour}/" };
    expect(resolveValue(value, { ...VARS, Bucket: "b" })).toBe("s3://b/decrypted/raw/${datehour}/");
  });

  test("Fn::Sub with an unescaped ${datehour} is an error, as CloudFormation would reject it", () => {
    expect(() => resolveValue({ "Fn::Sub": "s3://b/${datehour}/" }, VARS)).toThrow("${datehour}");
  });

  test("an unknown variable is an error", () => {
    expect(() => resolveValue("${param:nope}", VARS)).toThrow("${param:nope}");
  });
});
