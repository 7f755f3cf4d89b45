// An informer's store and sync listeners, nothing else: what the subscription hub needs from an
// informer, for tests that drive the hub change by change without a cluster.
import type { StoreDelta } from "../../src/informers/store.ts";
import type { KubeObject } from "../../src/informers/types.ts";
import { pod } from "./sandbox.ts";

export class StandInInformer {
  readonly objects = new Map<string, KubeObject>();
  private readonly listeners = new Set<(d: StoreDelta) => void>();
  private rv = 1;
  /** The informer's position: the last change's resourceVersion. */
  lastSyncResourceVersion = "1";
  readonly store = { values: () => this.objects.values() };

  addSyncListener(listener: (d: StoreDelta) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Adds or changes a pod, telling the listeners in the same turn (as the store does). */
  apply(name: string, namespace = "default", labels: Record<string, string> = {}): void {
    const object = pod(name, namespace, labels);
    object.metadata.resourceVersion = String(++this.rv);
    this.lastSyncResourceVersion = object.metadata.resourceVersion;
    const key = `${namespace}/${name}`;
    const oldObject = this.objects.get(key);
    this.objects.set(key, object);
    const delta: StoreDelta = oldObject ? { type: "MODIFIED", object, oldObject } : { type: "ADDED", object };
    for (const l of this.listeners) l(delta);
  }
}
