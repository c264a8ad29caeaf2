/**
 * Reads an OCSF event class from the schema's own JSON files (github `ocsf/ocsf-schema`) and
 * validates events against it, following the rules of the OCSF server's event validator
 * (`ocsf/ocsf-server`, `lib/schema/validator2.ex`) and of its schema compiler:
 *
 * - a class or object is its file with `$include`d files merged under its own attributes (a
 *   profile's attributes are tagged with the profile, an include's `annotations` merged in), then
 *   merged over what it `extends` (attributes deep-merged, other keys of the child winning, profile
 *   lists joined), then each attribute merged over its dictionary entry (type, enum, sibling);
 *   an attribute with no `requirement` is optional;
 * - the class's `class_uid`, `category_uid` and `type_uid` enums come from its category and uid
 *   (`class_uid` = category × 1000 + uid, `type_uid` = class_uid × 100 + activity);
 * - an attribute that belongs to a profile counts only when `metadata.profiles` names that profile;
 *   the `datetime` profile adds an optional `<name>_dt` (datetime_t) beside each timestamp;
 * - an object with no attributes (`object`, the type of `unmapped`) takes any members.
 *
 * Stricter than the server, on purpose (these are the limits of the Parquet columns): `integer_t` must
 * fit 32 bits and `long_t` a safe integer, a constraint counts only non-null members, and
 * `metadata.version` must equal the schema's version.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";

type Json = Record<string, unknown>;

/** Read access to a schema tree. */
export interface SchemaFiles {
  read(path: string): Json;
  /** Paths of the `.json` files below `dir` (relative to the root, `/`-separated). */
  list(dir: string): string[];
}

/** A schema tree on disk: the fixture folder or an unpacked release. */
export function schemaDirectory(root: string): SchemaFiles {
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return walk(path);
      return name.endsWith(".json") ? [relative(root, path).split(sep).join("/")] : [];
    });
  return {
    read: (path) => JSON.parse(readFileSync(join(root, path), "utf8")) as Json,
    list: (dir) => {
      try {
        return walk(join(root, dir));
      } catch {
        return [];
      }
    },
  };
}

export type Requirement = "required" | "recommended" | "optional";

export interface OcsfAttribute {
  readonly requirement: Requirement;
  /** A dictionary type (`string_t`, `port_t`, …) or `object_t`. */
  readonly type: string;
  readonly objectType?: string;
  readonly isArray: boolean;
  readonly enum?: Readonly<Record<string, { readonly caption?: string }>>;
  readonly sibling?: string;
  /** The profile the attribute belongs to; it counts only when the event names that profile. */
  readonly profile?: string;
}

export interface OcsfShape {
  readonly name: string;
  readonly attributes: Readonly<Record<string, OcsfAttribute>>;
  readonly constraints: { readonly at_least_one?: readonly string[]; readonly just_one?: readonly string[] };
}

export interface OcsfTypeDef {
  readonly type?: string;
  readonly max_len?: number;
  readonly regex?: string;
  readonly range?: readonly [number, number];
  readonly values?: readonly unknown[];
}

export interface OcsfClass extends OcsfShape {
  readonly uid: number;
  readonly caption: string;
  readonly version: string;
  /** Every object reachable from the class's attributes, by name. */
  readonly objects: ReadonlyMap<string, OcsfShape>;
  readonly types: Readonly<Record<string, OcsfTypeDef>>;
  /** Profiles the class or its objects use (names `metadata.profiles` may hold). */
  readonly profiles: ReadonlySet<string>;
  /** The schema files the class was compiled from: the class, its parents, includes, objects, dictionary. */
  readonly files: readonly string[];
}

/** What a schema item holds before it is compiled. */
interface RawItem {
  name?: string;
  caption?: string;
  uid?: number;
  extends?: string;
  category?: string;
  profiles?: string[];
  constraints?: OcsfShape["constraints"];
  attributes: Record<string, Json | null>;
}

/**
 * Compiles the event class named `className` (and every object it reaches) from `files`.
 * @throws Error when a file, a parent, an object, a category or a dictionary entry is missing.
 */
