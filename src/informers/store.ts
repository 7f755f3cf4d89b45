// The cache of one resource (client-go's thread-safe store + indexer): objects by key
// ("ns/name", or "name" when cluster-scoped) plus indexes (index name -> value -> keys), kept up to
// date on every change. Each change reports what it did as a delta so the informer can tell its
// handlers; an unchanged resourceVersion produces no delta.
//
// Index functions must be pure and must not throw: they are called on the old and the new object
// of every change (the old values are recomputed, not kept, which saves a per-object copy).
import { NAMESPACE_INDEX } from "./indexers.ts";
import { type KubeObject, objectKey } from "./types.ts";

/**
 * Index values of an object. `unchanged`, when given, tells cheaply that two versions of one
 * object (same key) have the same values, so an update skips computing and comparing both: most
 * updates change status, not namespace, labels, owners or node.
 */
export type IndexFunc = ((obj: KubeObject) => readonly string[]) & {
  unchanged?: (before: KubeObject, after: KubeObject) => boolean;
};
export type Indexers = Record<string, IndexFunc>;

export type StoreDelta =
  | { type: "ADDED"; object: KubeObject }
  | { type: "MODIFIED"; object: KubeObject; oldObject: KubeObject }
  /** tombstone: deleted because a relist no longer had it (client-go's DeletedFinalStateUnknown); object is the last known state. */
  | { type: "DELETED"; object: KubeObject; tombstone: boolean };

/**
 * A relist in progress. put() applies each object to the store at once (no staging copy of the
 * list) and records its key; finish() deletes every key that was neither put nor otherwise
 * upserted since beginReplace, and returns those deletions as tombstones.
 */
export interface ReplaceSession {
  put(obj: KubeObject): StoreDelta | undefined;
  finish(): StoreDelta[];
}

type Index = Map<string, Set<string>>;

const EMPTY_KEYS: ReadonlySet<string> = new Set();

export class Store {
  private readonly items = new Map<string, KubeObject>();
  private readonly indexers = new Map<string, IndexFunc>();
  private readonly indices = new Map<string, Index>();
  /**
   * The keys seen by the newest unfinished replace session of each scope: "" for the whole
   * store, a namespace for a relist of that namespace only (scoped mode: one list+watch per
   * namespace feeds one store, and their relists run independently).
   */
  private readonly replaceSeen = new Map<string, Set<string>>();
  /**
   * Bumped whenever the set of keys changes (adds, deletes, clear; not updates): lets readers
   * cache derived data such as sorted keys.
   */
  keysVersion = 0;
  /**
   * Bumped with keysVersion and also when an update puts a different object under a key (another
   * uid or creationTimestamp: deleted and recreated between two lists). Orders by name or
   * creation time stay valid while it is unchanged.
   */
  identityVersion = 0;
  /**
   * Applied to each object about to be stored (new, or another resourceVersion), and only then:
   * a relist or a repeated event of an unchanged object skips it (the informer's shareValues
   * walks the whole object).
   */
  private readonly admit: ((obj: KubeObject, previous: KubeObject | undefined) => KubeObject) | undefined;

  /** opts.admit gets the version being replaced too (undefined for a new key). */
  constructor(
    indexers: Indexers = {},
    opts: { admit?: (obj: KubeObject, previous: KubeObject | undefined) => KubeObject } = {},
  ) {
    for (const name of Object.keys(indexers)) {
      this.indexers.set(name, indexers[name]!);
      this.indices.set(name, new Map());
    }
    this.admit = opts.admit;
  }

  get size(): number {
    return this.items.size;
  }

  get(key: string): KubeObject | undefined {
    return this.items.get(key);
  }

  has(key: string): boolean {
    return this.items.has(key);
  }

  keys(): IterableIterator<string> {
    return this.items.keys();
  }

  values(): IterableIterator<KubeObject> {
    return this.items.values();
  }

  /** Adds or replaces the object: ADDED or MODIFIED, or undefined (nothing changed) for the same resourceVersion. */
  upsert(obj: KubeObject): StoreDelta | undefined {
    const key = objectKey(obj);
    // During a relist, a newer state from elsewhere (a watch event) also keeps the key alive.
    if (this.replaceSeen.size) {
      this.replaceSeen.get("")?.add(key);
      const ns = obj.metadata.namespace;
      if (ns) this.replaceSeen.get(ns)?.add(key);
    }
    return this.apply(key, obj);
  }

  private apply(key: string, incoming: KubeObject): StoreDelta | undefined {
    const old = this.items.get(key);
    if (old !== undefined && old.metadata.resourceVersion === incoming.metadata.resourceVersion)
      return undefined;
    const obj = this.admit ? this.admit(incoming, old) : incoming;
    this.items.set(key, obj);
    if (old === undefined) {
      this.keysVersion++;
      this.identityVersion++;
      this.indexAdd(key, obj);
      return { type: "ADDED", object: obj };
    }
    if (
      old.metadata.uid !== obj.metadata.uid ||
      old.metadata.creationTimestamp !== obj.metadata.creationTimestamp
    )
      this.identityVersion++;
    this.indexUpdate(key, old, obj);
    return { type: "MODIFIED", object: obj, oldObject: old };
  }

  /** Deletes the key: DELETED with the last stored state (not a tombstone), or undefined if absent. */
  remove(key: string): StoreDelta | undefined {
    const old = this.items.get(key);
    if (old === undefined) return undefined;
    this.delete(key, old);
    return { type: "DELETED", object: old, tombstone: false };
  }

