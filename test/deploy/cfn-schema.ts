// Checks a CloudFormation template against CloudFormation's own resource schemas, as
// `@aws-cdk/aws-service-spec` ships them (the registry's resource types, properties, nested types,
// required properties and GetAtt attributes, in one database). Our unit tests assert the values we
// chose; this catches what CloudFormation itself would reject at deploy time: an unknown type or
// property, a missing required property, a value of the wrong shape, a Ref, GetAtt, Sub or
// DependsOn pointing at nothing.
import { loadAwsServiceSpecSync } from "@aws-cdk/aws-service-spec";
import type { PropertyType, ResourceProperties, SpecDatabase } from "@aws-cdk/service-spec-types";
import {
  checkReferences,
  getAttParts,
  intrinsicName,
  isCustom,
  isObject,
  type JsonObject,
  keysOf,
  TemplateNames,
} from "./cfn-references.ts";

export type { SpecDatabase };

/** Loads the resource schemas (~0.6 s: a 2.6 MB gzipped database). */
export function loadResourceSchemas(): SpecDatabase {
  return loadAwsServiceSpecSync();
}

/** What an intrinsic function gives: `unknown` when only the deployed stack could tell. */
type Shape = "scalar" | "list" | "object" | "unknown";

const TEMPLATE_KEYS = [
  "AWSTemplateFormatVersion",
  "Description",
  "Metadata",
  "Parameters",
  "Rules",
  "Mappings",
  "Conditions",
  "Transform",
  "Resources",
  "Outputs",
];
const RESOURCE_KEYS = [
  "Type",
  "Properties",
  "DependsOn",
  "DeletionPolicy",
  "UpdateReplacePolicy",
  "Condition",
  "Metadata",
];
// cfn-lint's template schema: custom resources may carry the legacy Version key, others the policies.
const CUSTOM_ONLY_KEYS = ["Version"];
const NATIVE_ONLY_KEYS = ["CreationPolicy", "UpdatePolicy"];
const DELETION_POLICIES = ["Delete", "Retain", "RetainExceptOnCreate", "Snapshot"];
const REPLACE_POLICIES = ["Delete", "Retain", "Snapshot"];
const OUTPUT_KEYS = ["Description", "Value", "Export", "Condition"];
const GIVES_SCALAR = [
  "Fn::Sub",
  "Fn::Join",
  "Fn::Base64",
  "Fn::ImportValue",
  "Fn::ToJsonString",
  "Fn::Length",
];
const GIVES_LIST = ["Fn::Split", "Fn::GetAZs", "Fn::Cidr"];
const GIVES_EITHER = ["Fn::Select", "Fn::FindInMap"];

const TAG_PROPERTIES: ResourceProperties = {
  Key: { type: { type: "string" }, required: true },
  Value: { type: { type: "string" }, required: true },
};
const SHAPE_NAMES: Record<Shape, string> = {
  scalar: "a scalar",
  list: "a list",
  object: "an object",
  unknown: "anything",
};

function shapeOfType(type: PropertyType): Shape[] {
  switch (type.type) {
    case "array":
      return ["list"];
    case "map":
    case "ref":
    case "tag":
      return ["object"];
    case "json":
      return ["scalar", "list", "object"];
    case "union":
      return type.types.flatMap(shapeOfType);
    default:
      return ["scalar"];
  }
}

/**
 * Every way the template breaks CloudFormation's resource schemas or its own references, one
 * line each, prefixed with the path (`Resources.DasBucket.Properties.Foo: …`). Empty when valid.
 * Scalars are compared the way CloudFormation converts them (cfn-lint's non-strict mode): a
 * number or boolean stands for a string, and "300" or "true" for a number or a boolean.
 */
