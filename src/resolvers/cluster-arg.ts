// The cluster argument of root fields (added to the SDL in src/schema/index.ts): each root
// resolver runs with the request's context for the cluster named, so it reads that cluster's
// caches, and everything nested under it stays there (views carry their context). A named
// cluster other than the default waits here, per field, for the first sync of the kinds the
// operation touches: the default cluster's wait happens before execution (useCacheSync), and a
// cluster that is down or slow then delays and fails only the fields that ask about it.
import {
  type DocumentNode,
  type GraphQLFieldResolver,
  type GraphQLResolveInfo,
  type GraphQLSchema,
  Kind,
  type OperationDefinitionNode,
} from "graphql";
import { ALL_CLUSTERS, CLUSTER_ARGUMENT } from "../schema/index.ts";
import { beforeDeadline } from "../server/deadline.ts";
import { kindsTouched } from "../server/plugins.ts";
import type { RequestContext } from "./context.ts";
import { userError } from "./errors.ts";

type Resolver = GraphQLFieldResolver<unknown, RequestContext>;

/**
 * Wraps the resolvers (and subscribe functions) of every root field with a cluster argument.
 * `fleet` are the resolvers of the fields that also take ALL_CLUSTERS, by field name; they
 * run with the request's own context and read every cluster themselves.
 */
export function installClusterArgument(schema: GraphQLSchema, fleet: Record<string, Resolver>): void {
  const fleetNames = Object.keys(fleet).sort().join(", ");
  for (const type of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]) {
    for (const field of Object.values(type?.getFields() ?? {})) {
      if (!field.args.some((a) => a.name === CLUSTER_ARGUMENT)) continue;
      const all: Resolver =
        type === schema.getQueryType() && fleet[field.name]
          ? fleet[field.name]!
          : () => {
              throw userError(
                `cluster: "${ALL_CLUSTERS}" (every cluster) is for the list fields ${fleetNames}; ${field.name} ${type === schema.getMutationType() ? "writes to" : "reads"} one cluster: name it`,
                "BAD_USER_INPUT",
                { argument: CLUSTER_ARGUMENT },
              );
            };
      if (field.subscribe) field.subscribe = inNamedCluster(field.subscribe, all);
      else if (field.resolve) field.resolve = inNamedCluster(field.resolve, all);
    }
  }
}

function inNamedCluster(inner: Resolver, all: Resolver): Resolver {
  return (source, args, ctx, info) => {
    const name = args[CLUSTER_ARGUMENT] as string | null | undefined;
    if (name === undefined || name === null) {
      if (ctx.access.refusal) throw ctx.access.refusal;
      return inner(source, args, ctx, info);
    }
    if (name === ALL_CLUSTERS) return all(source, args, ctx, info);
    const target = ctx.inCluster(name);
    // With --auth and several clusters: a cluster that refused the caller answers it nothing.
    if (target.access.refusal) throw target.access.refusal;
    if (target.gateway === ctx.gateway) return inner(source, args, target, info);
    const unsynced = target.gateway.unsyncedKinds(touchedBy(info));
    if (unsynced.length === 0) return inner(source, args, target, info);
    const waiting = `waiting for the first sync of ${unsynced.join(", ")} in cluster "${name}"`;
    return beforeDeadline(target.gateway.waitForKinds(unsynced), ctx.deadline, waiting).then(
      () => inner(source, args, target, info),
      (err: Error & { extensions?: Record<string, unknown> }) => {
        throw err.extensions
          ? userError(`cluster "${name}": ${err.message}`, err.extensions.code as never, {
              ...err.extensions,
              cluster: name,
            })
          : err;
      },
    );
  };
}

/** Documents of one operation and its fragments, for kindsTouched (cached per operation). */
const documents = new WeakMap<OperationDefinitionNode, DocumentNode>();

function touchedBy(info: GraphQLResolveInfo): ReadonlySet<string> {
  let document = documents.get(info.operation);
  if (!document) {
    document = { kind: Kind.DOCUMENT, definitions: [info.operation, ...Object.values(info.fragments)] };
    documents.set(info.operation, document);
  }
  return kindsTouched(info.schema, document);
}
