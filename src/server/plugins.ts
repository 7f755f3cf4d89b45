// Envelop plugins: wait for the kinds an operation touches to sync (bounded) before executing
// it synchronously, and report cache freshness in the response extensions.

import {
  type DocumentNode,
  GraphQLError,
  type GraphQLSchema,
  getNamedType,
  isInterfaceType,
  TypeInfo,
  visit,
  visitWithTypeInfo,
} from "graphql";
import type { Plugin } from "graphql-yoga";
import { readsDefaultCluster } from "../clusters/operation.ts";
import type { ClusterRegistry } from "../clusters/registry.ts";
import { CORE_KINDS } from "../kinds.ts";
import type { RequestContext } from "../resolvers/context.ts";
import type { Gateway } from "../resolvers/gateway.ts";
import { type TypedKind, typedKindOf } from "../typed/types.ts";
import { beforeDeadline } from "./deadline.ts";

const kindTypeNames = new Map<string, string>([
  ...CORE_KINDS.map((k) => [k.typeName, k.kind] as [string, string]),
  // Subscription payloads read pods even when the selection asks only for `type`.
  ["PodEvent", "Pod"],
  ["PodStreamEvent", "Pod"],
]);

/** What an operation reads: core kinds, and typed resources (--resources). */
export interface OperationReads {
  kinds: ReadonlySet<string>;
  typed: readonly TypedKind[];
}

// Parsed documents are cached (yoga's parser cache hands back the same object for the same
// text), so the walk below runs once per distinct operation, not once per request.
// Per schema too: the schema changes with the typed resources (--resources).
const readsCache = new WeakMap<GraphQLSchema, WeakMap<DocumentNode, OperationReads>>();

/** What an operation reads, from one walk of it per schema (cached). */
export function operationReads(schema: GraphQLSchema, document: DocumentNode): OperationReads {
  let perSchema = readsCache.get(schema);
  if (!perSchema) {
    perSchema = new WeakMap();
    readsCache.set(schema, perSchema);
  }
  let reads = perSchema.get(document);
  if (!reads) {
    reads = walkReads(schema, document);
    perSchema.set(document, reads);
  }
  return reads;
}

/** Core kinds an operation reads: every selected field's type, interfaces meaning all kinds. */
export function kindsTouched(schema: GraphQLSchema, document: DocumentNode): ReadonlySet<string> {
  return operationReads(schema, document).kinds;
}

function walkReads(schema: GraphQLSchema, document: DocumentNode): OperationReads {
  const kinds = new Set<string>();
  const typed = new Set<TypedKind>();
  const typeInfo = new TypeInfo(schema);
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field() {
        const type = typeInfo.getType();
        if (!type) return;
        const named = getNamedType(type);
        const kind =
          kindTypeNames.get(named.name) ?? kindTypeNames.get(named.name.replace(/(Connection|Edge)$/, ""));
        if (kind) {
          kinds.add(kind);
          return;
        }
        if (isInterfaceType(named) && named.name === "Resource") {
          for (const k of CORE_KINDS) kinds.add(k.kind);
          return;
        }
        // A typed resource (--resources), its connection or its events.
        const t = typedKindOf(schema, named.name) ?? typedKindOf(schema, named.name.replace(/Event$/, ""));
        if (t) {
          typed.add(t);
          kinds.add("Namespace"); // its namespace arguments are checked against Namespace
        }
      },
    }),
  );
  // Traversals read kinds other than their return type (e.g. Deployment.pods reads ReplicaSets).
  if (kinds.has("Pod")) kinds.add("ReplicaSet");
  if (kinds.size) kinds.add("Namespace"); // namespace arguments are checked against it
  return { kinds, typed: [...typed] };
}

/**
 * Waits for the first sync of the kinds an operation touches, before it runs: a query reads
 * complete caches, and a subscription is estimated (cost limit, the next plugin) from real
 * cache sizes, not from empty stores that would admit any selection.
 */
