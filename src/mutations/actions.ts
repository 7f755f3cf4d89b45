// What each mutation does at the apiserver, and how its answer is read back from the cache.
// Per-kind actions (scale, restart) are generated from the tables in schema.ts.
import type { ResourceInfo, SharedInformer } from "../informers/shared-informer.ts";
import type { KubeObject, Status } from "../informers/types.ts";
import type { KindDescription } from "../kinds.ts";
import { userError } from "../resolvers/errors.ts";
import { cachedAfterDelete, cachedAfterWrite } from "./read-your-writes.ts";
import { resourceName, type WriteTarget } from "./write-errors.ts";
import type { Writer } from "./writer.ts";

const MERGE_PATCH = "application/merge-patch+json";

export function targetOf(
  r: Pick<ResourceInfo, "group" | "version" | "resource">,
  verb: string,
  namespace: string | undefined,
  name: string | undefined,
): WriteTarget {
  return { verb, group: r.group, version: r.version, resource: r.resource, namespace, name };
}

/**
 * A JSON merge patch of one object of a core kind, as the caller; with `resourceVersion`, only
 * if the object is still at that version (a 409 CONFLICT otherwise). Returns the dry run's
 * answer, or the object as cached once the informer has applied the write.
 */
export async function patchObject(
  w: Writer,
  kind: KindDescription,
  namespace: string | undefined,
  name: string,
  patch: Record<string, unknown>,
  resourceVersion?: string | null,
): Promise<KubeObject> {
  const target = targetOf(kind, "patch", namespace, name);
  w.audited(target);
  const body = resourceVersion
    ? { ...patch, metadata: { ...(patch.metadata as object | undefined), resourceVersion } }
    : patch;
  const written = await w.send<KubeObject>(target, "PATCH", { body, contentType: MERGE_PATCH });
  if (w.dryRun) return w.asServed(written);
  return cachedAfterWrite(w.ctx.gateway.informer(kind.kind), written, w.ctx.deadline);
}

/** kubectl rollout restart: a new pod-template annotation makes the controller roll every pod. */
export function restartPatch(now = new Date()): Record<string, unknown> {
  const restartedAt = now.toISOString().replace(/\.\d{3}Z$/, "Z");
  return {
    spec: { template: { metadata: { annotations: { "kubectl.kubernetes.io/restartedAt": restartedAt } } } },
  };
}

export interface DeleteOutcome {
  deleted: boolean;
  object: KubeObject | undefined;
  namespace: string | undefined;
  name: string;
  uid: string | undefined;
}

export interface DeleteOptions {
  gracePeriodSeconds?: number | null;
  propagationPolicy?: string | null;
  resourceVersion?: string | null;
}

/**
 * Deletes one object as the caller and answers once the cache no longer holds it, or holds it
 * terminating (finalizers, a pod's grace period). A dry run answers with the server's view.
 */
export async function deleteObject(
  w: Writer,
  resource: ResourceInfo,
  /** Where to read the deletion back; undefined for resources kgql cannot cache (no list/watch). */
  informer: (() => Promise<SharedInformer>) | undefined,
  namespace: string | undefined,
  name: string,
  opts: DeleteOptions,
): Promise<DeleteOutcome> {
  const target = targetOf(resource, "delete", namespace, name);
  w.audited(target);
  const body: Record<string, unknown> = { apiVersion: "v1", kind: "DeleteOptions" };
  if (opts.gracePeriodSeconds !== undefined && opts.gracePeriodSeconds !== null)
    body.gracePeriodSeconds = opts.gracePeriodSeconds;
  if (opts.propagationPolicy) body.propagationPolicy = opts.propagationPolicy;
  if (opts.resourceVersion) body.preconditions = { resourceVersion: opts.resourceVersion };
  // The apiserver answers with the object (terminating, or as it was) or, for some resources,
  // a Status naming it.
  const answer = await w.send<KubeObject | (Status & { details?: { name?: string; uid?: string } })>(
    target,
    "DELETE",
    { body },
  );
  const isStatus = answer.kind === "Status";
  const obj = isStatus ? undefined : (answer as KubeObject);
  const uid = obj?.metadata.uid ?? (answer as { details?: { uid?: string } }).details?.uid;
  if (w.dryRun) {
    return { deleted: false, object: obj && w.asServed(obj), namespace, name, uid };
  }
  // Terminating (a deletionTimestamp): the cache must show that state; gone: its absence.
  const terminating = obj?.metadata.deletionTimestamp !== undefined;
  // Nothing cached can be stale: the apiserver's answer is all there is.
  if (!informer)
    return {
      deleted: !terminating,
      object: terminating ? w.asServed(obj!) : undefined,
      namespace,
      name,
      uid,
    };
  let cache: SharedInformer;
  try {
    cache = await informer();
  } catch (err) {
    throw userError(
      `${resourceName(target)} "${name}" was deleted, but kgql cannot cache ${target.resource} to confirm it: ${(err as Error).message}`,
      "CACHE_TIMEOUT",
      { written: true },
    );
  }
  const cached = await cachedAfterDelete(
    cache,
    { namespace, name, uid, resourceVersion: terminating ? obj?.metadata.resourceVersion : undefined },
    w.ctx.deadline,
  );
  return { deleted: cached === undefined, object: cached, namespace, name, uid };
}
