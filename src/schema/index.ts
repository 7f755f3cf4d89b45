// Builds the schema SDL: the hand-written .graphql files plus what is generated from the kinds
// table (the Resource fields on every kind, connections, root fields, Namespace.<kind> lists),
// so adding a kind is one line in src/kinds.ts and its specific fields in kinds.graphql.
import { readFileSync } from "node:fs";
import {
  type FieldDefinitionNode,
  Kind,
  type ObjectTypeDefinitionNode,
  type ObjectTypeExtensionNode,
  parse,
  print,
  visit,
} from "graphql";
import { CORE_KINDS, type KindDescription } from "../kinds.ts";
import { mutationTypeDefs } from "../mutations/schema.ts";
import { VIEW_RESERVED_NAMES } from "../resolvers/views.ts";
import type { SchemaNames, TypedKind, TypedSchema } from "../typed/types.ts";

/** The Resource interface's fields, as the public contract names them. */
const INTERFACE_FIELDS = `
  "The cluster this object is cached from (see clusters)."
  cluster: String!
  uid: ID!
  kind: String!
  apiVersion: String!
  name: String!
  namespace: String
  labels: JSONObject!
  annotations: JSONObject!
  creationTimestamp: String
  resourceVersion: String!
  "Resolved ownerReferences (objects not in the cache are left out)."
  owners: [Resource!]!
  "The cached object (Secrets: without data)."
  raw: JSONObject!`;

const RESOURCE_INTERFACE = `"Fields every Kubernetes object has. Implemented by every typed kind and by GenericResource."
interface Resource {${INTERFACE_FIELDS}
}`;

/** What every object type has: the interface's fields plus traversals common to all kinds. */
const RESOURCE_FIELDS = `${INTERFACE_FIELDS}
  "Objects that name this one as owner."
  children: [Resource!]!
  "Events whose involvedObject is this object."
  events: [Event!]!`;

const LIST_ARGS = "labelSelector: String, first: Int, after: String, orderBy: OrderBy";

/** Fields on every kind; a Namespace.<kind> list with the same name gets an "all" prefix. */
const COMMON_FIELD_NAMES: ReadonlySet<string> = new Set(
  [...RESOURCE_FIELDS.matchAll(/^\s+(\w+):/gm)].map((m) => m[1]!),
);

export function namespaceListField(k: KindDescription): string {
  return COMMON_FIELD_NAMES.has(k.listField)
    ? `all${k.listField[0]!.toUpperCase()}${k.listField.slice(1)}`
    : k.listField;
}

/** A Relay connection and its edge for one node type. */
function connectionSDL(t: string): string {
  return `
type ${t}Edge {
  cursor: String!
  node: ${t}!
}
type ${t}Connection {
  edges: [${t}Edge!]!
  nodes: [${t}!]!
  pageInfo: PageInfo!
  totalCount: Int!
  "With cluster: \\"*\\": the clusters left out because this kind has not synced there yet (see clusters)."
  unsyncedClusters: [String!]!
  "With cluster: \\"*\\" and --auth kubernetes: the clusters left out because the caller's token is not valid there or it may not list this kind there (nothing of them is counted; extensions.clusterAccess names the clusters that refused the token, and why)."
  forbiddenClusters: [String!]!
}`;
}

function kindSDL(k: KindDescription): string {
  const t = k.typeName;
  // The contract fixes Query.namespaces as a plain list and Query.namespace(name): see base.graphql.
  const rootFields =
    k.kind === "Namespace"
      ? ""
      : `
extend type Query {
  ${k.listField}(${k.namespaced ? "namespace: String, " : ""}${LIST_ARGS}): ${t}Connection!
  ${k.namespaced ? `${k.getField}(namespace: String!, name: String!): ${t}` : `${k.getField}(name: String!): ${t}`}
}`;
  return `
type ${t} implements Resource {${RESOURCE_FIELDS}
}
${connectionSDL(t)}${rootFields}`;
}

/** Namespace.<kind>: every namespaced kind's objects in that namespace, as a plain list. */
function namespaceListsSDL(): string {
  const fields = CORE_KINDS.filter((k) => k.namespaced)
    .map((k) => `  ${namespaceListField(k)}(labelSelector: String): [${k.typeName}!]!`)
    .join("\n");
  return `extend type Namespace {\n${fields}\n}`;
}

/** The argument every root field and subscription takes to read another cluster. */
export const CLUSTER_ARGUMENT = "cluster";

/** The cluster argument's value that reads every cluster (names are DNS labels: no clash). */
export const ALL_CLUSTERS = "*";

/** The types whose fields take the cluster argument. */
const ROOT_TYPES = new Set(["Query", "Mutation", "Subscription"]);

/** Root fields about the clusters themselves, which take no cluster argument. */
const FLEET_FIELDS = new Set(["clusters"]);

