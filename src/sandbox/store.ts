// The simulated cluster's data, modelled on etcd behind kube-apiserver: one global revision
// counter for every kind (resourceVersion), objects per resource, and a bounded history of
// changes. The history serves three things: watches resuming from an RV, consistent paged
// lists (a later page is the state at the first page's RV, rebuilt by undoing newer changes),
// and lists at an exact RV. Anything older than the history is gone, like after compaction.
//
// Stored objects are immutable: every write stores a new object, so list snapshots and history
// entries can share them without copying. Callers must not mutate what they pass in or get back
// (the top level and metadata are frozen to catch the common mistakes).
import { randomBytes, randomUUID } from "node:crypto";
import type { KubeObject, ObjectMeta } from "../informers/types.ts";
import { alreadyExists, conflict, notFound, SandboxError, statusBody } from "./errors.ts";
import { apiVersionOf, type SandboxResource } from "./resources.ts";

export type ChangeType = "ADDED" | "MODIFIED" | "DELETED";

export interface Change {
  readonly rv: number;
  readonly type: ChangeType;
  readonly res: SandboxResource;
  readonly key: string;
  /** The new state; for DELETED the last state, carrying the deletion's resourceVersion. */
  readonly object: KubeObject;
  /** The state before the change (undefined for ADDED). */
  readonly prev: KubeObject | undefined;
}

export type ChangeListener = (change: Change) => void;

/** One resource's objects, with its keys kept sorted once someone has listed them. */
export class Collection {
  readonly objects = new Map<string, KubeObject>();
  /** Sorted keys, built on the first list and then maintained (seeding never pays for it). */
  private sorted: string[] | undefined;

  sortedKeys(): readonly string[] {
    this.sorted ??= [...this.objects.keys()].sort(compareKeys);
    return this.sorted;
  }

  /**
   * The objects in key order, one namespace's when given: keys of a namespace are the range
   * [ns/, ns0), '0' being the character after '/'.
   */
  inOrder(namespace?: string): KubeObject[] {
    const keys = this.sortedKeys();
    const lo = namespace ? lowerBound(keys, `${namespace}/`) : 0;
    const hi = namespace ? lowerBound(keys, `${namespace}0`) : keys.length;
    const out: KubeObject[] = new Array(hi - lo);
    for (let i = lo; i < hi; i++) out[i - lo] = this.objects.get(keys[i]!)!;
    return out;
  }

  set(key: string, obj: KubeObject): void {
    const isNew = !this.objects.has(key);
    this.objects.set(key, obj);
    if (isNew && this.sorted) this.sorted.splice(lowerBound(this.sorted, key), 0, key);
  }

  remove(key: string): void {
    if (!this.objects.delete(key) || !this.sorted) return;
    this.sorted.splice(lowerBound(this.sorted, key), 1);
  }
}

/** etcd orders keys bytewise; for the ASCII keys Kubernetes names allow this is the same. */
export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The first index whose key is >= key. */
export function lowerBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function storeKey(res: SandboxResource, namespace: string | undefined, name: string): string {
  return res.namespaced ? `${namespace || "default"}/${name}` : name;
}

/** Identity of a resource's storage (one per group and plural, as in etcd's /registry/<group>/<resource>). */
function collectionId(res: SandboxResource): string {
  return `${res.group}/${res.resource}`;
}

export interface WriteOptions {
  /**
   * Writes from the in-process API keep a uid and creationTimestamp the caller chose (so seeds are
   * deterministic); writes over HTTP get fresh ones, as on a real server.
   */
  trustMetadata?: boolean;
  /**
   * dryRun=All: the object is made and checked exactly as the write would make it, and returned,
   * but nothing is stored, recorded or counted (a created object has no resourceVersion yet: "";
   * an updated one keeps its own, as the apiserver answers).
   */
  dryRun?: boolean;
}

