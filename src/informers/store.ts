// The cache of one resource: objects by key ("ns/name") plus indexes (name -> value -> keys),
// kept up to date on every change. Reports what each change did as a delta so the informer can
// tell its handlers; unchanged resourceVersions produce no delta.
import { type KubeObject, objectKey } from "./types.ts";

export type IndexFunc = (obj: KubeObject) => readonly string[];
export type Indexers = Record<string, IndexFunc>;

export type StoreDelta =
  | { type: "ADDED"; object: KubeObject }
  | { type: "MODIFIED"; object: KubeObject; oldObject: KubeObject }
  /** tombstone: the object vanished during a relist; object is its last known state. */
  | { type: "DELETED"; object: KubeObject; tombstone: boolean };

/** A relist in progress: puts apply at once; finish() removes every key not put since. */
export interface ReplaceSession {
  put(obj: KubeObject): StoreDelta | undefined;
  finish(): StoreDelta[];
}

const EMPTY: ReadonlySet<string> = new Set();

export class Store {
  private readonly items = new Map<string, KubeObject>();
  private readonly indexers = new Map<string, IndexFunc>();
  private readonly indices = new Map<string, Map<string, Set<string>>>();
  /** Bumped whenever the set of keys changes (adds and deletes, not updates): lets readers cache sorted keys. */
  keysVersion = 0;

  constructor(indexers: Indexers = {}) {
    for (const [name, fn] of Object.entries(indexers)) {
      this.indexers.set(name, fn);
      this.indices.set(name, new Map());
    }
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

  upsert(obj: KubeObject): StoreDelta | undefined {
    const key = objectKey(obj);
    const old = this.items.get(key);
    if (old && old.metadata.resourceVersion === obj.metadata.resourceVersion) return undefined;
    this.items.set(key, obj);
    if (!old) this.keysVersion++;
    this.reindex(key, old, obj);
    return old ? { type: "MODIFIED", object: obj, oldObject: old } : { type: "ADDED", object: obj };
  }

  remove(key: string): StoreDelta | undefined {
    const old = this.items.get(key);
    if (!old) return undefined;
    this.items.delete(key);
    this.keysVersion++;
    this.reindex(key, old, undefined);
    return { type: "DELETED", object: old, tombstone: false };
  }

  beginReplace(): ReplaceSession {
    // Only the keys seen are recorded, never a copy of the list: memory matters at 50k objects.
    const seen = new Set<string>();
    return {
      put: (obj) => {
        seen.add(objectKey(obj));
        return this.upsert(obj);
      },
      finish: () => {
        const deltas: StoreDelta[] = [];
        for (const key of [...this.items.keys()]) {
          if (seen.has(key)) continue;
          const d = this.remove(key);
          if (d && d.type === "DELETED") deltas.push({ type: "DELETED", object: d.object, tombstone: true });
        }
        return deltas;
      },
    };
  }

  addIndexers(indexers: Indexers): void {
    for (const name of Object.keys(indexers)) {
      if (this.indexers.has(name)) throw new Error(`indexer "${name}" already exists`);
    }
    for (const [name, fn] of Object.entries(indexers)) {
      this.indexers.set(name, fn);
      const index = new Map<string, Set<string>>();
      this.indices.set(name, index);
      // Back-fill what is already cached.
      for (const [key, obj] of this.items) for (const v of fn(obj)) addTo(index, v, key);
    }
  }

  indexNames(): string[] {
    return [...this.indexers.keys()];
  }

  indexKeys(indexName: string, value: string): ReadonlySet<string> {
    const index = this.indices.get(indexName);
    if (!index) throw new Error(`unknown index "${indexName}" (have: ${this.indexNames().join(", ")})`);
    return index.get(value) ?? EMPTY;
  }

  byIndex(indexName: string, value: string): KubeObject[] {
    const out: KubeObject[] = [];
    for (const key of this.indexKeys(indexName, value)) out.push(this.items.get(key)!);
    return out;
  }

  indexValues(indexName: string): IterableIterator<string> {
    const index = this.indices.get(indexName);
    if (!index) throw new Error(`unknown index "${indexName}"`);
    return index.keys();
  }

  clear(): void {
    this.items.clear();
    for (const index of this.indices.values()) index.clear();
  }

  private reindex(key: string, old: KubeObject | undefined, obj: KubeObject | undefined): void {
    for (const [name, fn] of this.indexers) {
      const index = this.indices.get(name)!;
      const before = old ? fn(old) : NONE;
      const after = obj ? fn(obj) : NONE;
      if (before.length === after.length && before.every((v, i) => v === after[i])) continue;
      for (const v of before) if (!after.includes(v)) removeFrom(index, v, key);
      for (const v of after) addTo(index, v, key);
    }
  }
}

const NONE: readonly string[] = [];

function addTo(index: Map<string, Set<string>>, value: string, key: string): void {
  const set = index.get(value);
  if (set) set.add(key);
  else index.set(value, new Set([key]));
}

function removeFrom(index: Map<string, Set<string>>, value: string, key: string): void {
  const set = index.get(value);
  if (!set) return;
  set.delete(key);
  if (set.size === 0) index.delete(value);
}
