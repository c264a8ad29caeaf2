import { readFileSync } from "node:fs";
import parseServerlessFile from "osls/lib/utils/fs/parse.js";

/** Where the Athena CloudFormation fragment lives, relative to the repository root. */
export const ATHENA_TEMPLATE_PATH = "resources/athena.yml";

/** One CloudFormation resource of the fragment. */
export interface CfnResource {
  readonly Type: string;
  readonly Properties: Record<string, unknown>;
}

/** The parts of the fragment the local proof needs, read as `serverless` reads the file. */
export interface AthenaTemplate {
  readonly resources: Readonly<Record<string, CfnResource>>;
  readonly table: {
    readonly logicalId: string;
    readonly name: string;
    readonly columns: readonly { Name: string; Type: string; Comment?: string }[];
    readonly partitionKeys: readonly { Name: string; Type: string }[];
    readonly parameters: Readonly<Record<string, unknown>>;
    readonly storageDescriptor: Readonly<Record<string, unknown>>;
  };
  readonly namedQueries: readonly NamedQuery[];
}

export interface NamedQuery {
  readonly logicalId: string;
  readonly name: string;
  readonly description: string;
  readonly queryString: string;
}

/**
 * Reads `resources/athena.yml` with the parser `serverless` uses for `${file(...)}` (CloudFormation
 * short tags become `Ref` / `Fn::*` objects), and picks out the Glue table and the saved queries.
 * @throws Error naming what is missing or malformed when the fragment does not have the expected shape.
 */
export function loadAthenaTemplate(path = ATHENA_TEMPLATE_PATH): AthenaTemplate {
  const parsed = parseServerlessFile(path, readFileSync(path));
  const resources = record(record(parsed, "the fragment").Resources, "Resources");
  const typed: Record<string, CfnResource> = {};
  for (const [logicalId, value] of Object.entries(resources)) {
    const resource = record(value, logicalId);
    typed[logicalId] = {
      Type: text(resource.Type, `${logicalId}.Type`),
      Properties: record(resource.Properties, `${logicalId}.Properties`),
    };
  }
  const tables = Object.entries(typed).filter(([, r]) => r.Type === "AWS::Glue::Table");
  if (tables.length !== 1) throw new Error(`${path}: expected one AWS::Glue::Table, found ${tables.length}`);
  const [tableId, table] = tables[0] as [string, CfnResource];
  const input = record(table.Properties.TableInput, `${tableId}.TableInput`);
  const storage = record(input.StorageDescriptor, `${tableId}.TableInput.StorageDescriptor`);
  return {
    resources: typed,
    table: {
      logicalId: tableId,
      name: text(input.Name, `${tableId}.TableInput.Name`),
      columns: columnList(storage.Columns, `${tableId} Columns`),
      partitionKeys: columnList(input.PartitionKeys, `${tableId} PartitionKeys`),
      parameters: record(input.Parameters, `${tableId}.TableInput.Parameters`),
      storageDescriptor: storage,
    },
    namedQueries: Object.entries(typed)
      .filter(([, r]) => r.Type === "AWS::Athena::NamedQuery")
      .map(([logicalId, r]) => ({
        logicalId,
        name: text(r.Properties.Name, `${logicalId}.Name`),
        description: text(r.Properties.Description, `${logicalId}.Description`),
        queryString: text(r.Properties.QueryString, `${logicalId}.QueryString`),
      })),
  };
}

/** The named query called `name`. @throws Error listing the names there are when none is. */
export function namedQuery(template: AthenaTemplate, name: string): NamedQuery {
  const found = template.namedQueries.find((query) => query.name === name);
  if (found === undefined) {
    const names = template.namedQueries.map((query) => query.name).join(", ");
    throw new Error(`no named query "${name}" (there are: ${names})`);
  }
  return found;
}

/**
 * Resolves a template value the way the deployment would: `${self:…}` / `${sls:…}` / `${param:…}`
 * variables of `serverless`, and `Fn::Sub` of CloudFormation (`${Name}` substituted, `${!x}` left as
 * the literal `${x}`), from `vars`. Other `${…}` text (such as `${datehour}`) is left alone.
 * @throws Error naming a variable that `vars` does not give.
 */
export function resolveValue(value: unknown, vars: Readonly<Record<string, string>>): string {
  const substitute = (input: string, pattern: RegExp): string =>
    input.replace(pattern, (_match, name: string) => {
      const found = vars[name];
      if (found === undefined) throw new Error(`no value for variable \${${name}}`);
      return found;
    });
  if (typeof value === "string") return substitute(value, /\$\{((?:self|sls|param):[^}]+)\}/g);
  const sub =
    typeof value === "object" && value !== null ? (value as Record<string, unknown>)["Fn::Sub"] : null;
  if (typeof sub === "string") {
    const serverless = resolveValue(sub, vars);
    return substitute(serverless, /\$\{(?!!)([A-Za-z0-9_.:]+)\}/g).replace(/\$\{!/g, "${");
  }
  throw new Error(`cannot resolve ${JSON.stringify(value)}: only strings and Fn::Sub are supported`);
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error(`${what} must be a mapping`);
  }
  return value as Record<string, unknown>;
}

function text(value: unknown, what: string): string {
  if (typeof value !== "string" || value === "") throw new Error(`${what} must be a non-empty string`);
  return value;
}

function columnList(value: unknown, what: string): { Name: string; Type: string; Comment?: string }[] {
  if (!Array.isArray(value)) throw new Error(`${what} must be a list`);
  return value.map((item, index) => {
    const column = record(item, `${what}[${index}]`);
    const comment = column.Comment;
    return {
      Name: text(column.Name, `${what}[${index}].Name`),
      Type: text(column.Type, `${what}[${index}].Type`),
      ...(typeof comment === "string" ? { Comment: comment } : {}),
    };
  });
}
