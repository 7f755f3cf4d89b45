// Relay connections over cached objects: stable order, opaque cursors, totalCount, a capped
// page size. Sorted keys of a whole kind are cached until the set of keys changes.
import type { Lister } from "../informers/lister.ts";
import type { Store } from "../informers/store.ts";
import type { KubeObject } from "../informers/types.ts";
import { userError } from "./errors.ts";

export const DEFAULT_FIRST = 100;
export const MAX_FIRST = 1000;

export interface OrderBy {
  field: "NAME" | "CREATION_TIMESTAMP";
  direction?: "ASC" | "DESC";
}

export interface PageArgs {
  first?: number | null;
  after?: string | null;
  orderBy?: OrderBy | null;
}

export interface Cursor {
  /** Which order the cursor belongs to. */
  o: string;
  /** The sort key of the last object returned. */
  k: string;
  /** Fleet queries (cluster: "*"): the cluster of the last object returned. */
  c?: string;
}

const sortedKeysCache = new WeakMap<Store, { version: number; keys: string[] }>();

/** All keys of a store in (namespace, name) order, cached per store version. */
export function sortedKeys(store: Store): string[] {
  const cached = sortedKeysCache.get(store);
  if (cached && cached.version === store.keysVersion) return cached.keys;
  const keys = [...store.keys()].sort();
  sortedKeysCache.set(store, { version: store.keysVersion, keys });
  return keys;
}

export interface Ordered {
  /** Keys in the order's sequence. */
  keys: string[];
  /** Each key's sort value (what cursors hold), in the same sequence. */
  values: string[];
}

/**
 * A whole kind in an orderBy's sequence, cached per store and order until the store's
 * identityVersion changes: updates of the same object never change its name or creationTimestamp,
 * and a recreated object under the same key (a relist) bumps that version.
 */
const orderedCache = new WeakMap<Store, Map<string, { version: number; ordered: Ordered }>>();

function orderedAll(store: Store, order: OrderBy, tag: string): Ordered {
  let perOrder = orderedCache.get(store);
  if (!perOrder) {
    perOrder = new Map();
    orderedCache.set(store, perOrder);
  }
  const cached = perOrder.get(tag);
  if (cached && cached.version === store.identityVersion) return cached.ordered;
  const ordered = orderKeys(store, store.keys(), order);
  perOrder.set(tag, { version: store.identityVersion, ordered });
  return ordered;
}

function orderKeys(store: Store, keys: Iterable<string>, order: OrderBy): Ordered {
  const pairs: [string, string][] = [];
  for (const key of keys) pairs.push([sortKey(order, key, store.get(key)!), key]);
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  if (order.direction === "DESC") pairs.reverse();
  return { values: pairs.map((p) => p[0]), keys: pairs.map((p) => p[1]) };
}

export function orderTag(order: OrderBy | null | undefined): string {
  return order ? `${order.field}:${order.direction ?? "ASC"}` : "KEY";
}

/** The sort key of an object under an order; ties broken by the store key. */
function sortKey(order: OrderBy | null | undefined, key: string, obj: KubeObject): string {
  if (!order) return key;
  const primary = order.field === "NAME" ? obj.metadata.name : (obj.metadata.creationTimestamp ?? "");
  return `${primary}\u0000${key}`;
}

export function validateFirst(first: number | null | undefined): number {
  if (first === undefined || first === null) return DEFAULT_FIRST;
  if (!Number.isInteger(first) || first < 0)
    throw userError(`"first" must be a non-negative integer, got ${first}`);
  if (first > MAX_FIRST) {
    throw userError(
      `"first" is ${first}, above the maximum page size of ${MAX_FIRST}: ask for at most ${MAX_FIRST} and page with "after"`,
      "BAD_USER_INPUT",
      { limit: "maxPageSize", max: MAX_FIRST },
    );
  }
  return first;
}

export function decodeCursor(after: string, tag: string): Cursor {
  let cursor: Cursor | undefined;
  try {
    cursor = JSON.parse(Buffer.from(after, "base64url").toString("utf8")) as Cursor;
  } catch {
    cursor = undefined;
  }
  if (!cursor || typeof cursor.k !== "string" || typeof cursor.o !== "string") {
    throw userError(
      `invalid cursor "${after}": pass the endCursor or an edge cursor of a previous page unchanged`,
    );
  }
  if (cursor.o !== tag) {
    throw userError(
      `invalid cursor "${after}": it belongs to another orderBy (${cursor.o}); use the same orderBy as the page it came from`,
    );
  }
  return cursor;
}

