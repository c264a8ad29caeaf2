// The names a CloudFormation template defines (resources, parameters, conditions) and the checks
// that every Ref, Fn::GetAtt, Fn::Sub substitution, Fn::If condition and DependsOn names one of
// them, a GetAtt an attribute its resource type has (from the resource schemas). cfn-schema.ts
// checks the rest of the template against the schemas.
import type { Resource, SpecDatabase } from "@aws-cdk/service-spec-types";

export type JsonObject = { [key: string]: unknown };

const PSEUDO_PARAMETERS = [
  "AWS::AccountId",
  "AWS::NotificationARNs",
  "AWS::NoValue",
  "AWS::Partition",
  "AWS::Region",
  "AWS::StackId",
  "AWS::StackName",
  "AWS::URLSuffix",
];

export const isObject = (value: unknown): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value);
export const keysOf = (value: unknown): string[] => (isObject(value) ? Object.keys(value) : []);
export const isCustom = (type: string) =>
  type.startsWith("Custom::") || type === "AWS::CloudFormation::CustomResource";

/** The name of the intrinsic function a value is (`Ref`, `Fn::…`), or undefined for plain data. */
export function intrinsicName(value: unknown): string | undefined {
  const [key, ...others] = keysOf(value);
  return key !== undefined && others.length === 0 && (key === "Ref" || key.startsWith("Fn::"))
    ? key
    : undefined;
}

/** `Fn::GetAtt`'s resource and attribute, from `[id, attribute]` or `"id.attribute"`. */
export function getAttParts(args: unknown): unknown[] {
  if (Array.isArray(args)) return args;
  return typeof args === "string" ? args.split(/\.(.*)/s).slice(0, 2) : [];
}

/** A template's sections and names, with the schema of each resource type it uses. */
export class TemplateNames {
  readonly root: JsonObject;
  readonly resources: JsonObject;
  readonly parameters: JsonObject;
  readonly conditions: JsonObject;

  constructor(
    template: unknown,
    private readonly spec: SpecDatabase,
  ) {
    this.root = isObject(template) ? template : {};
    const section = (name: string) => {
      const found = this.root[name];
      return isObject(found) ? found : {};
    };
    this.resources = section("Resources");
    this.parameters = section("Parameters");
    this.conditions = section("Conditions");
  }

  /** The resource schema of a CloudFormation type, if the registry has that type. */
  schemaOf(type: string): Resource | undefined {
    const found = this.spec.lookup("resource", "cloudFormationType", "equals", type);
    return found.length === 1 ? found[0] : undefined;
  }

  /** The Type of a resource of the template, undefined when there is no such resource. */
  typeOf(id: unknown): string | undefined {
    const resource = typeof id === "string" ? this.resources[id] : undefined;
    return isObject(resource) && typeof resource.Type === "string" ? resource.Type : undefined;
  }
}

/** The names a `Fn::Sub` string substitutes (`${Name}`, `${Res.Attr}`; `${!Literal}` is not one). */
function subNames(text: string): string[] {
  return [...text.matchAll(/\$\{([^!}][^}]*)\}/g)].map((match) => match[1] ?? "");
}

/** Every Ref, Fn::GetAtt, Fn::Sub and Fn::If condition under Resources, Outputs and Conditions. */
export function checkReferences(names: TemplateNames): string[] {
  const problems: string[] = [];
  const checkRef = (target: unknown, path: string, what = `Ref ${JSON.stringify(target)}`) => {
    const name = String(target);
    if (!(name in names.resources || name in names.parameters || PSEUDO_PARAMETERS.includes(name)))
      problems.push(`${path}: ${what} is not a resource, parameter or pseudo parameter`);
  };
  const checkGetAtt = (args: unknown, path: string, what = "Fn::GetAtt") => {
    const [id, attribute] = getAttParts(args);
    const type = names.typeOf(id);
    if (type === undefined) {
      problems.push(`${path}: ${what} of ${JSON.stringify(id)}, which is not a resource`);
      return;
    }
    // An attribute named by a Ref is only known at deploy time; custom resources return any; an
    // unknown type is reported once, at its Type.
    const schema = names.schemaOf(type);
    if (isCustom(type) || intrinsicName(attribute) !== undefined || schema === undefined) return;
    if (typeof attribute !== "string" || schema.attributes[attribute] === undefined)
      problems.push(`${path}: ${type} has no attribute ${JSON.stringify(attribute)} for ${what}`);
  };
  const walk = (value: unknown, path: string) => {
    if (Array.isArray(value)) {
      for (const [i, element] of value.entries()) walk(element, `${path}[${i}]`);
      return;
    }
    if (!isObject(value)) return;
    const fn = intrinsicName(value);
    const args = fn === undefined ? undefined : value[fn];
    if (fn === "Ref") checkRef(args, path);
    if (fn === "Fn::GetAtt") checkGetAtt(args, path);
    if (fn === "Fn::If" && Array.isArray(args) && !(String(args[0]) in names.conditions))
      problems.push(`${path}: Fn::If on ${JSON.stringify(args[0])}, which is not a condition`);
    if (fn === "Fn::Sub") {
      const [text, variables] = Array.isArray(args) ? args : [args, {}];
      for (const name of typeof text === "string" ? subNames(text) : []) {
        if (isObject(variables) && name in variables) continue;
        const what = `Fn::Sub \${${name}}`;
        if (name.includes(".")) checkGetAtt(name, path, what);
        else checkRef(name, path, what);
      }
    }
    for (const [key, child] of Object.entries(value)) walk(child, `${path}.${key}`);
  };

  for (const [id, resource] of Object.entries(names.resources)) {
    const dependsOn = isObject(resource) ? (resource.DependsOn ?? []) : [];
    for (const target of [dependsOn].flat())
      if (names.typeOf(target) === undefined || target === id)
        problems.push(`Resources.${id}.DependsOn: ${JSON.stringify(target)} is not another resource`);
    const condition = isObject(resource) ? resource.Condition : undefined;
    if (condition !== undefined && !(String(condition) in names.conditions))
      problems.push(`Resources.${id}.Condition: ${JSON.stringify(condition)} is not a condition`);
  }
  for (const section of ["Resources", "Outputs", "Conditions"]) walk(names.root[section], section);
  return problems;
}
