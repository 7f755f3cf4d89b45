// Read access to a store: by name, by namespace and label selector (through the label index:
// never a scan of the kind when the selector has a positive requirement), by index, and the
// reverse match "which objects select these labels".
import { LABEL_INDEX, NAMESPACE_INDEX, SELECTOR_INDEX, SELECTS_ANY_VALUE } from "./indexers.ts";
import type { LabelSelector, Requirement } from "./labels.ts";
import type { Store } from "./store.ts";
import type { KubeObject } from "./types.ts";

export interface ListOptions {
  /** Only this namespace; undefined or "" for all. */
  namespace?: string;
  selector?: LabelSelector;
}

/** Where list() takes its candidates from; exposed for tests and metrics. */
export interface QueryPlan {
  /** "label-index": the smallest label index set(s); "namespace": the namespace's keys; "all": every key. */
  source: "label-index" | "namespace" | "all" | "none";
  /** How many candidates are verified (or returned unverified when there is nothing to verify). */
  candidates: number;
}

const NO_KEYS: readonly string[] = [];

export class Lister {
  readonly store: Store;

  constructor(store: Store) {
    this.store = store;
  }

  get(namespace: string | undefined, name: string): KubeObject | undefined {
    return this.store.get(namespace ? `${namespace}/${name}` : name);
  }

  /**
   * Keys of the matching objects, unsorted. Without a selector: every key (of the namespace).
   * The result may be a live view of an index: iterate or copy it before the store changes.
   */
  keys(opts: ListOptions = {}): Iterable<string> {
    const { selector } = opts;
    const namespace = opts.namespace || undefined; // "" means every namespace
    if (selector?.isNothing()) return NO_KEYS;
    if (!selector || selector.isEverything()) return this.namespaceKeys(namespace);
    const candidates = this.candidates(namespace, selector);
    const out: string[] = [];
    for (const keys of candidates?.sets ?? [this.namespaceKeys(namespace)]) {
      for (const key of keys) {
        const obj = this.store.get(key)!;
        if (namespace !== undefined && obj.metadata.namespace !== namespace) continue;
        if (selector.matches(obj.metadata.labels)) out.push(key);
      }
    }
    return out;
  }

  /** Matching objects sorted by key ("namespace/name" compared as strings). */
  list(opts: ListOptions = {}): KubeObject[] {
    const keys = Array.from(this.keys(opts)).sort();
    const out: KubeObject[] = new Array(keys.length);
    for (let i = 0; i < keys.length; i++) out[i] = this.store.get(keys[i]!)!;
    return out;
  }

  /** How keys()/list() would find candidates for these options, without running the query. */
  plan(opts: ListOptions = {}): QueryPlan {
    const { selector } = opts;
    const namespace = opts.namespace || undefined;
    if (selector?.isNothing()) return { source: "none", candidates: 0 };
    const found = selector && !selector.isEverything() ? this.candidates(namespace, selector) : undefined;
    if (found) {
      let n = 0;
      for (const set of found.sets) n += set.size;
      return { source: found.source, candidates: n };
    }
    if (namespace === undefined) return { source: "all", candidates: this.store.size };
    let n = 0;
    for (const _ of this.namespaceKeys(namespace)) n++;
    return { source: "namespace", candidates: n };
  }

  byIndex(indexName: string, value: string): KubeObject[] {
    return this.store.byIndex(indexName, value);
  }

