// Which cluster a cached object came from, as a symbol-keyed property set once when the object
// is decoded: a fleet query's nodes, and everything reached from them, are resolved in their
// own cluster. Symbol keys are not serialized (raw stays the object as served) and objects of
// the default cluster carry none, so single-cluster caches are exactly as they were.
import type { KubeObject } from "./types.ts";

export const CLUSTER = Symbol("kgql.cluster");

/** The name of the cluster an object was cached from; undefined for the default cluster's. */
export function clusterTagOf(obj: KubeObject): string | undefined {
  return (obj as { [CLUSTER]?: string })[CLUSTER];
}

export function tagCluster(obj: KubeObject, cluster: string): void {
  (obj as { [CLUSTER]?: string })[CLUSTER] = cluster;
}
