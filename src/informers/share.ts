// Structural sharing for cached objects: equal strings and equal sub-objects become one.
//
// JSON.parse gives every object its own copy of everything. The pods of one ReplicaSet carry
// the same containers (image, env, ports, probes, resources), tolerations, owner references and
// labels; the pods of one node the same hostIPs; conditions set in the same second are equal;
// and every pod repeats its namespace, node name, image and timestamps as strings. Cached
// objects are never modified (every change arrives as a new object), so equal parts can be one
// object: `raw`, JSON.stringify and every resolver see exactly what the apiserver sent,
// property order included. A pod then takes ~2.0 KB of heap at 50k simulated pods, about a third
// less than with its strings shared alone (bench/informer.ts).
//
// This is hash-consing, bottom up: a sub-object's members are shared first, so two equal
// sub-objects then hold the very same members, and telling them equal is a shallow comparison
// (same names in the same order, `===` values). Its hash mixes its names' and its members'
// hashes, so no key string is ever built.
//
// The tables must not grow with the cache (names, uids and IPs are unique), so each has two
// generations of bounded size: a lookup that hits the old generation promotes the entry, and
// when the young one fills it becomes the old one and the oldest is dropped. What recurs stays,
// what is unique ages out. Losing an entry only costs one more copy, never correctness.
import type { KubeObject } from "./types.ts";

/** JSON.parse keeps one copy of strings shorter than this (V8 internalizes them). */
const MIN_LENGTH = 10;
/** Longer strings (certificates, JSON blobs) are rarely shared and not worth a table entry. */
const MAX_LENGTH = 128;

/** Property names whose hashes are kept. */
const MAX_NAMES = 10_000;

interface SharedString {
  readonly value: string;
  readonly hash: number;
}

/** Metadata strings that are unique to each object: interning them would only churn the table. */
const UNIQUE_METADATA = new Set(["name", "uid", "resourceVersion", "selfLink"]);

/** A shared sub-object and its hash; `next` chains sub-objects whose hashes collide. */
interface Entry {
  readonly value: object;
  /**
   * The value's property names in order, kept for entries of `shared` (compared often); for
   * entries of `candidates` (mostly never compared) and arrays, undefined.
   */
  readonly names: readonly string[] | undefined;
  readonly hash: number;
  next: Entry | undefined;
}

/** Entries by hash, of bounded size: two generations, the older dropped when the younger fills. */
class Generations {
  private young = new Map<number, Entry>();
  private old = new Map<number, Entry>();
  readonly generationSize: number;

