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

interface Cursor {
  /** Which order the cursor belongs to. */
  o: string;
  /** The sort key of the last object returned. */
  k: string;
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

function orderTag(order: OrderBy | null | undefined): string {
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

function decodeCursor(after: string, tag: string): Cursor {
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

function encodeCursor(tag: string, k: string): string {
  return Buffer.from(JSON.stringify({ o: tag, k })).toString("base64url");
}

/** First index whose value is greater than `k` in an ascending (or descending) sorted array. */
function indexAfter(values: string[], k: string, descending: boolean): number {
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
}

/**
 * A page of objects. `keys` are the matching store keys; when `allSorted` they are already in
 * key order (the cached whole-kind list), otherwise they are sorted here.
 */
export function connectionFrom(
  lister: Lister,
  keys: string[],
  allSorted: boolean,
  args: PageArgs,
): Connection {
  const first = validateFirst(args.first);
  const order = args.orderBy ?? null;
  const tag = orderTag(order);
  const descending = order?.direction === "DESC";
  const store = lister.store;
  let sortValues: string[];
  let sortedKeyList: string[];
  if (!order) {
    sortedKeyList = allSorted ? keys : [...keys].sort();
    sortValues = sortedKeyList;
  } else {
    const pairs = keys.map((key) => [sortKey(order, key, store.get(key)!), key] as const);
    pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    if (descending) pairs.reverse();
    sortValues = pairs.map((p) => p[0]);
    sortedKeyList = pairs.map((p) => p[1]);
  }
  const start = args.after ? indexAfter(sortValues, decodeCursor(args.after, tag).k, descending) : 0;
  const end = Math.min(sortedKeyList.length, start + first);
  const edges: Connection["edges"] = [];
  const nodes: KubeObject[] = [];
  for (let i = start; i < end; i++) {
    const node = store.get(sortedKeyList[i]!)!;
    nodes.push(node);
    edges.push({ cursor: encodeCursor(tag, sortValues[i]!), node });
  }
  return {
    edges,
    nodes,
    pageInfo: { hasNextPage: end < sortedKeyList.length, endCursor: edges.at(-1)?.cursor ?? null },
    totalCount: sortedKeyList.length,
  };
}
