// Turns a caller's Kubernetes RBAC into what a request may see: for each kind the operation
// touches, the namespaces where the caller may `list` it (or all of them), decided with
// SubjectAccessReviews before the (synchronous) execution starts.

import { kindByName } from "../kinds.ts";
import type { Visibility } from "../resolvers/context.ts";
import type { Gateway } from "../resolvers/gateway.ts";
import type { AccessReviewer } from "./access-reviewer.ts";
import type { UserInfo } from "./authenticator.ts";

export class RbacVisibility implements Visibility {
  private readonly allowed: Map<string, "all" | Set<string>>;
  readonly user: UserInfo;

  constructor(user: UserInfo, allowed: Map<string, "all" | Set<string>>) {
    this.user = user;
    this.allowed = allowed;
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

  allowsNothing(kind: string): boolean {
    const a = this.allowed.get(kind);
    return !a || (a !== "all" && a.size === 0);
  }
}

export async function visibilityFor(
  user: UserInfo,
  reviewer: AccessReviewer,
  gateway: Gateway,
  kinds: Iterable<string>,
): Promise<RbacVisibility> {
  const namespaces = [...gateway.informer("Namespace").store.keys()];
  const allowed = new Map<string, "all" | Set<string>>();
  await Promise.all(
    [...new Set(kinds)].map(async (kind) => {
      const k = kindByName(kind);
      if (!k) return;
      const ref = { group: k.group, resource: k.resource };
      if (k.namespaced) allowed.set(kind, await reviewer.allowedNamespaces(user, ref, namespaces));
      else allowed.set(kind, (await reviewer.canList(user, ref, "")) ? "all" : new Set());
    }),
  );
  return new RbacVisibility(user, allowed);
}