export function useCacheSync(gateway: Gateway, clusters?: ClusterRegistry): Plugin {
  const waitForSync = (
    args: {
      schema: GraphQLSchema;
      document: DocumentNode;
      contextValue: unknown;
      operationName?: string | null;
      variableValues?: Record<string, unknown> | null;
    },
    stop: (result: { errors: GraphQLError[] }) => void,
  ): Promise<void> | undefined => {
    // Synchronous when everything touched has synced (the steady state): no promise per request.
    const unsynced = gateway.unsyncedKinds(kindsTouched(args.schema, args.document));
    if (unsynced.length === 0) return;
    // Other clusters are waited for per field (resolvers/cluster-arg.ts).
    if (
      clusters &&
      clusters.size > 1 &&
      !readsDefaultCluster(
        args.schema,
        args.document,
        args.operationName,
        args.variableValues,
        gateway.cluster,
      )
    )
      return;
    const deadline = (args.contextValue as Partial<RequestContext>).deadline;
    const waiting = `waiting for the first sync of ${unsynced.join(", ")}`;
    return beforeDeadline(gateway.waitForKinds(unsynced), deadline, waiting).catch((err) => {
      if (err instanceof GraphQLError) stop({ errors: [err] });
      else throw err;
    });
  };
  return {
    onExecute: ({ args, setResultAndStopExecution }) => waitForSync(args, setResultAndStopExecution),
    onSubscribe: ({ args, setResultAndStopExecution }) => waitForSync(args, setResultAndStopExecution),
  };
}

/**
 * A compact freshness summary in every response (extensions.cache): whether every cache has
 * synced (and which have not), which watches are broken right now (the data is the last known
 * state), and which have been broken longer than staleAfterMs.
 */
export function cacheSummary(gateway: Gateway) {
  const now = Date.now();
  const unsynced: string[] = [];
  const unhealthy: string[] = [];
  const stale: { kind: string; seconds: number }[] = [];
  // Every response carries this: read two fields per informer, no status() copies.
  for (const informer of gateway.cachedInformers()) {
    if (!informer.isStarted) continue;
    const kind = informer.resource.kind;
    const since = informer.unhealthySince;
    if (!informer.hasSynced()) unsynced.push(kind);
    else if (since) {
      unhealthy.push(kind);
      if (now - since > gateway.staleAfterMs) stale.push({ kind, seconds: Math.round((now - since) / 1000) });
    }
  }
  return { synced: unsynced.length === 0, unsynced, unhealthy, stale };
}

/**
 * extensions.cache: the default cluster's summary, as with one cluster; serving several, also
 * `clusters`, every cluster's summary by name, so a cluster that is down shows in every answer.
 */
export function fleetCacheSummary(gateway: Gateway, clusters?: ClusterRegistry) {
  const summary = cacheSummary(gateway);
  if (!clusters || clusters.size < 2) return summary;
  const byName: Record<string, ReturnType<typeof cacheSummary>> = {};
  for (const g of clusters.all()) byName[g.cluster] = g === gateway ? summary : cacheSummary(g);
  return { ...summary, clusters: byName };
}

export function useCacheExtensions(gateway: Gateway, clusters?: ClusterRegistry): Plugin {
  return {
    onExecute() {
      return {
        onExecuteDone({ result, setResult }) {
          if (Symbol.asyncIterator in (result as object)) return;
          const r = result as { extensions?: Record<string, unknown> };
          const cache = fleetCacheSummary(gateway, clusters);
          setResult({ ...r, extensions: { ...r.extensions, cache } } as never);
        },
      };
    },
  };
}

/**
 * Bounds an execution that went asynchronous (resources(...) starting an informer, apiResources
 * asking discovery) by the request's deadline. Synchronous executions are left alone: they
 * cannot be interrupted, and they are short.
 */
export function useExecutionDeadline(): Plugin {
  return {
    onExecute({ executeFn, setExecuteFn }) {
      setExecuteFn((args) => {
        const result = executeFn(args);
        if (!(result instanceof Promise)) return result;
        const deadline = (args.contextValue as Partial<RequestContext>).deadline;
        // A little after the deadline: the waits inside (a resource's sync, an access review)
        // are raced against the deadline itself and say what they were waiting for.
        const late = deadline && { ...deadline, at: deadline.at + 50 };
        return beforeDeadline(result, late, "executing the query").catch((err) => {
          if (err instanceof GraphQLError) return { errors: [err] };
          throw err;
        });
      });
    },
  };
}
