// The executable schema: SDL (src/schema) plus the resolvers. Root fields are resolvers; the
// fields of every kind (and of GenericResource) are field functions generated per kind from the
// kinds table plus kind-specific ones, installed as getters on per-request views (views.ts).
import { GraphQLError, GraphQLScalarType, type GraphQLSchema, Kind, type ValueNode } from "graphql";
import { createSchema } from "graphql-yoga";
import { CORE_KINDS } from "../kinds.ts";
import { type AuditLog, mutationResolvers } from "../mutations/resolvers.ts";
import { buildTypeDefs } from "../schema/index.ts";
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

export interface SchemaOptions {
  /** Serve the Mutation type (--enable-mutations), auditing each mutation to this log. */
  mutations?: { audit: AuditLog | undefined };
}

export function buildSchema(opts: SchemaOptions = {}): GraphQLSchema {
  const schema = createSchema<RequestContext>({
    typeDefs: buildTypeDefs({ mutations: opts.mutations !== undefined }),
    resolvers: {
      JSONObject,
      Query: rootQueryResolvers(),
      ...(opts.mutations ? { Mutation: mutationResolvers(opts.mutations.audit) } : {}),
      Subscription: subscriptionResolvers(),
      // Set by installViews: a view knows its type.
      Resource: { __resolveType: () => null },
    } as never,
  });
  // Before installViews, which wraps these resolvers: what they return (from any cluster)
  // becomes views in each object's own cluster.
  installClusterArgument(schema, fleetQueryResolvers() as never);
  installViews(schema, kindFieldFunctions());
  return schema;
}
