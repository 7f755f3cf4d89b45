// The simulated cluster's data: objects per resource, one global resourceVersion counter (like
// etcd's revision), a bounded history of changes for watches, and list snapshots for paging.
import { randomUUID } from "node:crypto";
import type { KubeObject } from "../informers/types.ts";
import type { SandboxResource } from "./resources.ts";

export interface Change {
  rv: number;
  type: "ADDED" | "MODIFIED" | "DELETED";
  resource: string;
  object: KubeObject;
}

export type ChangeListener = (change: Change) => void;

export class ClusterState {
  private rv = 1;
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private readonly history: Change[] = [];
  /** Changes at or below this RV may be missing from history: watches from older RVs get 410. */
  floor = 1;
  private readonly listeners = new Set<ChangeListener>();
  readonly historyLimit: number;

  constructor(historyLimit: number) {
    this.historyLimit = historyLimit;
  }

  get resourceVersion(): number {
    return this.rv;
  }

  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  objectsOf(resource: string): Map<string, KubeObject> {
    let m = this.objects.get(resource);
    if (!m) {
      m = new Map();
      this.objects.set(resource, m);
    }
    return m;
  }

  get(res: SandboxResource, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.objectsOf(res.resource).get(key(res, namespace, name));
  }

  create(res: SandboxResource, input: KubeObject): KubeObject {
    const meta = input.metadata;
    const k = key(res, meta.namespace, meta.name);
    if (this.objectsOf(res.resource).has(k)) throw new Error(`${res.resource} "${k}" already exists`);
    const obj: KubeObject = {
      ...input,
      apiVersion: res.group ? `${res.group}/${res.version}` : res.version,
      kind: res.kind,
      metadata: {
        ...meta,
        namespace: res.namespaced ? (meta.namespace ?? "default") : undefined,
        uid: meta.uid || randomUUID(),
        resourceVersion: String(++this.rv),
        creationTimestamp: meta.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, "Z"),
        generation: 1,
      },
    };
    if (!res.namespaced) delete obj.metadata.namespace;
    this.objectsOf(res.resource).set(k, obj);
    this.record("ADDED", res, obj);
    return obj;
  }

  update(res: SandboxResource, input: KubeObject): KubeObject {
    const k = key(res, input.metadata.namespace, input.metadata.name);
    const old = this.objectsOf(res.resource).get(k);
    if (!old) throw new Error(`${res.resource} "${k}" not found`);
    const obj: KubeObject = {
      ...input,
      apiVersion: old.apiVersion,
      kind: old.kind,
      metadata: {
        ...input.metadata,
        uid: old.metadata.uid,
        creationTimestamp: old.metadata.creationTimestamp,
        namespace: old.metadata.namespace,
        resourceVersion: String(++this.rv),
        generation: (old.metadata.generation ?? 1) + (input.spec === old.spec ? 0 : 1),
      },
    };
    if (!res.namespaced) delete obj.metadata.namespace;
    this.objectsOf(res.resource).set(k, obj);
    this.record("MODIFIED", res, obj);
    return obj;
  }

  delete(res: SandboxResource, namespace: string | undefined, name: string): KubeObject | undefined {
    const k = key(res, namespace, name);
    const old = this.objectsOf(res.resource).get(k);
    if (!old) return undefined;
    this.objectsOf(res.resource).delete(k);
    const obj = { ...old, metadata: { ...old.metadata, resourceVersion: String(++this.rv) } };
    this.record("DELETED", res, obj);
    return obj;
  }

  /** Changes of one resource after `rv`, or undefined when history no longer reaches back. */
  changesSince(resource: string, rv: number): Change[] | undefined {
    if (rv < this.floor) return undefined;
    return this.history.filter((c) => c.rv > rv && c.resource === resource);
  }

  /** Models etcd compaction: every RV before now is too old to watch from. */
  compact(): void {
    this.history.length = 0;
    this.floor = this.rv;
  }

  private record(type: Change["type"], res: SandboxResource, object: KubeObject): void {
    const change: Change = { rv: this.rv, type, resource: res.resource, object };
    this.history.push(change);
    if (this.history.length > this.historyLimit) {
      const evicted = this.history.splice(0, this.history.length - this.historyLimit);
      this.floor = evicted.at(-1)!.rv;
    }
    for (const l of this.listeners) l(change);
  }
}

export function key(res: SandboxResource, namespace: string | undefined, name: string): string {
  return res.namespaced ? `${namespace ?? "default"}/${name}` : name;
}
