// OpenAPI schemas -> GraphQL SDL for the typed resources (--resources). Naming rules, all in
// one place (the README states them):
// - A resource's type is its kind (`Application`). When two typed resources share a kind, or
//   the kind is a name the schema already has (a built-in kind such as `Job`, or a hand-written
//   type), it gets its group in front in PascalCase: `ArgoprojIoApplication`.
// - Root fields: the plural resource name in camelCase (`applications`, the connection), the
//   singular (`application`, one object) and `<singular>Events` (a subscription). They get
//   the lower-camel group prefix (`argoprojIoApplications`) when the name is taken, and when
//   two typed resources share the kind.
//   Should a prefixed name be taken too, `_` is appended until it is free.
// - Nested object schemas are types named after their path: `ApplicationSpec`,
//   `ApplicationSpecSource`; shared schemas ($ref, built-in group versions) after the last
//   segment of their definition's name (`LabelSelector`), with the type name of the first
//   resource reaching them in front when that is taken.
// - Properties: characters outside [_0-9A-Za-z] become `_`; a name starting with a digit or
//   `__` gets `x` in front; a name already taken in its type (the Resource fields at the top
//   level, or an earlier property) gets `_` appended until free.
// - int-or-string -> IntOrString; maps (additionalProperties) and
//   x-kubernetes-preserve-unknown-fields without properties -> JSONObject; integers -> Int
//   when int32, else Float (exact to 2^53: int64 values overflow GraphQL's Int); arrays ->
//   lists of the element's type; anything else without a type -> JSONObject.
import type { GraphQLSchema } from "graphql";
import type { ApiResource } from "../informers/discovery.ts";
import type { OpenApiDocument, OpenApiSchema } from "./openapi.ts";
import { groupVersionPath, kindSchema } from "./openapi.ts";

/** One typed resource: its GraphQL names and what its type's fields read. */
export interface TypedKind {
  group: string;
  version: string;
  resource: string;
  kind: string;
  namespaced: boolean;
  typeName: string;
  listField: string;
  getField: string;
  eventsField: string;
  /** Top-level properties served as fields of the type: GraphQL name -> property. */
  topFields: Map<string, string>;
}

/** Where a generated kind type (and its connection) names its typed resource: type extensions. */
export const TYPED_EXTENSION = "kgqlTyped";

/** The typed resource behind a type of `schema`, if it is one (cost estimate, plugins). */
export function typedKindOf(schema: GraphQLSchema, typeName: string): TypedKind | undefined {
  return schema.getType(typeName)?.extensions?.[TYPED_EXTENSION] as TypedKind | undefined;
}

export interface TypedSchema {
  kinds: TypedKind[];
  /** The SDL of every generated type (the kinds' own Resource fields are added by the schema). */
  sdl: string;
  /** Nested types' fields whose GraphQL name differs from the property: type -> field -> property. */
  renames: Map<string, Map<string, string>>;
  /** Resources selected but without a schema in /openapi/v3 (yet): served as JSONObject spec/status. */
  missing: string[];
}

const pascal = (s: string) =>
  s
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((p) => p[0]!.toUpperCase() + p.slice(1))
    .join("");
const camel = (s: string) => {
  const p = pascal(s);
  return p ? p[0]!.toLowerCase() + p.slice(1) : p;
};

/**
 * A lower-case resource name in camelCase, its words taken from the kind where it starts with
 * it ("certificaterequests", CertificateRequest -> "certificateRequests").
 */
function casedLike(lower: string, kind: string): string {
  const k = kind[0]!.toLowerCase() + kind.slice(1);
  return camel(lower.startsWith(kind.toLowerCase()) ? k + lower.slice(kind.length) : lower);
}

/** The GraphQL name of a property (see the rules above), before de-duplication. */
function fieldName(property: string): string {
  const n = property.replace(/[^_0-9A-Za-z]/g, "_");
  return /^[0-9]/.test(n) || n.startsWith("__") || n === "" ? `x${n}` : n;
}

function freeName(name: string, taken: Set<string>): string {
  let n = name;
  while (taken.has(n)) n += "_";
  taken.add(n);
  return n;
}

/** Top-level properties every object has, served by the Resource fields instead. */
const OBJECT_META = new Set(["apiVersion", "kind", "metadata"]);

export interface SchemaNames {
  /** Type names the rest of the schema defines (built-in kinds, hand-written types, scalars). */
  types: ReadonlySet<string>;
  /** Root field names taken on Query and Subscription. */
  rootFields: ReadonlySet<string>;
  /** Field names a typed kind's type has already (the Resource fields) or a view reserves. */
  resourceFields: ReadonlySet<string>;
}

const description = (s: OpenApiSchema) =>
  s.description ? `${JSON.stringify(s.description.replace(/[\u2028\u2029]/g, " "))}\n` : "";