export function loadEventClass(schemaFiles: SchemaFiles, className: string): OcsfClass {
  const used = new Set<string>();
  const files: SchemaFiles = {
    list: (dir) => schemaFiles.list(dir),
    read: (path) => {
      used.add(path);
      return schemaFiles.read(path);
    },
  };
  const dictionary = files.read("dictionary.json") as {
    attributes: Record<string, Json>;
    types: { attributes: Record<string, OcsfTypeDef> };
  };
  const types = dictionary.types.attributes;
  const index = (dir: string) => {
    const byName = new Map<string, string>();
    for (const path of files.list(dir)) {
      // Class files are not all named after their class: look inside (without counting it as used).
      const name = (schemaFiles.read(path) as { name?: unknown }).name;
      if (typeof name === "string") byName.set(name, path);
    }
    return byName;
  };
  const classPaths = index("events");
  const objectPaths = index("objects");
  const profiles = new Set<string>();

  const compile = (paths: Map<string, string>, name: string): RawItem => {
    const path = paths.get(name);
    if (path === undefined) throw new Error(`OCSF item ${name} not found`);
    const item = withIncludes(files, files.read(path) as unknown as RawItem, profiles);
    if (item.extends === undefined) return item;
    const parent = compile(paths, item.extends);
    const merged: RawItem = { ...parent, ...item, attributes: {} };
    merged.profiles = [...new Set([...(parent.profiles ?? []), ...(item.profiles ?? [])])];
    for (const [key, value] of Object.entries(deepMerge(parent.attributes, item.attributes) as Json)) {
      if (value !== null) merged.attributes[key] = value as Json;
    }
    return merged;
  };

  const shapeOf = (item: RawItem): OcsfShape => {
    const attributes: Record<string, OcsfAttribute> = {};
    for (const [key, own] of Object.entries(item.attributes)) {
      const base = dictionary.attributes[key];
      if (base === undefined) throw new Error(`${item.name}.${key} is not in the dictionary`);
      const attribute = toAttribute(deepMerge(base, own ?? {}) as Json, types);
      attributes[key] = attribute;
      if (attribute.profile !== undefined) profiles.add(attribute.profile);
      if (attribute.type === "timestamp_t") {
        attributes[`${key}_dt`] = {
          requirement: "optional",
          type: "datetime_t",
          isArray: false,
          profile: "datetime",
        };
      }
    }
    return { name: item.name ?? "", attributes, constraints: item.constraints ?? {} };
  };

  const raw = compile(classPaths, className);
  const categories = files.read("categories.json") as {
    attributes: Record<string, { uid: number; caption: string }>;
  };
  const category = raw.category === undefined ? undefined : categories.attributes[raw.category];
  if (category === undefined || raw.uid === undefined || raw.caption === undefined) {
    throw new Error(`class ${className} has no category or uid`);
  }
  const uid = category.uid * 1000 + raw.uid;
  const shape = shapeOf(raw);
  const attributes = { ...shape.attributes };
  const set = (key: string, values: Record<string, { caption: string }>) => {
    const attribute = attributes[key];
    if (attribute === undefined) throw new Error(`class ${className} has no ${key}`);
    attributes[key] = { ...attribute, enum: values };
  };
  set("class_uid", { [uid]: { caption: raw.caption } });
  set("category_uid", { [category.uid]: { caption: category.caption } });
  const activities = { "0": { caption: "Unknown" }, ...(attributes.activity_id?.enum ?? {}) };
  set(
    "type_uid",
    Object.fromEntries(
      Object.entries(activities).map(([id, value]) => [
        String(uid * 100 + Number(id)),
        { caption: `${raw.caption}: ${value.caption ?? ""}` },
      ]),
    ),
  );

  const objects = new Map<string, OcsfShape>();
  const reach = (from: OcsfShape) => {
    for (const attribute of Object.values(from.attributes)) {
      const name = attribute.objectType;
      if (name === undefined || objects.has(name)) continue;
      const object = shapeOf(compile(objectPaths, name));
      objects.set(name, object);
      reach(object);
    }
  };
  reach(shape);
  for (const item of raw.profiles ?? []) profiles.add(item);
  const version = (files.read("version.json") as { version: string }).version;
  const source = [...used].sort();
  return {
    ...shape,
    attributes,
    uid,
    caption: raw.caption,
    version,
    objects,
    types,
    profiles,
    files: source,
  };
}

