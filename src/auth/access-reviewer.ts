// Decides with SubjectAccessReviews whether a caller may `list` a resource, cluster-wide or in
// one namespace. kgql serves from a cache filled with its own service account, so every path
// that returns objects asks this first. Decisions are cached per user for a short TTL.
import type { KubeClient } from "../informers/client.ts";
import type { UserInfo } from "./authenticator.ts";
import { TtlCache } from "./cache.ts";

export interface ResourceRef {
  group: string;
  resource: string;
}

interface SubjectAccessReview {
  status?: { allowed?: boolean; denied?: boolean; reason?: string };
}

export interface AccessReviewerOptions {
  ttlMs?: number;
  maxEntries?: number;
}

export class AccessReviewer {
  private readonly client: KubeClient;
  private readonly cache: TtlCache<boolean>;
  private readonly inflight = new Map<string, Promise<boolean>>();
  private readonly ttlMs: number;

  constructor(client: KubeClient, opts: AccessReviewerOptions = {}) {
    this.client = client;
    this.cache = new TtlCache(opts.maxEntries ?? 100_000);
    this.ttlMs = opts.ttlMs ?? 30_000;
  }

  get cacheStats() {
    return this.cache.stats;
  }

  /** May `user` list `resource` in `namespace` ("" = cluster-wide / all namespaces)? */
  canList(user: UserInfo, resource: ResourceRef, namespace: string): Promise<boolean> {
    const key = `${user.username}\u0000${user.groups.join(",")}\u0000${resource.group}/${resource.resource}\u0000${namespace}`;
    const cached = this.cache.get(key);
    if (cached !== undefined) return Promise.resolve(cached);
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.review(user, resource, namespace)
        .then((allowed) => {
          this.cache.set(key, allowed, this.ttlMs);
          return allowed;
        })
        .finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return pending;
  }

  /**
   * Which of `namespaces` the user may list the resource in. A cluster-wide permission answers
   * for all of them with one review.
   */
  async allowedNamespaces(
    user: UserInfo,
    resource: ResourceRef,
    namespaces: Iterable<string>,
  ): Promise<"all" | Set<string>> {
    if (await this.canList(user, resource, "")) return "all";
    const list = [...namespaces];
    const answers = await Promise.all(list.map((ns) => this.canList(user, resource, ns)));
    return new Set(list.filter((_, i) => answers[i]));
  }

  private async review(user: UserInfo, resource: ResourceRef, namespace: string): Promise<boolean> {
    const review = await this.client.postJSON<SubjectAccessReview>(
      "/apis/authorization.k8s.io/v1/subjectaccessreviews",
      {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SubjectAccessReview",
        spec: {
          user: user.username,
          uid: user.uid,
          groups: user.groups,
          extra: user.extra,
          resourceAttributes: { verb: "list", group: resource.group, resource: resource.resource, namespace },
        },
      },
    );
    return review.status?.allowed === true && review.status.denied !== true;
  }
}