export class ObjectStore {
  private rv = 1;
  private readonly collections = new Map<string, Collection>();
  private history: Change[] = [];
  /** history[head..] are the kept changes; older slots wait for the next trim. */
  private head = 0;
  private compactedAt = 1;
  private readonly listeners = new Set<ChangeListener>();
  readonly historyLimit: number;

  constructor(historyLimit: number) {
    this.historyLimit = Math.max(0, Math.floor(historyLimit));
  }

  /** The latest resourceVersion (etcd's revision). */
  get resourceVersion(): number {
    return this.rv;
  }

  /**
   * Every change after this RV is in the history; changes up to it may be gone. Watching from,
   * paging at or listing exactly at an RV below it gets 410 ("too old resource version: X (floor)").
   */
  get floor(): number {
    return this.compactedAt;
  }

  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  collection(res: SandboxResource): Collection {
    const id = collectionId(res);
    let c = this.collections.get(id);
    if (!c) {
      c = new Collection();
      this.collections.set(id, c);
    }
    return c;
  }

  get(res: SandboxResource, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.collection(res).objects.get(storeKey(res, namespace, name));
  }

  create(res: SandboxResource, input: KubeObject, opts: WriteOptions = {}): KubeObject {
    const meta = input.metadata ?? ({} as ObjectMeta);
    const coll = this.collection(res);
    let name = meta.name;
    if (!name && meta.generateName) {
      // Like the apiserver's name generator: five characters from a vowel-free alphabet.
      do name = meta.generateName + randomSuffix();
      while (coll.objects.has(storeKey(res, meta.namespace, name)));
    }
    if (!name) {
      throw new SandboxError(
        statusBody(
          422,
          "Invalid",
          `${res.kind} "" is invalid: metadata.name: Required value: name or generateName is required`,
        ),
      );
    }
    const key = storeKey(res, meta.namespace, name);
    if (coll.objects.has(key)) throw new SandboxError(alreadyExists(res, name));
    const trust = opts.trustMetadata ?? true;
    const metadata: ObjectMeta = {
      ...meta,
      name,
      namespace: res.namespaced ? meta.namespace || "default" : undefined,
      uid: (trust && meta.uid) || randomUUID(),
      resourceVersion: opts.dryRun ? "" : String(++this.rv),
      creationTimestamp: (trust && meta.creationTimestamp) || timestamp(),
    };
    if (res.generation) metadata.generation = 1;
    else delete metadata.generation;
    if (!res.namespaced) delete metadata.namespace;
    const obj = seal(res, input, metadata);
    if (opts.dryRun) return obj;
    coll.set(key, obj);
    this.record("ADDED", res, key, obj, undefined);
    return obj;
  }

  /**
   * Replaces an object. A non-empty metadata.resourceVersion must be the current one (optimistic
   * concurrency, 409 Conflict otherwise); an empty one means an unconditional update.
   */
  update(res: SandboxResource, input: KubeObject, opts: Pick<WriteOptions, "dryRun"> = {}): KubeObject {
    const meta = input.metadata;
    const key = storeKey(res, meta.namespace, meta.name);
    const coll = this.collection(res);
    const old = coll.objects.get(key);
    if (!old) throw new SandboxError(notFound(res, meta.name));
    if (meta.resourceVersion && meta.resourceVersion !== old.metadata.resourceVersion) {
      throw new SandboxError(conflict(res, meta.name));
    }
    const metadata: ObjectMeta = {
      ...meta,
      namespace: old.metadata.namespace,
      uid: old.metadata.uid,
      resourceVersion: opts.dryRun ? old.metadata.resourceVersion : String(++this.rv),
      creationTimestamp: old.metadata.creationTimestamp,
    };
    if (!res.namespaced) delete metadata.namespace;
    if (res.generation) {
      const gen = old.metadata.generation ?? 1;
      metadata.generation = specChanged(old.spec, input.spec) ? gen + 1 : gen;
    } else delete metadata.generation;
    // deletionTimestamp, once set, cannot be taken back.
    if (old.metadata.deletionTimestamp) metadata.deletionTimestamp = old.metadata.deletionTimestamp;
    const obj = seal(res, input, metadata);
    if (opts.dryRun) return obj;
    coll.set(key, obj);
    this.record("MODIFIED", res, key, obj, old);
    return obj;
  }

