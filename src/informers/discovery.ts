// API discovery: which resources the apiserver serves (CRDs included), their kinds and scope.
import type { KubeClient } from "./client.ts";
import type { ResourceInfo } from "./shared-informer.ts";
import type { GroupVersionResource } from "./types.ts";

export interface ApiResource extends ResourceInfo {
  verbs: string[];
  shortNames: string[];
  /** The lower-case singular ("pod"); the kind in lower case when discovery leaves it out. */
  singularName: string;
  /** True when this version is the group's preferred one. */
  preferred: boolean;
}

interface APIResourceList {
  groupVersion: string;
  resources: {
    name: string;
    singularName?: string;
    kind: string;
    namespaced: boolean;
    verbs?: string[];
    shortNames?: string[];
  }[];
}
interface APIGroupList {
  groups: {
    name: string;
    versions: { groupVersion: string; version: string }[];
    preferredVersion?: { version: string };
  }[];
}

const cacheable = (r: ApiResource) => r.verbs.includes("list") && r.verbs.includes("watch");
const gvrName = (r: GroupVersionResource) => `${r.group ? `${r.group}/` : ""}${r.version}/${r.resource}`;

/** An unknown group/version/resource; the message lists close matches. */
export class UnknownResourceError extends Error {
  constructor(gvr: GroupVersionResource, suggestions: string[]) {
    const id = gvrName(gvr);
    const hint = suggestions.length ? ` Did you mean: ${suggestions.join(", ")}?` : "";
    super(`the apiserver does not serve resource "${id}".${hint} (query apiResources for the full list)`);
    this.name = "UnknownResourceError";
  }
}

/** A served resource that cannot be cached: it does not support both list and watch. */
export class UncacheableResourceError extends Error {
  constructor(resource: ApiResource) {
    super(
      `resource ${resource.resource} cannot be cached: it does not support list and watch (query apiResources for those that can)`,
    );
    this.name = "UncacheableResourceError";
  }
}

/**
 * The served, cacheable resources closest to `gvr`, which is not served, best first (at most
 * `max`): the same name in another group or version (or another case); then one it is the
 * singular, kind or short name of; then one it is a prefix of (3 letters or more); then
 * names a few edits away (fewest first). Ties go to the group asked for, then its version, then
 * preferred versions, then discovery's order.
 */
export function similarResources(
  all: readonly ApiResource[],
  gvr: GroupVersionResource,
  max = 5,
): ApiResource[] {
  const want = gvr.resource.toLowerCase();
  if (!want) return [];
  const scored: { r: ApiResource; score: number; tie: number }[] = [];
  for (const r of all) {
    if (!cacheable(r)) continue;
    const score = closeness(want, r);
    if (score === undefined) continue;
    const tie = (r.group === gvr.group ? 0 : 4) + (r.version === gvr.version ? 0 : 2) + (r.preferred ? 0 : 1);
    scored.push({ r, score, tie });
  }
  // Array.prototype.sort is stable: equal entries keep discovery's order.
  scored.sort((a, b) => a.score - b.score || a.tie - b.tie);
  return scored.slice(0, max).map((s) => s.r);
}

/** How close `want` (lower case) is to a resource: lower is closer; undefined when not close. */
function closeness(want: string, r: ApiResource): number | undefined {
  const name = r.resource.toLowerCase();
  if (name === want) return 0;
  const singular = r.singularName.toLowerCase();
  if (
    want === singular ||
    want === r.kind.toLowerCase() ||
    r.shortNames.some((s) => s.toLowerCase() === want)
  )
    return 1;
  // A prefix of the name ("deploy"): at least 3 letters, or "s" would suggest every s-resource.
  // Not the other way round: "podsecuritypolicies" starts with "pods" but is not about pods.
  if (want.length >= 3 && name.startsWith(want)) return 2;
  // A few edits away; names whose lengths differ by more cannot be, so they are not compared
  // (hundreds of CRDs make this the loop an unknown resource runs).
  const limit = Math.max(1, Math.floor(want.length / 3));
  const distance = Math.min(editDistance(want, name, limit), editDistance(want, singular, limit));
  return distance <= limit ? 2 + distance : undefined;
}

/**
 * Edits (insert, delete, substitute, swap two neighbours) turning `a` into `b`; with `max`, any
 * count above it may be given as max + 1, found as soon as it is certain (lengths too far
 * apart, or a whole row of the table above max).
 */