/** Builds the typed part of the schema for `resources` from their group versions' documents. */
export function typedSchema(
  resources: readonly ApiResource[],
  documents: ReadonlyMap<string, OpenApiDocument>,
  names: SchemaNames,
): TypedSchema {
  const usedTypes = new Set(names.types);
  const usedRoot = new Set(names.rootFields);
  const kindCount = new Map<string, number>();
  for (const r of resources) kindCount.set(r.kind, (kindCount.get(r.kind) ?? 0) + 1);
  const out: string[] = [];
  const renames = new Map<string, Map<string, string>>();
  const missing: string[] = [];
  const kinds: TypedKind[] = [];

  // Kind types' names first, so that no nested type can take one.
  // A kind type comes with its connection, edge and event types: all four names must be free.
  const withDerived = (t: string) => [t, `${t}Connection`, `${t}Edge`, `${t}Event`];
  const plan = resources.map((r) => {
    const shared = kindCount.get(r.kind)! > 1;
    const prefixed = shared || withDerived(r.kind).some((n) => usedTypes.has(n));
    let typeName = prefixed ? `${pascal(r.group || "core")}${r.kind}` : r.kind;
    // Last resort (a prefixed name taken too): `_` appended until free.
    while (withDerived(typeName).some((n) => usedTypes.has(n))) typeName += "_";
    for (const n of withDerived(typeName)) usedTypes.add(n);
    return { r, typeName, shared };
  });

  for (const { r, typeName, shared } of plan) {
    const doc = documents.get(groupVersionPath(r.group, r.version));
    const found = doc && kindSchema(doc, r.group, r.version, r.kind);
    const components = doc?.components?.schemas ?? {};
    /** $ref name -> GraphQL type name (built once per document and build). */
    const refTypes = new Map<string, string>();

    const resolveRef = (ref: string): { name: string; schema: OpenApiSchema } | undefined => {
      const name = ref.replace(/^#\/components\/schemas\//, "");
      const schema = components[name];
      return schema ? { name, schema } : undefined;
    };
    /** The schema with single-element allOf wrappers (used for descriptions/defaults) unwrapped. */
    const unwrap = (s: OpenApiSchema): OpenApiSchema => {
      if (s.allOf?.length === 1 && !s.properties && !s.type)
        return { ...s.allOf[0]!, description: s.description };
      return s;
    };

    const typeOf = (raw: OpenApiSchema, hint: string): string => {
      const s = unwrap(raw);
      if (s["x-kubernetes-int-or-string"] || s.format === "int-or-string") return "IntOrString";
      if (s.$ref) {
        const ref = resolveRef(s.$ref);
        if (!ref) return "JSONObject";
        if (ref.name === "io.k8s.apimachinery.pkg.util.intstr.IntOrString") return "IntOrString";
        const inner = unwrap(ref.schema);
        if (!(inner.properties && Object.keys(inner.properties).length > 0)) return typeOf(inner, hint);
        let t = refTypes.get(ref.name);
        if (!t) {
          const last = pascal(ref.name.split(".").pop()!);
          t = usedTypes.has(last) ? freeName(`${typeName}${last}`, usedTypes) : freeName(last, usedTypes);
          refTypes.set(ref.name, t);
          objectType(inner, t);
        }
        return t;
      }
      if (s.type === "array") return `[${s.items ? typeOf(s.items, hint) : "JSONObject"}]`;
      if (s.properties && Object.keys(s.properties).length > 0) {
        const t = freeName(hint, usedTypes);
        objectType(s, t);
        return t;
      }
      switch (s.type) {
        case "string":
          return "String";
        case "boolean":
          return "Boolean";
        case "integer":
          return s.format === "int32" ? "Int" : "Float";
        case "number":
          return "Float";
        default:
          return "JSONObject";
      }
    };

    /** An object type for a schema with properties; nested ones are named after their path. */
    const objectType = (s: OpenApiSchema, t: string): void => {
      const taken = new Set<string>();
      const fields: string[] = [];
      const renamed = new Map<string, string>();
      for (const [prop, sub] of Object.entries(s.properties!)) {
        const f = freeName(fieldName(prop), taken);
        if (f !== prop) renamed.set(f, prop);
        fields.push(`${description(sub)}${f}: ${typeOf(sub, `${t}${pascal(prop)}`)}`);
      }
      if (renamed.size) renames.set(t, renamed);
      out.push(`${description(s)}type ${t} {\n${fields.join("\n")}\n}`);
    };

    // The kind's own type: its top-level properties next to the Resource fields.
    const topFields = new Map<string, string>();
    const top: string[] = [];
    const taken = new Set(names.resourceFields);
    const props = found?.schema.properties ?? {
      spec: { "x-kubernetes-preserve-unknown-fields": true },
      status: { "x-kubernetes-preserve-unknown-fields": true },
    };
    if (!found) missing.push(r.group ? `${r.resource}.${r.group}` : r.resource);
    for (const [prop, sub] of Object.entries(props)) {
      if (OBJECT_META.has(prop)) continue;
      const f = freeName(fieldName(prop), taken);
      topFields.set(f, prop);
      top.push(`${description(sub)}${f}: ${typeOf(sub, `${typeName}${pascal(prop)}`)}`);
    }

    const groupPrefix = camel(r.group || "core");
    const root = (name: string) => {
      // Two resources of one kind: both prefixed, so neither keeps the plain name by order.
      let n = shared || usedRoot.has(name) ? `${groupPrefix}${pascal(name)}` : name;
      while (usedRoot.has(n)) n += "_";
      usedRoot.add(n);
      return n;
    };
    const singular = casedLike(r.singularName || r.kind.toLowerCase(), r.kind);
    kinds.push({
      group: r.group,
      version: r.version,
      resource: r.resource,
      kind: r.kind,
      namespaced: r.namespaced,
      typeName,
      listField: root(casedLike(r.resource, r.kind)),
      getField: root(singular),
      eventsField: root(`${singular}Events`),
      topFields,
    });
    if (top.length) out.push(`extend type ${typeName} {\n${top.join("\n")}\n}`);
  }
  return { kinds, sdl: out.join("\n"), renames, missing };
}