  /** Removes an object at once (no graceful deletion, no finalizers); undefined if absent. */
  delete(res: SandboxResource, namespace: string | undefined, name: string): KubeObject | undefined {
    const key = storeKey(res, namespace, name);
    const coll = this.collection(res);
    const old = coll.objects.get(key);
    if (!old) return undefined;
    coll.remove(key);
    const obj = Object.freeze({
      ...old,
      metadata: Object.freeze({ ...old.metadata, resourceVersion: String(++this.rv) }),
    }) as KubeObject;
    this.record("DELETED", res, key, obj, old);
    return obj;
  }

  /** The kept changes after `rv`, oldest first; undefined when history no longer reaches back. */
  changesSince(rv: number): readonly Change[] | undefined {
    if (rv < this.compactedAt) return undefined;
    const from = this.indexAfter(rv);
    return from === this.history.length ? [] : this.history.slice(from);
  }

  /**
   * How one resource looked at `rv`, as differences from now: key -> object at rv, or null where
   * the key did not exist then. Undefined when history no longer reaches back.
   */
  overlayAt(res: SandboxResource, rv: number): Map<string, KubeObject | null> | undefined {
    if (rv < this.compactedAt) return undefined;
    const overlay = new Map<string, KubeObject | null>();
    for (let i = this.indexAfter(rv); i < this.history.length; i++) {
      const c = this.history[i]!;
      // The oldest change after rv tells what was there at rv: its previous state.
      if (c.res === res && !overlay.has(c.key)) overlay.set(c.key, c.prev ?? null);
    }
    return overlay;
  }

  /** Models etcd compaction: no RV before now can be watched from or paged at any more. */
  compact(): void {
    this.history = [];
    this.head = 0;
    this.compactedAt = this.rv;
  }

  private indexAfter(rv: number): number {
    let lo = this.head;
    let hi = this.history.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.history[mid]!.rv <= rv) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private record(
    type: ChangeType,
    res: SandboxResource,
    key: string,
    object: KubeObject,
    prev: KubeObject | undefined,
  ): void {
    const change: Change = { rv: this.rv, type, res, key, object, prev };
    if (this.historyLimit > 0) this.history.push(change);
    else this.compactedAt = this.rv;
    if (this.history.length - this.head > this.historyLimit) {
      this.compactedAt = this.history[this.head]!.rv;
      this.head++;
      // Drop evicted slots in bulk: amortised O(1) per write instead of a shift each time.
      if (this.head >= 1024 && this.head * 2 >= this.history.length) {
        this.history = this.history.slice(this.head);
        this.head = 0;
      }
    }
    for (const l of this.listeners) l(change);
  }
}

/** The stored form: kind and apiVersion first (the list writer relies on it), then metadata. */
function seal(res: SandboxResource, input: KubeObject, metadata: ObjectMeta): KubeObject {
  const { kind: _k, apiVersion: _a, metadata: _m, ...rest } = input;
  return Object.freeze({
    kind: res.kind,
    apiVersion: apiVersionOf(res),
    metadata: Object.freeze(metadata),
    ...rest,
  });
}

function specChanged(a: unknown, b: unknown): boolean {
  if (a === b) return false;
  return JSON.stringify(a) !== JSON.stringify(b);
}

/** RFC 3339 with second precision, as metav1.Time serialises. */
export function timestamp(date = new Date()): string {
  return date.toISOString().replace(/\.\d+Z$/, "Z");
}

const SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

function randomSuffix(): string {
  const bytes = randomBytes(5);
  let s = "";
  for (const b of bytes) s += SUFFIX_ALPHABET[b % SUFFIX_ALPHABET.length];
  return s;
}
