// Read access to a store: by name, by namespace and label selector (through the label index,
// never a scan when the selector has a positive requirement), by index, and the reverse match
// "which objects select these labels".
import { LABEL_INDEX, NAMESPACE_INDEX, SELECTOR_INDEX } from "./indexers.ts";
import type { LabelSelector } from "./labels.ts";
import type { Store } from "./store.ts";
import type { KubeObject } from "./types.ts";

export class Lister {
  readonly store: Store;

  constructor(store: Store) {
    this.store = store;
  }

  get(namespace: string | undefined, name: string): KubeObject | undefined {
    return this.store.get(namespace ? `${namespace}/${name}` : name);
  }

  /** Matching keys, unsorted; undefined selector = all (in the namespace). */
  keys(opts: { namespace?: string; selector?: LabelSelector } = {}): Iterable<string> {
    const { namespace, selector } = opts;
    if (selector?.isNothing()) return [];
    if (!selector || selector.isEverything()) {
      return namespace ? this.store.indexKeys(NAMESPACE_INDEX, namespace) : this.store.keys();
    }
    const candidates = this.candidates(namespace, selector);
    const out: string[] = [];
    for (const key of candidates) {
      const obj = this.store.get(key)!;
      if (namespace && obj.metadata.namespace !== namespace) continue;
      if (selector && !selector.matches(obj.metadata.labels)) continue;
      out.push(key);
    }
    return out;
  }

  /** Objects sorted by key ("namespace/name"). */
  list(opts: { namespace?: string; selector?: LabelSelector } = {}): KubeObject[] {
    const keys = [...this.keys(opts)].sort();
    return keys.map((k) => this.store.get(k)!);
  }

  byIndex(indexName: string, value: string): KubeObject[] {
    return this.store.byIndex(indexName, value);
  }

  /**
   * Objects (e.g. Services) whose selector matches `labels`: candidates come from the selector
   * index by each label pair, then each candidate's full selector is verified.
   */
  selecting(
    namespace: string,
    labels: Record<string, string> | undefined,
    selectorOf: (obj: KubeObject) => LabelSelector | null,
  ): KubeObject[] {
    if (!labels) return [];
    const seen = new Set<string>();
    const out: KubeObject[] = [];
    for (const k in labels) {
      for (const key of this.store.indexKeys(SELECTOR_INDEX, `${k}=${labels[k]}`)) {
        if (seen.has(key)) continue;
        seen.add(key);
        const obj = this.store.get(key)!;
        if (obj.metadata.namespace !== namespace) continue;
        const sel = selectorOf(obj);
        if (sel?.matches(labels)) out.push(obj);
      }
    }
    return out.sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
  }

  /** The smallest key set the index can give for this query. */
  private candidates(namespace: string | undefined, selector: LabelSelector | undefined): Iterable<string> {
    let best: Iterable<string> | undefined;
    let bestSize = Number.POSITIVE_INFINITY;
    if (namespace) {
      const keys = this.store.indexKeys(NAMESPACE_INDEX, namespace);
      best = keys;
      bestSize = keys.size;
    }
    for (const r of selector?.requirements ?? []) {
      let size = 0;
      let keys: Iterable<string>;
      if (r.operator === "=") {
        const set = this.store.indexKeys(LABEL_INDEX, `${r.key}=${r.values[0]}`);
        keys = set;
        size = set.size;
      } else if (r.operator === "exists") {
        const set = this.store.indexKeys(LABEL_INDEX, r.key);
        keys = set;
        size = set.size;
      } else if (r.operator === "in") {
        const union = new Set<string>();
        for (const v of r.values)
          for (const k of this.store.indexKeys(LABEL_INDEX, `${r.key}=${v}`)) union.add(k);
        keys = union;
        size = union.size;
      } else continue;
      if (size < bestSize) {
        best = keys;
        bestSize = size;
      }
    }
    return best ?? this.store.keys();
  }
}