/** Merges `$include`d files (and attribute-level `$include`s) under the item's own attributes. */
function withIncludes(files: SchemaFiles, item: RawItem, profiles: Set<string>): RawItem {
  const own = { ...(item.attributes ?? {}) };
  const include = own.$include as unknown as string | string[] | undefined;
  delete own.$include;
  let attributes: Record<string, Json | null> = own;
  for (const path of include === undefined ? [] : [include].flat()) {
    const included = files.read(path) as unknown as RawItem & { meta?: string; annotations?: Json };
    const profile = included.meta === "profile" ? included.name : undefined;
    if (profile !== undefined) profiles.add(profile);
    const tagged: Record<string, Json> = {};
    for (const [key, value] of Object.entries(included.attributes ?? {})) {
      const attribute = { ...(value ?? {}), ...(profile === undefined ? {} : { profile }) };
      tagged[key] =
        included.annotations === undefined ? attribute : (deepMerge(included.annotations, attribute) as Json);
    }
    attributes = deepMerge(tagged, attributes) as Record<string, Json | null>;
  }
  for (const [key, value] of Object.entries(attributes)) {
    const enumInclude = value?.$include;
    if (typeof enumInclude !== "string") continue;
    const { $include: _, ...rest } = value as Json;
    attributes[key] = deepMerge(files.read(enumInclude), rest) as Json;
  }
  return { ...item, attributes };
}

function toAttribute(merged: Json, types: Readonly<Record<string, OcsfTypeDef>>): OcsfAttribute {
  const type = typeof merged.type === "string" ? merged.type : "object";
  const isObject = types[type] === undefined;
  const requirement = (merged.requirement ?? "optional") as Requirement;
  return {
    requirement,
    type: isObject ? "object_t" : type,
    ...(isObject ? { objectType: type } : {}),
    isArray: merged.is_array === true,
    ...(merged.enum === undefined ? {} : { enum: merged.enum as OcsfAttribute["enum"] & object }),
    ...(typeof merged.sibling === "string" ? { sibling: merged.sibling } : {}),
    ...(typeof merged.profile === "string" ? { profile: merged.profile } : {}),
  };
}

/** The dictionary type `type` derives from, one level up (`port_t` → `integer_t`), or itself. */
export function baseTypeOf(type: string, types: Readonly<Record<string, OcsfTypeDef>>): string {
  return types[type]?.type ?? type;
}

/** The schema server's deep merge: objects merge member by member, anything else on the right wins. */
function deepMerge(left: unknown, right: unknown): unknown {
  if (!isPlainObject(left) || !isPlainObject(right)) return right === undefined ? left : right;
  const out: Json = { ...left };
  for (const [key, value] of Object.entries(right)) out[key] = deepMerge(left[key], value);
  return out;
}

export function isPlainObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** One finding. It names the attribute path and the rule, never the value (values may be SQL text). */
export interface Finding {
  /** `error`: the event is invalid; `warning`: valid but suspicious (the server's warnings); `note`: a recommended attribute is missing. */
  readonly level: "error" | "warning" | "note";
  readonly code: string;
  readonly path: string;
}

/** Validates `event` against the compiled class; an empty list of errors means valid. */
export function validateEvent(schema: OcsfClass, event: unknown): Finding[] {
  const findings: Finding[] = [];
  const add = (level: Finding["level"], code: string, path: string) => findings.push({ level, code, path });
  if (!isPlainObject(event)) {
    add("error", "event_not_object", "");
    return findings;
  }
  const metadata = isPlainObject(event.metadata) ? event.metadata : {};
  const listed = Array.isArray(metadata.profiles) ? metadata.profiles : [];
  listed.forEach((profile, i) => {
    if (typeof profile !== "string" || !schema.profiles.has(profile)) {
      add("error", "profile_unknown", `metadata.profiles[${i}]`);
    }
  });
  const profiles = new Set(listed.filter((profile): profile is string => typeof profile === "string"));
  if (event.class_uid !== schema.uid) add("error", "class_uid_wrong_class", "class_uid");
  if (metadata.version !== undefined && metadata.version !== schema.version) {
    add("error", "version_mismatch", "metadata.version");
  }
  const { class_uid, activity_id, type_uid } = event;
  if (typeof class_uid === "number" && typeof activity_id === "number" && typeof type_uid === "number") {
    if (type_uid !== class_uid * 100 + activity_id) add("error", "type_uid_incorrect", "type_uid");
  }
  checkShape(schema, schema, event, "", profiles, add);
  return findings;
}

type Add = (level: Finding["level"], code: string, path: string) => void;