const CLUSTER_ARGUMENT_SDL = parse(
  `type T { f("The cluster to read (mutations: to write to; see clusters); left out: the default cluster." ${CLUSTER_ARGUMENT}: String): Int }`,
).definitions[0] as ObjectTypeDefinitionNode;

/**
 * Adds the optional cluster argument to every field of Query, Mutation and Subscription (definitions and
 * extensions, however they are written), so no root field can be added without it.
 */
export function withClusterArgument(sdl: string): string {
  const argument = CLUSTER_ARGUMENT_SDL.fields![0]!.arguments![0]!;
  const addTo = (node: ObjectTypeDefinitionNode | ObjectTypeExtensionNode) => {
    if (!ROOT_TYPES.has(node.name.value)) return undefined;
    const fields = node.fields?.map((f): FieldDefinitionNode => {
      if (FLEET_FIELDS.has(f.name.value) || f.arguments?.some((a) => a.name.value === CLUSTER_ARGUMENT))
        return f;
      return { ...f, arguments: [...(f.arguments ?? []), argument] };
    });
    return { ...node, fields };
  };
  return print(
    visit(parse(sdl), {
      [Kind.OBJECT_TYPE_DEFINITION]: addTo,
      [Kind.OBJECT_TYPE_EXTENSION]: addTo,
    }),
  );
}

export function buildTypeDefs(opts: { mutations?: boolean; typed?: TypedSchema } = {}): string {
  const parts = [baseTypeDefs()];
  if (opts.mutations) parts.push(mutationTypeDefs());
  if (opts.typed) parts.push(typedTypeDefs(opts.typed));
  return withClusterArgument(parts.join("\n"));
}

/** What the hand-written and built-in part of the schema names: typed resources avoid them. */
export function schemaNames(): SchemaNames {
  const types = new Set(["String", "Int", "Float", "Boolean", "ID", "IntOrString"]);
  const rootFields = new Set<string>();
  for (const d of parse(baseTypeDefs()).definitions) {
    if (!("name" in d) || !d.name) continue;
    types.add(d.name.value);
    if ((d.name.value === "Query" || d.name.value === "Subscription") && "fields" in d)
      for (const f of d.fields ?? []) rootFields.add(f.name.value);
  }
  // A Namespace.<kind> list of a typed resource must not take a field Namespace has.
  for (const k of CORE_KINDS.filter((k) => k.namespaced)) rootFields.add(namespaceListField(k));
  // Also the names a view class uses itself (resolvers/views.ts).
  const resourceFields = new Set([...COMMON_FIELD_NAMES, ...VIEW_RESERVED_NAMES]);
  return { types, rootFields, resourceFields };
}

/** One typed resource (--resources): its type's Resource fields, connection, root fields, events. */
function typedKindSDL(k: TypedKind): string {
  const t = k.typeName;
  const id = k.group ? `${k.resource}.${k.group}` : k.resource;
  return `
"${k.kind} (${k.group ? `${k.group}/` : ""}${k.version}), typed from the apiserver's OpenAPI (--resources ${id})."
type ${t} implements Resource {${RESOURCE_FIELDS}
}
${connectionSDL(t)}
type ${t}Event {
  type: StreamEventType!
  "Null for SYNCED and RESYNC."
  object: ${t}
  "MODIFIED only: the object before the change."
  previous: ${t}
  "Pass back as resumeFrom to continue after this event."
  resourceVersion: String!
  "Why a RESYNC happened."
  reason: String
}
extend type Query {
  "${id}: objects in (namespace, name) order."
  ${k.listField}(${k.namespaced ? "namespace: String, " : ""}${LIST_ARGS}): ${t}Connection!
  ${k.namespaced ? `${k.getField}(namespace: String!, name: String!): ${t}` : `${k.getField}(name: String!): ${t}`}
}
extend type Subscription {
  "${id} changes, with SYNCED/RESYNC markers (as resourceEvents)."
  ${k.eventsField}(${k.namespaced ? "namespace: String, " : ""}labelSelector: String, initial: Boolean = false, resumeFrom: String): ${t}Event!
}${k.namespaced ? `\nextend type Namespace {\n  ${k.listField}(labelSelector: String): [${t}!]!\n}` : ""}`;
}

function typedTypeDefs(typed: TypedSchema): string {
  return ["scalar IntOrString", typed.sdl, ...typed.kinds.map(typedKindSDL)].join("\n");
}

function baseTypeDefs(): string {
  const read = (f: string) => readFileSync(new URL(f, import.meta.url), "utf8");
  return [
    read("./base.graphql"),
    RESOURCE_INTERFACE,
    `"An object of any kind, CRDs included."\ntype GenericResource implements Resource {${RESOURCE_FIELDS}\n}`,
    connectionSDL("GenericResource"),
    ...CORE_KINDS.map(kindSDL),
    namespaceListsSDL(),
    read("./kinds.graphql"),
    read("./subscriptions.graphql"),
    read("./clusters.graphql"),
  ].join("\n");
}
