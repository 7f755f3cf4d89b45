// Turns a caller's Kubernetes RBAC into what a request may see: for each kind the operation
// touches, the namespaces where the caller may `list` it (or all of them), decided with
// SubjectAccessReviews before the (synchronous) execution starts. Resources outside the core
// kinds (CRDs and others, through resources(...) and resourceEvents) are decided the same way
// when their informer is looked up, before any of their objects is read.

import type { ResourceInfo } from "../informers/shared-informer.ts";
import { accessKey, kindByName } from "../kinds.ts";
import type { Visibility } from "../resolvers/context.ts";
import type { Gateway } from "../resolvers/gateway.ts";
import type { AccessReviewer } from "./access-reviewer.ts";
import type { UserInfo } from "./authenticator.ts";

type Allowed = "all" | Set<string>;

export class RbacVisibility implements Visibility {
  /** By access key (kinds.ts accessKey): a core kind's name, or "<resource>.<group>". */
  private readonly allowed: Map<string, Allowed>;
  readonly user: UserInfo;
  /** sharingKey()'s value, until a decision is added. */
  private key: string | undefined;

  /** `allowed` (and its sets) belong to the visibility from now on: only add() changes them. */
  constructor(user: UserInfo, allowed: Map<string, Allowed>) {
    this.user = user;
    this.allowed = allowed;
  }

  /** Adds the decision for a resource outside the core kinds (or replaces a core kind's). */
  add(resource: Pick<ResourceInfo, "group" | "resource" | "kind">, allowed: Allowed): void {
    this.allowed.set(accessKey(resource), allowed);
    this.key = undefined;
  }

  /**
   * The decisions, in a canonical order: equal keys mean equal decisions, so the same answers
   * from allows/allowsAll/allowsNothing. The user is not part of it (two users with the same
   * permissions see the same). Computed on first use after a change, not per delivery.
   */
  sharingKey(): string {
    if (this.key !== undefined) return this.key;
    const parts: string[] = [];
    // Access keys and namespace names never contain "=", "," or ";".
    for (const [kind, a] of this.allowed)
      parts.push(`${kind}=${a === "all" ? "*" : [...a].sort().join(",")}`);
    this.key = `rbac:${parts.sort().join(";")}`;
    return this.key;
  }

  allows(kind: string, namespace: string | undefined): boolean {
    const a = this.allowed.get(kind);
    if (!a) return false;
    if (a === "all") return true;
    return namespace !== undefined && a.has(namespace);
  }

  allowsAll(kind: string): boolean {
    return this.allowed.get(kind) === "all";
  }

  decides(kind: string): boolean {
    return this.allowed.has(kind);
  }

  allowsNothing(kind: string): boolean {
    const a = this.allowed.get(kind);
    return !a || (a !== "all" && a.size === 0);
  }
}

/** What `user` may list of one resource: namespaces (or all), or all/nothing if cluster-scoped. */
export async function allowedFor(
  user: UserInfo,
  reviewer: AccessReviewer,
  gateway: Gateway,
  resource: Pick<ResourceInfo, "group" | "resource" | "namespaced">,
): Promise<Allowed> {
  const ref = { group: resource.group, resource: resource.resource };
  if (!resource.namespaced) return (await reviewer.canList(user, ref, "")) ? "all" : new Set();
  // In scoped mode only the watched namespaces hold objects: no review for the others.
  const namespaces = gateway.factory.namespaces ?? gateway.informer("Namespace").store.keys();
  return reviewer.allowedNamespaces(user, ref, namespaces);
}

export async function visibilityFor(
  user: UserInfo,
  reviewer: AccessReviewer,
  gateway: Gateway,
  kinds: Iterable<string>,
  /** Other resources decided for this request (re-decided when a subscription re-checks). */
  resources: Iterable<ResourceInfo> = [],
): Promise<RbacVisibility> {
  const allowed = new Map<string, Allowed>();
  await Promise.all(
    [...new Set(kinds)].map(async (kind) => {
      const k = kindByName(kind);
      if (k) allowed.set(kind, await allowedFor(user, reviewer, gateway, k));
    }),
  );
  const visibility = new RbacVisibility(user, allowed);
  const extra = [...resources];
  const decisions = await Promise.all(extra.map((r) => allowedFor(user, reviewer, gateway, r)));
  extra.forEach((r, i) => {
    visibility.add(r, decisions[i]!);
  });
  return visibility;
}