  /**
   * Starts a relist, of the whole store or (given `namespace`) of that namespace only, whose
   * finish() then deletes only that namespace's missing objects. Starting another one of the
   * same scope supersedes this one: a superseded session's put() still applies its object, but
   * its finish() deletes nothing (the newer relist decides what is gone). Objects removed while
   * the session runs are simply gone, so they are never reported twice.
   */
  beginReplace(namespace?: string): ReplaceSession {
    // Only the keys seen are recorded, never a copy of the list: memory matters at 50k objects.
    const seen = new Set<string>();
    const scope = namespace ?? "";
    this.replaceSeen.set(scope, seen);
    let finished = false;
    return {
      put: (obj) => {
        if (finished)
          throw new Error("replace session already finished: start a new one with beginReplace()");
        const key = objectKey(obj);
        seen.add(key);
        return this.apply(key, obj);
      },
      finish: () => {
        if (finished) throw new Error("replace session already finished");
        finished = true;
        if (this.replaceSeen.get(scope) !== seen) return [];
        this.replaceSeen.delete(scope);
        const deltas: StoreDelta[] = [];
        // One namespace's relist looks at that namespace's objects only, through the index when
        // there is one (copied: deleting changes it). Deleting the current entry while iterating
        // a Map is well defined in JavaScript.
        const keys =
          namespace !== undefined && this.hasIndex(NAMESPACE_INDEX)
            ? [...this.indexKeys(NAMESPACE_INDEX, namespace)]
            : this.items.keys();
        for (const key of keys) {
          if (seen.has(key)) continue;
          const obj = this.items.get(key)!;
          if (namespace !== undefined && obj.metadata.namespace !== namespace) continue;
          this.delete(key, obj);
          deltas.push({ type: "DELETED", object: obj, tombstone: true });
        }
        return deltas;
      },
    };
  }

  /** Adds indexes, back-filling them from the objects already stored. Throws if a name exists. */
  addIndexers(indexers: Indexers): void {
    const names = Object.keys(indexers);
    for (const name of names) {
      if (this.indexers.has(name)) throw new Error(`indexer "${name}" already exists`);
    }
    for (const name of names) {
      const fn = indexers[name]!;
      const index: Index = new Map();
      for (const [key, obj] of this.items) {
        const values = fn(obj);
        for (let i = 0; i < values.length; i++) addTo(index, values[i]!, key);
      }
      this.indexers.set(name, fn);
      this.indices.set(name, index);
    }
  }

  indexNames(): string[] {
    return [...this.indexers.keys()];
  }

  hasIndex(indexName: string): boolean {
    return this.indices.has(indexName);
  }

  /** Keys whose objects have `value` in the index: a live, read-only view (do not keep it across changes). */
  indexKeys(indexName: string, value: string): ReadonlySet<string> {
    return this.index(indexName).get(value) ?? EMPTY_KEYS;
  }

  byIndex(indexName: string, value: string): KubeObject[] {
    const keys = this.indexKeys(indexName, value);
    const out: KubeObject[] = new Array(keys.size);
    let i = 0;
    for (const key of keys) out[i++] = this.items.get(key)!;
    return out;
  }

  /** The values present in an index (each with at least one key). */
  indexValues(indexName: string): IterableIterator<string> {
    return this.index(indexName).keys();
  }

  clear(): void {
    if (this.items.size > 0) {
      this.keysVersion++;
      this.identityVersion++;
    }
    this.items.clear();
    for (const index of this.indices.values()) index.clear();
  }

  private index(indexName: string): Index {
    const index = this.indices.get(indexName);
    if (!index) {
      throw new Error(
        `unknown index "${indexName}" (this store has: ${this.indexNames().join(", ") || "none"})`,
      );
    }
    return index;
  }

  private delete(key: string, old: KubeObject): void {
    this.items.delete(key);
    this.keysVersion++;
    this.identityVersion++;
    for (const [name, fn] of this.indexers) {
      const index = this.indices.get(name)!;
      const values = fn(old);
      for (let i = 0; i < values.length; i++) removeFrom(index, values[i]!, key);
    }
  }

  private indexAdd(key: string, obj: KubeObject): void {
    for (const [name, fn] of this.indexers) {
      const index = this.indices.get(name)!;
      const values = fn(obj);
      for (let i = 0; i < values.length; i++) addTo(index, values[i]!, key);
    }
  }

  /** Moves the key from values only the old object had to values only the new one has. */
  private indexUpdate(key: string, old: KubeObject, obj: KubeObject): void {
    for (const [name, fn] of this.indexers) {
      if (fn.unchanged?.(old, obj)) continue;
      const index = this.indices.get(name)!;
      const before = fn(old);
      const after = fn(obj);
      if (sameValues(before, after)) continue; // the common case: labels and owners did not change
      if (before.length + after.length <= 32) {
        for (let i = 0; i < before.length; i++) {
          const v = before[i]!;
          if (!after.includes(v)) removeFrom(index, v, key);
        }
        for (let i = 0; i < after.length; i++) {
          const v = after[i]!;
          if (!before.includes(v)) addTo(index, v, key);
        }
      } else {
        const afterSet = new Set(after);
        for (let i = 0; i < before.length; i++)
          if (!afterSet.has(before[i]!)) removeFrom(index, before[i]!, key);
        for (let i = 0; i < after.length; i++) addTo(index, after[i]!, key); // Set.add is idempotent
      }
    }
  }
}

function sameValues(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function addTo(index: Index, value: string, key: string): void {
  const set = index.get(value);
  if (set) set.add(key);
  else index.set(value, new Set<string>().add(key)); // no array and iterator as with new Set([key])
}

function removeFrom(index: Index, value: string, key: string): void {
  const set = index.get(value);
  if (!set) return;
  set.delete(key);
  if (set.size === 0) index.delete(value);
}
