// All resolvers, assembled: generated per kind from the kinds table plus kind-specific fields.
import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from "graphql";
import { CORE_KINDS } from "../kinds.ts";
import { kindFieldResolvers, resolveResourceType, resourceFieldResolvers } from "./common.ts";
import { kindResolvers } from "./fields.ts";
import { genericResourceResolvers, namespaceFieldResolvers, rootQueryResolvers } from "./query.ts";
import { subscriptionResolvers } from "./subscriptions.ts";

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

export function buildResolvers() {
  const resolvers: Record<string, unknown> = {
    JSONObject,
    Query: rootQueryResolvers(),
    Subscription: subscriptionResolvers(),
    Resource: { __resolveType: resolveResourceType },
    GenericResource: {
      ...resourceFieldResolvers,
      kind: (o: { kind?: string }) => o.kind ?? "",
      apiVersion: (o: { apiVersion?: string }) => o.apiVersion ?? "",
      ...genericResourceResolvers,
    },
  };
  for (const k of CORE_KINDS) {
    const apiVersion = k.group ? `${k.group}/${k.version}` : k.version;
    resolvers[k.typeName] = { ...kindFieldResolvers(k.kind, apiVersion), ...kindResolvers[k.kind] };
  }
  resolvers.Namespace = { ...(resolvers.Namespace as object), ...namespaceFieldResolvers() };
  return resolvers;
}
