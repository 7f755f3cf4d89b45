// API discovery: which resources the apiserver serves (CRDs included), their kinds and scope.
import type { KubeClient } from "./client.ts";
import type { ResourceInfo } from "./shared-informer.ts";
import type { GroupVersionResource } from "./types.ts";

export interface ApiResource extends ResourceInfo {
  verbs: string[];
  shortNames: string[];
  /** True when this version is the group's preferred one. */
  preferred: boolean;
}

interface APIResourceList {
  groupVersion: string;
  resources: { name: string; kind: string; namespaced: boolean; verbs?: string[]; shortNames?: string[] }[];
}
interface APIGroupList {
  groups: {
    name: string;
    versions: { groupVersion: string; version: string }[];
    preferredVersion?: { version: string };
  }[];
}

/** An unknown group/version/resource; the message lists close matches. */
export class UnknownResourceError extends Error {
  constructor(gvr: GroupVersionResource, suggestions: string[]) {
    const id = `${gvr.group ? `${gvr.group}/` : ""}${gvr.version}/${gvr.resource}`;
    const hint = suggestions.length ? ` Did you mean: ${suggestions.join(", ")}?` : "";
    super(`the apiserver does not serve resource "${id}".${hint} (query apiResources for the full list)`);
    this.name = "UnknownResourceError";
  }
}

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
    if (!found) {
      const all = await this.resources();
      const similar = all
        .filter(
          (r) =>
            r.resource === gvr.resource || r.group === gvr.group || r.kind.toLowerCase() === gvr.resource,
        )
        .slice(0, 5)
        .map((r) => `${r.group ? `${r.group}/` : ""}${r.version}/${r.resource}`);
      throw new UnknownResourceError(gvr, similar);
    }
    if (!found.verbs.includes("list") || !found.verbs.includes("watch")) {
      throw new Error(`resource ${found.resource} cannot be cached: it does not support list and watch`);
    }
    return found;
  }

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