export function encodeCursor(tag: string, k: string): string {
  return Buffer.from(JSON.stringify({ o: tag, k })).toString("base64url");
}

/** First index whose value is greater than `k` in an ascending (or descending) sorted array. */
export function indexAfter(values: string[], k: string, descending: boolean): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = values[mid]!;
    if (descending ? v >= k : v <= k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface Connection {
  edges: { cursor: string; node: KubeObject }[];
  nodes: KubeObject[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  totalCount: number;
  /** Fleet queries: clusters left out because the kind has not synced there. */
  unsyncedClusters: readonly string[];
  /** Fleet queries with --auth: clusters left out because the caller may not read the kind there. */
  forbiddenClusters: readonly string[];
}

const NO_CLUSTERS: readonly string[] = Object.freeze([]);

/**
 * One page. Nodes and edges are built on first read (and kept: compiled queries read a field
 * more than once), so a query asking only for totalCount or nodes encodes no cursor.
 */
class Page implements Connection {
  readonly totalCount: number;
  readonly pageInfo: { hasNextPage: boolean; endCursor: string | null };
  readonly unsyncedClusters: readonly string[] = NO_CLUSTERS;
  readonly forbiddenClusters: readonly string[] = NO_CLUSTERS;
  private readonly store: Store;
  private readonly ordered: Ordered;
  private readonly start: number;
  private readonly end: number;
  private readonly tag: string;
  private nodeList: KubeObject[] | undefined;
  private edgeList: Connection["edges"] | undefined;

  constructor(store: Store, ordered: Ordered, start: number, end: number, tag: string) {
    this.store = store;
    this.ordered = ordered;
    this.start = start;
    this.end = end;
    this.tag = tag;
    this.totalCount = ordered.keys.length;
    this.pageInfo = {
      hasNextPage: end < ordered.keys.length,
      endCursor: end > start ? encodeCursor(tag, ordered.values[end - 1]!) : null,
    };
  }

  get nodes(): KubeObject[] {
    if (!this.nodeList) {
      const out: KubeObject[] = new Array(this.end - this.start);
      for (let i = this.start; i < this.end; i++)
        out[i - this.start] = this.store.get(this.ordered.keys[i]!)!;
      this.nodeList = out;
    }
    return this.nodeList;
  }

  get edges(): Connection["edges"] {
    if (!this.edgeList) {
      const nodes = this.nodes;
      this.edgeList = nodes.map((node, i) => ({
        cursor: encodeCursor(this.tag, this.ordered.values[this.start + i]!),
        node,
      }));
    }
    return this.edgeList;
  }
}

/** Keys in an order's sequence, with their sort values (cached for a whole store). */
export function orderedFor(store: Store, keys: string[], whole: boolean, order: OrderBy | null): Ordered {
  if (!order) {
    const sorted = whole ? keys : [...keys].sort();
    return { keys: sorted, values: sorted };
  }
  return whole ? orderedAll(store, order, orderTag(order)) : orderKeys(store, keys, order);
}

/**
 * A page of objects. `keys` are the matching store keys; when `whole` they are every key of
 * the store (the cached sorted list), which lets every order be cached; otherwise they are
 * sorted here.
 */
export function connectionFrom(lister: Lister, keys: string[], whole: boolean, args: PageArgs): Connection {
  const first = validateFirst(args.first);
  const order = args.orderBy ?? null;
  const tag = orderTag(order);
  const store = lister.store;
  const after = args.after ? decodeCursor(args.after, tag).k : undefined;
  const ordered = orderedFor(store, keys, whole, order);
  // Binary search from the cursor: a page costs O(log n + first), not a scan from the start.
  const start = after === undefined ? 0 : indexAfter(ordered.values, after, order?.direction === "DESC");
  const end = Math.min(ordered.keys.length, start + first);
  return new Page(store, ordered, start, end, tag);
}