function checkShape(
  schema: OcsfClass,
  shape: OcsfShape,
  item: Json,
  parent: string,
  profiles: ReadonlySet<string>,
  add: Add,
): void {
  const attributes = Object.entries(shape.attributes).filter(
    ([, attribute]) => attribute.profile === undefined || profiles.has(attribute.profile),
  );
  // An object with no attributes (`object`) is open-ended: anything goes inside it.
  if (attributes.length === 0) return;
  const at = (key: string) => (parent === "" ? key : `${parent}.${key}`);
  const known = new Set(attributes.map(([key]) => key));
  for (const key of Object.keys(item)) if (!known.has(key)) add("error", "attribute_unknown", at(key));
  for (const [key, attribute] of attributes) {
    const value = item[key];
    if (value === undefined || value === null) {
      if (attribute.requirement === "required") add("error", "attribute_required_missing", at(key));
      if (attribute.requirement === "recommended") add("note", "attribute_recommended_missing", at(key));
      continue;
    }
    if (attribute.isArray) {
      if (!Array.isArray(value)) add("error", "attribute_wrong_type", at(key));
      else
        for (const [i, element] of value.entries())
          checkValue(schema, attribute, element, `${at(key)}[${i}]`, profiles, add);
    } else {
      checkValue(schema, attribute, value, at(key), profiles, add);
    }
    if (attribute.enum !== undefined) {
      for (const member of attribute.isArray && Array.isArray(value) ? value : [value]) {
        const entry = attribute.enum[String(member)];
        if (entry === undefined) {
          add("error", "attribute_enum_value_unknown", at(key));
        } else if (
          attribute.sibling !== undefined &&
          item[attribute.sibling] !== undefined &&
          !attribute.isArray
        ) {
          const sibling = item[attribute.sibling];
          // For 99 (Other) the sibling holds the source's own value, which should not read "Other".
          if (member === 99 ? sibling === entry.caption : sibling !== entry.caption) {
            add("warning", "attribute_enum_sibling_incorrect", at(attribute.sibling));
          }
        }
      }
    }
  }
  const present = (key: string) => item[key] !== undefined && item[key] !== null;
  const { at_least_one: atLeastOne, just_one: justOne } = shape.constraints;
  if (atLeastOne !== undefined && !atLeastOne.some(present)) add("error", "constraint_failed", parent);
  if (justOne !== undefined && justOne.filter(present).length !== 1)
    add("error", "constraint_failed", parent);
}

function checkValue(
  schema: OcsfClass,
  attribute: OcsfAttribute,
  value: unknown,
  path: string,
  profiles: ReadonlySet<string>,
  add: Add,
): void {
  if (attribute.type === "object_t") {
    const object = schema.objects.get(attribute.objectType ?? "");
    if (!isPlainObject(value) || object === undefined) add("error", "attribute_wrong_type", path);
    else checkShape(schema, object, value, path, profiles, add);
    return;
  }
  const own = schema.types[attribute.type] ?? {};
  const primitive = baseTypeOf(attribute.type, schema.types);
  const base = schema.types[primitive] ?? {};
  const fits: Record<string, (v: unknown) => boolean> = {
    boolean_t: (v) => typeof v === "boolean",
    float_t: (v) => typeof v === "number" && Number.isFinite(v),
    integer_t: (v) => Number.isInteger(v) && (v as number) >= -(2 ** 31) && (v as number) < 2 ** 31,
    long_t: (v) => Number.isSafeInteger(v),
    string_t: (v) => typeof v === "string",
    json_t: () => true,
  };
  // timestamp_t is a long_t: follow the chain to the primitive.
  const check = fits[primitive] ?? fits[baseTypeOf(primitive, schema.types)];
  if (check === undefined) {
    add("error", "schema_type_unknown", path);
    return;
  }
  if (!check(value)) {
    add("error", "attribute_wrong_type", path);
    return;
  }
  const range = own.range ?? base.range;
  if (range !== undefined && typeof value === "number" && (value < range[0] || value > range[1])) {
    add("error", "attribute_value_exceeds_range", path);
  }
  const values = own.values ?? base.values;
  if (values !== undefined && !values.includes(value))
    add("error", "attribute_value_not_in_type_values", path);
  if (typeof value === "string") {
    const maxLen = own.max_len ?? base.max_len;
    if (maxLen !== undefined && [...value].length > maxLen)
      add("error", "attribute_value_exceeds_max_len", path);
    if (own.regex !== undefined && !new RegExp(own.regex).test(value)) {
      add("warning", "attribute_value_regex_not_matched", path);
    }
  }
}