  constructor(generationSize: number) {
    this.generationSize = generationSize;
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  /** The entry equal to node, moved to the young generation if it was in the old one. */
  find(hash: number, node: object): Entry | undefined {
    const found = findIn(this.young.get(hash), node);
    if (found !== undefined) return found;
    const aged = findIn(this.old.get(hash), node);
    if (aged !== undefined) this.add(entryOf(aged.value, aged.names, hash));
    return aged;
  }

  add(entry: Entry): void {
    if (this.young.size >= this.generationSize) {
      this.old = this.young;
      this.young = new Map();
    }
    entry.next = this.young.get(entry.hash);
    this.young.set(entry.hash, entry);
  }
}

/** Every entry built here, so that all have one shape. */
function entryOf(value: object, names: readonly string[] | undefined, hash: number): Entry {
  return { value, names, hash, next: undefined };
}

function findIn(entry: Entry | undefined, node: object): Entry | undefined {
  for (let e = entry; e !== undefined; e = e.next) if (shallowEqual(e.value, e.names, node)) return e;
  return undefined;
}

/** Same names in the same order with `===` values (members are already shared). */
function shallowEqual(value: object, knownNames: readonly string[] | undefined, node: object): boolean {
  if (Array.isArray(value)) {
    const a = value;
    if (!Array.isArray(node) || a.length !== node.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== node[i]) return false;
    return true;
  }
  if (Array.isArray(node)) return false;
  const names = knownNames ?? Object.keys(value);
  const a = value as Record<string, unknown>;
  const b = node as Record<string, unknown>;
  let i = 0;
  for (const k in b) {
    if (names[i] !== k || a[k] !== b[k]) return false;
    i++;
  }
  return i === names.length;
}

/** A 32-bit hash of a string: whole for short ones, length and both ends for long ones. */
function hashString(s: string): number {
  let h = s.length | 0;
  const n = s.length;
  if (n <= 64) {
    for (let i = 0; i < n; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  } else {
    for (let i = 0; i < 32; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
    for (let i = n - 32; i < n; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  }
  return h;
}

const mix = (h: number, v: number) => Math.imul(h ^ v, 0x5bd1e995) ^ (h >>> 15);

export class ValueSharer {
  /**
   * Sub-objects seen once. Most are unique (a pod's IPs, its container statuses) and only pass
   * through this small table; one seen again moves to `shared`. Keeping the unique ones out of
   * `shared` keeps it for what is really shared, so an update to any pod of a large cluster
   * still finds its ReplicaSet's containers there.
   */
  private readonly candidates: Generations;
  private readonly shared: Generations;
  /** Strings of MIN_LENGTH to MAX_LENGTH characters with their hashes, two generations. */
  private youngStrings = new Map<string, SharedString>();
  private oldStrings = new Map<string, SharedString>();
  /** The hash of each property name (a few hundred in practice: names come from schemas and label keys). */
  private readonly nameHashes = new Map<string, number>();
  /** Distinct lists of property names (see namesOf). */
  private readonly nameLists = new Map<string, readonly string[]>();
  private readonly stringGeneration: number;
  /** The shared copy of the value member() was last called on. */
  private found: unknown;

  /** Replaceable so that tests can make every hash collide. */
  private readonly hashString: (s: string) => number;

  constructor(candidates = 1024, shared = 8192, strings = 8192, hash = hashString) {
    this.hashString = hash;
    this.candidates = new Generations(candidates);
    this.shared = new Generations(shared);
    this.stringGeneration = strings;
  }

  /** Entries held (every table): bounded whatever the cache holds. */
  get size(): number {
    return this.candidates.size + this.shared.size + this.youngStrings.size + this.oldStrings.size;
  }

  /** The shared copy of a string; strings outside MIN_LENGTH..MAX_LENGTH are returned as they are. */
  intern(s: string): string {
    if (s.length < MIN_LENGTH || s.length > MAX_LENGTH) return s;
    return this.sharedString(s).value;
  }

  private sharedString(s: string): SharedString {
    let held = this.youngStrings.get(s);
    if (held !== undefined) return held;
    held = this.oldStrings.get(s) ?? { value: s, hash: this.hashString(s) };
    if (this.youngStrings.size >= this.stringGeneration) {
      this.oldStrings = this.youngStrings;
      this.youngStrings = new Map();
    }
    this.youngStrings.set(held.value, held);
    return held;
  }

  /**
   * The property names of a sub-object about to be kept in `shared`, as one array per distinct
   * list: sub-objects of one schema type have the same names, so the lists are few.
   */
  private namesOf(value: object): readonly string[] {
    const names = Object.keys(value);
    let key = "";
    for (const n of names) key += `${n.length}:${n}`;
    const held = this.nameLists.get(key);
    if (held !== undefined) return held;
    if (this.nameLists.size < MAX_NAMES) this.nameLists.set(key, names);
    return names;
  }

  private nameHash(name: string): number {
    let hash = this.nameHashes.get(name);
    if (hash === undefined) {
      hash = this.hashString(name);
      if (this.nameHashes.size < MAX_NAMES) this.nameHashes.set(name, hash);
    }
    return hash;
  }

  /**
   * Shares the strings and sub-objects of a freshly parsed object, in place. The object itself,
   * its metadata, spec and status stay its own (they hold its name, uid, node, IPs): only what
   * is below them is looked up. With the previous version of the object (an update), a
   * sub-object equal to the one at the same place in it is that one, without a table lookup:
   * most of an update is unchanged, and this keeps it shared however long ago its equals were
   * last seen.
   */
  shareObject(obj: KubeObject, previous?: KubeObject): KubeObject {
    const top = obj as unknown as Record<string, unknown>;
    const before = previous as unknown as Record<string, unknown> | undefined;
    for (const k in top) {
      const v = top[k];
      if (typeof v === "string") top[k] = this.intern(v);
      else if (typeof v === "object" && v !== null) {
        const node = v as Record<string, unknown>;
        const prev = asRecord(before?.[k]);
        const metadata = k === "metadata";
        for (const mk in node) {
          if (metadata && UNIQUE_METADATA.has(mk)) continue;
          this.member(node, mk, prev);
        }
      }
    }
    return obj;
  }

  /**
   * The hash of node[k], after replacing it with its shared copy; prev is the node at the same
   * place in the previous version, if any.
   */
  private member(
    node: Record<string | number, unknown>,
    k: string | number,
    prev: Record<string | number, unknown> | undefined,
  ): number {
    const v = node[k];
    switch (typeof v) {
      case "string": {
        if (v.length < MIN_LENGTH || v.length > MAX_LENGTH) return this.hashString(v);
        const held = this.sharedString(v);
        if (held.value !== v) node[k] = held.value;
        return held.hash;
      }
      case "number":
        return (mix(0x6e, v | 0) ^ (v * 1e6)) | 0;
      case "boolean":
        return v ? 0x74 : 0x66;
      case "object": {
        if (v === null) return 0x7a;
        const hash = this.visit(v, asRecord(prev?.[k]));
        if (this.found !== v) node[k] = this.found;
        return hash;
      }
      default:
        return 0x75; // not produced by JSON.parse
    }
  }

  /**
   * Shares node's members, then node itself (this.found); returns its hash, which stands for it
   * in its parent's hash. prev: the node at the same place in the previous version.
   */
  private visit(node: object, prev: Record<string | number, unknown> | undefined): number {
    let hash: number;
    if (Array.isArray(node)) {
      hash = 0x5b ^ node.length;
      for (let i = 0; i < node.length; i++)
        hash = mix(hash, this.member(node as unknown as Record<number, unknown>, i, prev));
    } else {
      hash = 0x7b;
      const record = node as Record<string, unknown>;
      for (const k in record) hash = mix(mix(hash, this.nameHash(k)), this.member(record, k, prev));
    }
    if (prev !== undefined && sameMembers(prev, node)) {
      this.found = prev;
      return hash;
    }
    let entry = this.shared.find(hash, node);
    if (entry === undefined) {
      entry = this.candidates.find(hash, node);
      if (entry === undefined) {
        entry = entryOf(node, undefined, hash);
        this.candidates.add(entry);
      } else {
        // Seen twice: worth keeping. A copy of the entry, as it stays chained in `candidates`.
        const names = Array.isArray(entry.value) ? undefined : this.namesOf(entry.value);
        entry = entryOf(entry.value, names, hash);
        this.shared.add(entry);
      }
    }
    this.found = entry.value;
    return hash;
  }
}

function asRecord(v: unknown): Record<string | number, unknown> | undefined {
  return typeof v === "object" && v !== null ? (v as Record<string | number, unknown>) : undefined;
}

/** Whether prev (from the previous version) equals node, whose members are already shared. */
function sameMembers(prev: object, node: object): boolean {
  return prev === node || shallowEqual(prev, undefined, node);
}

/** One set of tables for every informer: kinds share namespaces, label maps, owner references. */
const sharedValues = new ValueSharer();

/**
 * The store's admit step: equal strings and equal sub-objects of cached objects become one
 * (lossless; see above). In place, on an object nothing else references yet.
 */
export function shareValues(obj: KubeObject, previous?: KubeObject): KubeObject {
  return sharedValues.shareObject(obj, previous);
}