export function validateTemplate(template: unknown, spec: SpecDatabase): string[] {
  const problems: string[] = [];
  const names = new TemplateNames(template, spec);
  const { root, resources, parameters } = names;

  const refShape = (target: unknown): Shape => {
    if (target === "AWS::NotificationARNs") return "list";
    const parameter = typeof target === "string" ? parameters[target] : undefined;
    const type = isObject(parameter) ? String(parameter.Type) : "";
    return type.includes("List<") || type === "CommaDelimitedList" ? "list" : "scalar";
  };
  const getAttShape = (args: unknown): Shape => {
    const [id, attribute] = getAttParts(args);
    const type = names.typeOf(id);
    const found = type === undefined ? undefined : names.schemaOf(type)?.attributes[String(attribute)];
    if (found === undefined || found.type.type === "json") return "unknown";
    return shapeOfType(found.type)[0] ?? "unknown";
  };
  const intrinsicShape = (name: string, value: JsonObject): Shape => {
    if (name === "Ref") return refShape(value.Ref);
    if (name === "Fn::GetAtt") return getAttShape(value[name]);
    if (GIVES_SCALAR.includes(name)) return "scalar";
    if (GIVES_LIST.includes(name)) return "list";
    return "unknown";
  };

  /** Problems of one value against a schema type (pure: unions try each member). */
  const checkValue = (value: unknown, type: PropertyType, path: string): string[] => {
    const fn = intrinsicName(value);
    if (fn !== undefined && isObject(value)) {
      if (fn === "Ref" && value.Ref === "AWS::NoValue") return [];
      if (fn === "Fn::If") {
        const branches = Array.isArray(value[fn]) ? value[fn].slice(1) : [];
        return branches.flatMap((branch, i) => checkValue(branch, type, `${path}.Fn::If[${i + 1}]`));
      }
      if (
        fn !== "Ref" &&
        fn !== "Fn::GetAtt" &&
        ![...GIVES_SCALAR, ...GIVES_LIST, ...GIVES_EITHER].includes(fn)
      )
        return [`${path}: ${fn} cannot stand for a property value`];
      const shape = intrinsicShape(fn, value);
      const wanted = shapeOfType(type);
      return shape === "unknown" || wanted.includes(shape)
        ? []
        : [
            `${path}: ${fn} gives ${SHAPE_NAMES[shape]}, not ${wanted.map((want) => SHAPE_NAMES[want]).join(" or ")}`,
          ];
    }
    const got = Array.isArray(value) ? "list" : value === null ? "null" : typeof value;
    const wrong = (what: string) => [`${path}: expected ${what}, got ${got} ${JSON.stringify(value)}`];
    switch (type.type) {
      case "string":
      case "date-time": {
        if (!["string", "number", "boolean"].includes(typeof value)) return wrong("a string");
        const allowed = type.type === "string" ? type.allowedValues : undefined;
        return allowed === undefined || allowed.includes(String(value))
          ? []
          : [`${path}: "${String(value)}" is not one of ${allowed.join(", ")}`];
      }
      case "number":
      case "integer": {
        const number = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
        if (typeof number !== "number" || !Number.isFinite(number)) return wrong(`a ${type.type}`);
        return type.type === "integer" && !Number.isInteger(number) ? wrong("an integer") : [];
      }
      case "boolean":
        return typeof value === "boolean" || value === "true" || value === "false" ? [] : wrong("a boolean");
      case "json":
        return isObject(value) ? [] : wrong("a JSON object");
      case "null":
        return value === null ? [] : wrong("null");
      case "tag":
        return isObject(value)
          ? checkProperties(value, TAG_PROPERTIES, path, "a tag")
          : wrong("a tag {Key, Value}");
      case "array":
        return Array.isArray(value)
          ? value.flatMap((element, i) => checkValue(element, type.element, `${path}[${i}]`))
          : wrong("a list");
      case "map":
        return isObject(value)
          ? Object.entries(value).flatMap(([key, element]) =>
              checkValue(element, type.element, `${path}.${key}`),
            )
          : wrong("a map");
      case "ref": {
        const definition = spec.get("typeDefinition", type.reference);
        return isObject(value)
          ? checkProperties(value, definition.properties, path, definition.name)
          : wrong(`a ${definition.name} object`);
      }
      case "union": {
        // The member that fits best explains the mismatch.
        const attempts = type.types.map((member) => checkValue(value, member, path));
        return attempts.some((found) => found.length === 0)
          ? []
          : attempts.reduce((best, found) => (found.length < best.length ? found : best));
      }
    }
  };

  const checkProperties = (
    value: JsonObject,
    properties: ResourceProperties,
    path: string,
    owner: string,
    open = false,
  ): string[] => {
    const found: string[] = [];
    for (const [name, property] of Object.entries(value)) {
      const schema = properties[name];
      if (schema !== undefined) found.push(...checkValue(property, schema.type, `${path}.${name}`));
      else if (!open) found.push(`${path}.${name}: ${owner} has no property ${name}`);
    }
    for (const [name, schema] of Object.entries(properties)) {
      if (schema.required === true && !(name in value))
        found.push(`${path}: ${owner} requires property ${name}`);
    }
    return found;
  };

  const checkResource = (id: string, resource: unknown) => {
    const path = `Resources.${id}`;
    if (!isObject(resource) || typeof resource.Type !== "string") {
      problems.push(`${path}: a resource is an object with a Type`);
      return;
    }
    const custom = isCustom(resource.Type);
    const allowed = [...RESOURCE_KEYS, ...(custom ? CUSTOM_ONLY_KEYS : NATIVE_ONLY_KEYS)];
    for (const key of keysOf(resource))
      if (!allowed.includes(key))
        problems.push(`${path}.${key}: not a resource attribute of ${resource.Type}`);
    if (resource.DeletionPolicy !== undefined && !DELETION_POLICIES.includes(String(resource.DeletionPolicy)))
      problems.push(`${path}.DeletionPolicy: "${String(resource.DeletionPolicy)}" is not a deletion policy`);
    if (
      resource.UpdateReplacePolicy !== undefined &&
      !REPLACE_POLICIES.includes(String(resource.UpdateReplacePolicy))
    )
      problems.push(`${path}.UpdateReplacePolicy: "${String(resource.UpdateReplacePolicy)}" is not a policy`);
    const schema = names.schemaOf(custom ? "AWS::CloudFormation::CustomResource" : resource.Type);
    if (schema === undefined) {
      problems.push(`${path}.Type: CloudFormation has no resource type ${resource.Type}`);
      return;
    }
    const properties = resource.Properties ?? {};
    if (!isObject(properties)) problems.push(`${path}.Properties: expected an object`);
    else
      problems.push(
        ...checkProperties(properties, schema.properties, `${path}.Properties`, resource.Type, custom),
      );
  };

  for (const key of Object.keys(root))
    if (!TEMPLATE_KEYS.includes(key)) problems.push(`${key}: not a template section`);
  if (Object.keys(resources).length === 0) problems.push("Resources: a template needs at least one resource");
  for (const [id, resource] of Object.entries(resources)) checkResource(id, resource);
  for (const [name, output] of Object.entries(isObject(root.Outputs) ? root.Outputs : {})) {
    for (const key of keysOf(output))
      if (!OUTPUT_KEYS.includes(key)) problems.push(`Outputs.${name}.${key}: not an output attribute`);
    if (!isObject(output) || output.Value === undefined)
      problems.push(`Outputs.${name}: an output needs a Value`);
  }
  problems.push(...checkReferences(names));
  return problems;
}
