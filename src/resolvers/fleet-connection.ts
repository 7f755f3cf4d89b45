// One connection over several clusters (cluster: "*"): each cluster's objects in the order's
// sequence (the same cached orders a single-cluster page uses), merged by (sort value,
// cluster name). That pair is unique and does not depend on the page, so the order is stable
// and a cursor - the pair of the last object returned - resumes exactly after it, whatever
// was added or removed meanwhile. A page costs O(clusters x log n + first x clusters).
import type { Store } from "../informers/store.ts";
import type { KubeObject } from "../informers/types.ts";
import {
  type Connection,
  type Cursor,
  indexAfter,
  type Ordered,
  orderTag,
  type PageArgs,
  validateFirst,
} from "./connection.ts";
import { userError } from "./errors.ts";

/** One cluster's matching objects, in the order's sequence. */
export interface ClusterPart {
  cluster: string;
  store: Store;
  ordered: Ordered;
}

/** A cursor's order tag in fleet queries: never equal to a single-cluster one. */
const fleetTag = (order: PageArgs["orderBy"]) => `fleet:${orderTag(order)}`;

function encode(tag: string, k: string, c: string): string {
  return Buffer.from(JSON.stringify({ o: tag, k, c } satisfies Cursor)).toString("base64url");
}

function decode(after: string, tag: string): { k: string; c: string } {
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
  if (typeof cursor.c !== "string") {
    throw userError(
      `invalid cursor "${after}": it belongs to a query of one cluster; a cluster: "*" query pages with its own cursors`,
    );
  }
  if (cursor.o !== tag) {
    throw userError(
      `invalid cursor "${after}": it belongs to another orderBy; use the same orderBy as the page it came from`,
    );
  }
  return { k: cursor.k, c: cursor.c };
}

/** Is (value, cluster) `a` before `b` in the order's sequence? */
function before(av: string, ac: string, bv: string, bc: string, descending: boolean): boolean {
  if (av !== bv) return descending ? av > bv : av < bv;
  return descending ? ac > bc : ac < bc;
}

interface Item {
  part: ClusterPart;
  index: number;
}

export function fleetConnection(
  parts: ClusterPart[],
  args: PageArgs,
  unsynced: string[],
  forbidden: string[] = [],
): Connection {
  const first = validateFirst(args.first);
  const order = args.orderBy ?? null;
  const descending = order?.direction === "DESC";
  const tag = fleetTag(order);
  const after = args.after ? decode(args.after, tag) : undefined;
  // Where each cluster's part resumes: after the cursor's (value, cluster).
  const starts = parts.map((p) => {
    if (!after) return 0;
    const { values } = p.ordered;
    // Objects with the cursor's own value come after it only in clusters after its cluster.
    const strictlyAfter = indexAfter(values, after.k, descending);
    const clusterAfter = descending ? p.cluster < after.c : p.cluster > after.c;
    if (!clusterAfter) return strictlyAfter;
    let i = strictlyAfter;
    while (i > 0 && values[i - 1] === after.k) i--;
    return i;
  });
  const totalCount = parts.reduce((n, p) => n + p.ordered.keys.length, 0);
  const items: Item[] = [];
  const next = [...starts];
  while (items.length < first) {
    let best = -1;
    for (let j = 0; j < parts.length; j++) {
      const p = parts[j]!;
      if (next[j]! >= p.ordered.keys.length) continue;
      if (best < 0) {
        best = j;
        continue;
      }
      const b = parts[best]!;
      if (
        before(p.ordered.values[next[j]!]!, p.cluster, b.ordered.values[next[best]!]!, b.cluster, descending)
      )
        best = j;
    }
    if (best < 0) break;
    items.push({ part: parts[best]!, index: next[best]! });
    next[best]!++;
  }
  const hasNextPage = parts.some((p, j) => next[j]! < p.ordered.keys.length);
  const cursorOf = (it: Item) => encode(tag, it.part.ordered.values[it.index]!, it.part.cluster);
  const last = items.at(-1);
  let nodes: KubeObject[] | undefined;
  let edges: Connection["edges"] | undefined;
  return {
    totalCount,
    unsyncedClusters: unsynced,
    forbiddenClusters: forbidden,
    pageInfo: { hasNextPage, endCursor: last ? cursorOf(last) : null },
    get nodes() {
      nodes ??= items.map((it) => it.part.store.get(it.part.ordered.keys[it.index]!)!);
      return nodes;
    },
    get edges() {
      edges ??= items.map((it) => ({
        cursor: cursorOf(it),
        node: it.part.store.get(it.part.ordered.keys[it.index]!)!,
      }));
      return edges;
    },
  };
}
