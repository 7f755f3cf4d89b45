// The apiserver's refusal of a write, as a GraphQL error the caller can act on: what was refused
// (verb, resource, namespace, name) in extensions, the apiserver's own reason in the message.
import type { GraphQLError } from "graphql";
import { ApiError, isNetworkError } from "../informers/client.ts";
import { userError } from "../resolvers/errors.ts";

/** What a write does, for messages, errors and the audit line. */
export interface WriteTarget {
  /** The RBAC verb: patch, delete, create (evictions), list (drain's pods). */
  verb: string;
  group: string;
  version: string;
  resource: string;
  /** e.g. "eviction" (pods/eviction is what RBAC checks). */
  subresource?: string;
  namespace?: string;
  name?: string;
}

/** deployments.apps, pods/eviction: the resource as RBAC names it. */
export function resourceName(t: WriteTarget): string {
  return `${t.resource}${t.subresource ? `/${t.subresource}` : ""}${t.group ? `.${t.group}` : ""}`;
}

function describe(t: WriteTarget): string {
  const what = t.name ? `${resourceName(t)} "${t.name}"` : resourceName(t);
  return t.namespace ? `${what} in namespace "${t.namespace}"` : what;
}

/** The error for a write the apiserver refused or could not be sent; others pass through. */
export function writeError(err: unknown, target: WriteTarget, who: string | undefined): unknown {
  const where = {
    verb: target.verb,
    resource: resourceName(target),
    ...(target.namespace ? { namespace: target.namespace } : {}),
    ...(target.name ? { name: target.name } : {}),
  };
  if (!(err instanceof ApiError)) {
    if (isNetworkError(err))
      return userError(
        `cannot ${target.verb} ${describe(target)}: the Kubernetes API is unreachable (${(err as Error).message}); retry shortly`,
        "SERVICE_UNAVAILABLE",
        where,
      );
    return err;
  }
  const reason = err.body?.message ?? err.message;
  const caller = who ? `user "${who}"` : "kgql's kubeconfig credentials";
  switch (err.status) {
    case 403:
      if (/\bcannot impersonate\b/.test(reason))
        return userError(
          `kgql may not impersonate ${caller}, so it cannot write as them: grant kgql's service account ` +
            "`impersonate` on users, groups and serviceaccounts, and on * of authentication.k8s.io (uids, extras) (the Helm chart's mutations.enabled, " +
            `or deploy/render.ts --enable-mutations). The apiserver said: ${reason}`,
          "SERVICE_UNAVAILABLE",
          where,
        );
      return userError(
        `forbidden: ${caller} cannot ${target.verb} ${describe(target)} (Kubernetes RBAC): ${reason}`,
        "FORBIDDEN",
        where,
      );
    case 404:
      return userError(`not found: ${describe(target)}: ${reason}`, "NOT_FOUND", where);
    case 409:
      return userError(
        `conflict: ${describe(target)} was not written: ${reason}. Read it again and retry with its current resourceVersion` +
          (/^Apply failed with/i.test(reason) ? ", or apply with force: true to take those fields over" : ""),
        "CONFLICT",
        where,
      );
    case 500:
      // kube-apiserver answers a server-side apply whose manifest does not fit the resource's
      // schema (a number where a string is due) with 500 "failed to create typed patch object":
      // the manifest is at fault, and retrying cannot help.
      if (/failed to create typed patch object/.test(reason))
        return userError(`invalid ${target.verb} of ${describe(target)}: ${reason}`, "BAD_USER_INPUT", where);
      return unavailable(err, target, reason, where);
    case 400:
    case 422:
    case 415:
      return userError(`invalid ${target.verb} of ${describe(target)}: ${reason}`, "BAD_USER_INPUT", {
        ...where,
        ...causesOf(err),
      });
    case 429:
      return userError(
        `${target.verb} of ${describe(target)} refused for now: ${reason}; retry later`,
        "SERVICE_UNAVAILABLE",
        where,
      );
    default:
      return unavailable(err, target, reason, where);
  }
}

function unavailable(err: ApiError, target: WriteTarget, reason: string, where: Record<string, string>) {
  return userError(
    `the Kubernetes API failed to ${target.verb} ${describe(target)} (HTTP ${err.status}): ${reason}`,
    "SERVICE_UNAVAILABLE",
    where,
  );
}

function causesOf(err: ApiError): { causes?: { field?: string; message?: string }[] } {
  const causes = err.body?.details?.causes;
  return causes?.length ? { causes: causes.map((c) => ({ field: c.field, message: c.message })) } : {};
}

/** The extensions.code of an error, for the audit line ("INTERNAL" for bugs). */
export function codeOf(err: unknown): string {
  const code = (err as GraphQLError | undefined)?.extensions?.code;
  return typeof code === "string" ? code : "INTERNAL";
}