  /**
   * Objects of `namespace` (e.g. Services) whose selector matches `labels`, sorted by name: the
   * candidates come from SELECTOR_INDEX (each label as "k=v" and "k", plus the selectors without
   * a positive requirement), or from the namespace when that is the smaller set; each
   * candidate's selector (from `selectorOf`; null = selects nothing) is then verified.
   * Throws if the store has no SELECTOR_INDEX (defaultIndexers gives it to services).
   */
  selecting(
    namespace: string,
    labels: Record<string, string> | undefined,
    selectorOf: (obj: KubeObject) => LabelSelector | null,
  ): KubeObject[] {
    const store = this.store;
    const sources: ReadonlySet<string>[] = [];
    let total = 0;
    const addSource = (value: string) => {
      const keys = store.indexKeys(SELECTOR_INDEX, value);
      if (keys.size === 0) return;
      sources.push(keys);
      total += keys.size;
    };
    addSource(SELECTS_ANY_VALUE);
    if (labels) {
      for (const k in labels) {
        addSource(`${k}=${labels[k]}`);
        addSource(k);
      }
    }
    if (total === 0) return [];
    const inNamespace = store.hasIndex(NAMESPACE_INDEX)
      ? store.indexKeys(NAMESPACE_INDEX, namespace)
      : undefined;
    const out: KubeObject[] = [];
    const verify = (key: string) => {
      const obj = store.get(key)!;
      if (obj.metadata.namespace !== namespace) return;
      if (selectorOf(obj)?.matches(labels)) out.push(obj);
    };
    if (inNamespace && inNamespace.size <= total) {
      for (const key of inNamespace) verify(key);
    } else if (sources.length === 1) {
      for (const key of sources[0]!) verify(key);
    } else {
      // A selector with several required pairs is found through each of them: verify it once.
      const seen = new Set<string>();
      for (const keys of sources) {
        for (const key of keys) {
          if (seen.has(key)) continue;
          seen.add(key);
          verify(key);
        }
      }
    }
    return out.sort((a, b) =>
      a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0,
    );
  }

  /** Keys of a namespace (through its index when there is one), or every key. */
  private namespaceKeys(namespace: string | undefined): Iterable<string> {
    if (namespace === undefined) return this.store.keys();
    if (this.store.hasIndex(NAMESPACE_INDEX)) return this.store.indexKeys(NAMESPACE_INDEX, namespace);
    const prefix = `${namespace}/`;
    return Array.from(this.store.keys()).filter((k) => k.startsWith(prefix));
  }

  /**
   * The smallest candidate key sets the indexes give for this selector: the label index sets of
   * its most selective positive requirement (=, exists, gt/lt: the key's set; in: one set per
   * value, disjoint since an object has one value per key), or the namespace's keys when those
   * are fewer. Undefined when nothing beats a scan (only negative requirements, or no label index).
   */
  private candidates(namespace: string | undefined, selector: LabelSelector): Candidates | undefined {
    const store = this.store;
    if (!store.hasIndex(LABEL_INDEX)) return undefined;
    let best: Requirement | undefined;
    let bestSize = Number.POSITIVE_INFINITY;
    const reqs = selector.requirements;
    for (let i = 0; i < reqs.length && bestSize > 0; i++) {
      const r = reqs[i]!;
      const size = indexedSize(store, r);
      if (size !== undefined && size < bestSize) {
        best = r;
        bestSize = size;
      }
    }
    if (best === undefined) return undefined;
    if (namespace !== undefined && store.hasIndex(NAMESPACE_INDEX)) {
      const inNamespace = store.indexKeys(NAMESPACE_INDEX, namespace);
      if (inNamespace.size < bestSize) return { source: "namespace", sets: [inNamespace] };
    }
    return { source: "label-index", sets: indexedSets(store, best) };
  }
}

interface Candidates {
  source: "label-index" | "namespace";
  sets: ReadonlySet<string>[];
}

/** How many keys the label index holds for a positive requirement; undefined for negative ones. */
function indexedSize(store: Store, r: Requirement): number | undefined {
  switch (r.operator) {
    case "=":
      return store.indexKeys(LABEL_INDEX, `${r.key}=${r.values[0]}`).size;
    case "exists":
    case "gt":
    case "lt":
      return store.indexKeys(LABEL_INDEX, r.key).size;
    case "in": {
      let n = 0;
      for (const v of r.values) n += store.indexKeys(LABEL_INDEX, `${r.key}=${v}`).size;
      return n;
    }
    default:
      return undefined;
  }
}

function indexedSets(store: Store, r: Requirement): ReadonlySet<string>[] {
  if (r.operator === "=") return [store.indexKeys(LABEL_INDEX, `${r.key}=${r.values[0]}`)];
  if (r.operator === "in") return r.values.map((v) => store.indexKeys(LABEL_INDEX, `${r.key}=${v}`));
  return [store.indexKeys(LABEL_INDEX, r.key)]; // exists, gt, lt: the key must be there
}