export function editDistance(a: string, b: string, max = Number.POSITIVE_INFINITY): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  // Three rows of the optimal-string-alignment table: two back (for swaps), previous, current.
  let before = new Array<number>(b.length + 1).fill(0);
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, before[j - 2]! + 1);
      cur.push(d);
    }
    // Every path to the end goes through this row: past max here, past max at the end.
    if (Math.min(...cur) > max) return max + 1;
    before = prev;
    prev = cur;
  }
  return prev[b.length]!;
}

/** Unknown names whose suggestions are kept (a bound: names come from clients). */
const MAX_KEPT_SUGGESTIONS = 1000;

export class Discovery {
  private readonly client: KubeClient;
  private cache: ApiResource[] | undefined;
  private loading: Promise<ApiResource[]> | undefined;
  private loadedAt = 0;
  /** Re-read discovery on a miss at most this often (new CRDs appear). */
  private readonly refreshMinIntervalMs: number;

  constructor(client: KubeClient, opts: { refreshMinIntervalMs?: number } = {}) {
    this.client = client;
    this.refreshMinIntervalMs = opts.refreshMinIntervalMs ?? 10_000;
  }

  /** Every listable and watchable resource (subresources excluded). */
  async resources(forceRefresh = false): Promise<ApiResource[]> {
    if (this.cache && !forceRefresh) return this.cache;
    this.loading ??= this.load().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  async resolve(gvr: GroupVersionResource): Promise<ApiResource> {
    const find = (list: ApiResource[]) =>
      list.find((r) => r.group === gvr.group && r.version === gvr.version && r.resource === gvr.resource);
    let found = find(await this.resources());
    if (!found && Date.now() - this.loadedAt > this.refreshMinIntervalMs)
      found = find(await this.resources(true));
    if (!found) throw new UnknownResourceError(gvr, this.suggestionsFor(gvr, await this.resources()));
    if (!cacheable(found)) throw new UncacheableResourceError(found);
    return found;
  }

  /**
   * similarResources for an unknown resource, kept per name for the resource list it was made
   * from: with hundreds of CRDs a ranking takes milliseconds, and a client may repeat a typo.
   */
  private suggestionsFor(gvr: GroupVersionResource, all: ApiResource[]): string[] {
    if (this.suggestions.list !== all || this.suggestions.byName.size >= MAX_KEPT_SUGGESTIONS)
      this.suggestions = { list: all, byName: new Map() };
    const key = gvrName(gvr);
    let similar = this.suggestions.byName.get(key);
    if (!similar) {
      similar = similarResources(all, gvr).map(gvrName);
      this.suggestions.byName.set(key, similar);
    }
    return similar;
  }
  private suggestions: { list: ApiResource[] | undefined; byName: Map<string, string[]> } = {
    list: undefined,
    byName: new Map(),
  };

  private async load(): Promise<ApiResource[]> {
    const [core, groups] = await Promise.all([
      this.client.getJSON<{ versions: string[] }>("/api"),
      this.client.getJSON<APIGroupList>("/apis"),
    ]);
    const lists: Promise<{ list: APIResourceList; group: string; version: string; preferred: boolean }>[] =
      [];
    for (const version of core.versions) {
      lists.push(
        this.client
          .getJSON<APIResourceList>(`/api/${version}`)
          .then((list) => ({ list, group: "", version, preferred: true })),
      );
    }
    for (const g of groups.groups) {
      for (const v of g.versions) {
        const preferred = (g.preferredVersion?.version ?? g.versions[0]?.version) === v.version;
        lists.push(
          this.client
            .getJSON<APIResourceList>(`/apis/${v.groupVersion}`)
            .then((list) => ({ list, group: g.name, version: v.version, preferred })),
        );
      }
    }
    const out: ApiResource[] = [];
    // A group version whose discovery fails (e.g. an unavailable aggregated API) is skipped.
    for (const settled of await Promise.allSettled(lists)) {
      if (settled.status !== "fulfilled") continue;
      const { list, group, version, preferred } = settled.value;
      for (const r of list.resources) {
        if (r.name.includes("/")) continue;
        out.push({
          group,
          version,
          resource: r.name,
          kind: r.kind,
          singularName: r.singularName || r.kind.toLowerCase(),
          namespaced: r.namespaced,
          verbs: r.verbs ?? [],
          shortNames: r.shortNames ?? [],
          preferred,
        });
      }
    }
    this.cache = out;
    this.loadedAt = Date.now();
    return out;
  }
}
