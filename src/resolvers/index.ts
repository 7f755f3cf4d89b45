// The executable schema: SDL (src/schema) plus the resolvers. Root fields are resolvers; the
// fields of every kind (and of GenericResource) are field functions generated per kind from the
// kinds table plus kind-specific ones, installed as getters on per-request views (views.ts).
import { GraphQLError, GraphQLScalarType, type GraphQLSchema, Kind, type ValueNode } from "graphql";
import { createSchema } from "graphql-yoga";
import { CORE_KINDS } from "../kinds.ts";
import { type AuditLog, mutationResolvers } from "../mutations/resolvers.ts";
import { buildTypeDefs } from "../schema/index.ts";
import { TYPED_EXTENSION, type TypedSchema } from "../typed/types.ts";
import { installClusterArgument } from "./cluster-arg.ts";
import { kindFieldResolvers, resourceFieldResolvers } from "./common.ts";
import type { RequestContext } from "./context.ts";
import { kindResolvers } from "./fields.ts";
import {
  fleetQueryResolvers,
  genericResourceResolvers,
  namespaceFieldResolvers,
  rootQueryResolvers,
} from "./query.ts";
import { subscriptionResolvers } from "./subscriptions.ts";
import {
  renamedFieldResolvers,
  typedFieldFunctions,
  typedFleetResolvers,
  typedNamespaceFields,
  typedQueryResolvers,
  typedSubscriptionResolvers,
} from "./typed.ts";
import { type FieldFn, GENERIC_TYPE, installViews } from "./views.ts";

function literal(node: ValueNode): unknown {
  switch (node.kind) {
    case Kind.OBJECT:
      return Object.fromEntries(node.fields.map((f) => [f.name.value, literal(f.value)]));
    case Kind.LIST:
      return node.values.map(literal);
    case Kind.INT:
    case Kind.FLOAT:
      return Number(node.value);
    case Kind.STRING:
    case Kind.BOOLEAN:
    case Kind.ENUM:
      return node.value;
    default:
      return null;
  }
}

const JSONObject = new GraphQLScalarType({
  name: "JSONObject",
  description: "Any JSON object.",
  serialize: (v) => v,
  parseValue: (v) => {
    if (typeof v !== "object" || v === null || Array.isArray(v))
      throw new GraphQLError("JSONObject must be an object");
    return v;
  },
  parseLiteral: (node) => literal(node),
});

/** The field functions of every kind's type and of GenericResource, by GraphQL type name. */
export function kindFieldFunctions(): Record<string, Record<string, FieldFn>> {
  const out: Record<string, Record<string, FieldFn>> = {
    [GENERIC_TYPE]: {
      ...resourceFieldResolvers,
      kind: (o) => o.kind ?? "",
      apiVersion: (o) => o.apiVersion ?? "",
      ...genericResourceResolvers,
    },
  };
  for (const k of CORE_KINDS) {
    const apiVersion = k.group ? `${k.group}/${k.version}` : k.version;
    out[k.typeName] = { ...kindFieldResolvers(k.kind, apiVersion), ...kindResolvers[k.kind] };
  }
  out.Namespace = { ...out.Namespace, ...namespaceFieldResolvers() };
  return out;
}

/** int-or-string values (Kubernetes intstr) as they are: a number or a string. */
const IntOrString = new GraphQLScalarType({
  name: "IntOrString",
  description: "An int-or-string value (Kubernetes intstr): a number or a string, as the object holds it.",
  serialize: (v) => v,
  parseValue: (v) => {
    if (typeof v !== "string" && !Number.isInteger(v))
      throw new GraphQLError("IntOrString must be an integer or a string");
    return v;
  },
  parseLiteral: (node) =>
    node.kind === Kind.INT ? Number(node.value) : node.kind === Kind.STRING ? node.value : undefined,
});

export interface SchemaOptions {
  /** Serve the Mutation type (--enable-mutations), auditing each mutation to this log. */
  mutations?: { audit: AuditLog | undefined };
  /** Typed resources (--resources): their types, root fields and subscriptions. */
  typed?: TypedSchema;
}

export function buildSchema(opts: SchemaOptions = {}): GraphQLSchema {
  const { typed } = opts;
  const kinds = typed?.kinds ?? [];
  const schema = createSchema<RequestContext>({
    typeDefs: buildTypeDefs({ mutations: opts.mutations !== undefined, typed }),
    resolvers: {
      JSONObject,
      ...(typed ? { IntOrString, ...renamedFieldResolvers(typed.renames) } : {}),
      Query: { ...rootQueryResolvers(), ...typedQueryResolvers(kinds) },
      ...(opts.mutations ? { Mutation: mutationResolvers(opts.mutations.audit) } : {}),
      Subscription: { ...subscriptionResolvers(), ...typedSubscriptionResolvers(kinds) },
      // Set by installViews: a view knows its type.
      Resource: { __resolveType: () => null },
    } as never,
  });
  // Before installViews, which wraps these resolvers: what they return (from any cluster)
  // becomes views in each object's own cluster.
  installClusterArgument(schema, { ...fleetQueryResolvers(), ...typedFleetResolvers(kinds) } as never);
  const fields = { ...kindFieldFunctions(), ...typedFieldFunctions(kinds) };
  fields.Namespace = { ...fields.Namespace, ...typedNamespaceFields(kinds) };
  const typedTypes = new Map<string, string>();
  for (const k of kinds) {
    typedTypes.set(`${k.group ? `${k.group}/` : ""}${k.version} ${k.kind}`, k.typeName);
    const type = schema.getType(k.typeName)!;
    // For the cost estimate and the plugins: which resource a type (and its connection) reads.
    for (const t of [type, schema.getType(`${k.typeName}Connection`)!])
      (t as { extensions: object }).extensions = { ...t.extensions, [TYPED_EXTENSION]: k };
  }
  installViews(schema, fields, typedTypes);
  return schema;
}
