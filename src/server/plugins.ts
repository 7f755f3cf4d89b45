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
import { CORE_KINDS, kindByName } from "../kinds.ts";
import type { Gateway } from "../resolvers/gateway.ts";

const kindTypeNames = new Map<string, string>([
  ...CORE_KINDS.map((k) => [k.typeName, k.kind] as [string, string]),
  // Subscription payloads read pods even when the selection asks only for `type`.
  ["PodEvent", "Pod"],
  ["PodStreamEvent", "Pod"],
]);

/** Core kinds an operation reads: every selected field's type, interfaces meaning all kinds. */
export function kindsTouched(schema: GraphQLSchema, document: DocumentNode): Set<string> {
  const kinds = new Set<string>();
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
        if (kind) kinds.add(kind);
        else if (isInterfaceType(named) && named.name === "Resource")
          for (const k of CORE_KINDS) kinds.add(k.kind);
      },
    }),
  );
  // Traversals read kinds other than their return type (e.g. Deployment.pods reads ReplicaSets).
  if (kinds.has("Pod")) kinds.add("ReplicaSet");
  if (kinds.size) kinds.add("Namespace"); // namespace arguments are checked against it
  return kinds;
}

export function useCacheSync(gateway: Gateway): Plugin {
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const kinds = kindsTouched(args.schema, args.document);
      try {
        await gateway.waitForKinds([...kinds].filter((k) => kindByName(k)));
      } catch (err) {
        if (err instanceof GraphQLError) setResultAndStopExecution({ errors: [err] });
        else throw err;
      }
    },
  };
}

/** A compact freshness summary in every response: extensions.cache. */
export function cacheSummary(gateway: Gateway) {
  const now = Date.now();
  const unsynced: string[] = [];
  const stale: { kind: string; seconds: number }[] = [];
  for (const informer of gateway.factory.informers()) {
    const s = informer.status();
    if (!s.synced) unsynced.push(s.kind);
    else if (s.unhealthySince && now - s.unhealthySince > gateway.staleAfterMs) {
      stale.push({ kind: s.kind, seconds: Math.round((now - s.unhealthySince) / 1000) });
    }
  }
  return { synced: unsynced.length === 0, unsynced, stale };
}

export function useCacheExtensions(gateway: Gateway): Plugin {
  return {
    onExecute() {
      return {
        onExecuteDone({ result, setResult }) {
          if (Symbol.asyncIterator in (result as object)) return;
          const r = result as { extensions?: Record<string, unknown> };
          setResult({ ...r, extensions: { ...r.extensions, cache: cacheSummary(gateway) } } as never);
        },
      };
    },
  };
}
