// Read-your-writes: a mutation answers with the object as kgql's cache holds it once the kind's
// informer has applied the write, so the caller's next query (answered from the same cache)
// is consistent with what it just did.
//
// resourceVersions are etcd revisions: one counter for the whole cluster, and a watch delivers
// a kind's events in that order. An informer whose position (the last event or bookmark it
// applied) is at or past the write's resourceVersion R has therefore applied the write itself,
// and anything after it. A write that changed nothing returns the object's older
// resourceVersion, which the informer has already passed.
import type { SharedInformer } from "../informers/shared-informer.ts";
import type { KubeObject } from "../informers/types.ts";
import { parsePosition } from "../informers/types.ts";
import { userError } from "../resolvers/errors.ts";
import type { Deadline } from "../server/deadline.ts";

/** How often a wait looks at the informer's position besides its events (bookmarks move it too). */
const POLL_MS = 25;

/**
 * Resolves true once `done()` holds (checked now, on each change the informer applies, and
 * every POLL_MS), false when the deadline passes first.
 */
export function waitUntil(
  informer: SharedInformer,
  done: () => boolean,
  deadline: Deadline | undefined,
  defaultTimeoutMs = 30_000,
): Promise<boolean> {
  if (done()) return Promise.resolve(true);
  return new Promise((resolve) => {
    const finish = (result: boolean) => {
      unlisten();
      clearInterval(poll);
      clearTimeout(timer);
      resolve(result);
    };
    // Synchronous with the store's change: the object is already in the store here.
    const unlisten = informer.addSyncListener(() => {
      if (done()) finish(true);
    });
    const poll = setInterval(() => {
      if (done()) finish(true);
    }, POLL_MS);
    const left = deadline ? deadline.at - Date.now() : defaultTimeoutMs;
    const timer = setTimeout(() => finish(done()), Math.max(0, left));
  });
}

/** True once the informer has applied every change up to `resourceVersion`. */
export function hasReached(informer: SharedInformer, resourceVersion: string, key: string): boolean {
  const target = parsePosition(resourceVersion);
  if (target === undefined) {
    // Not an etcd revision (another storage): only the object itself can say.
    return informer.store.get(key)?.metadata.resourceVersion === resourceVersion;
  }
  const position = parsePosition(informer.lastSyncResourceVersion);
  if (position !== undefined && position >= target) return true;
  // The listener runs before the reflector moves its position past the event being applied.
  const cached = parsePosition(informer.store.get(key)?.metadata.resourceVersion);
  return cached !== undefined && cached >= target;
}

/** The error when the cache does not catch up in time: the write itself happened. */
export function cacheTimeout(
  informer: SharedInformer,
  what: string,
  resourceVersion: string | undefined,
  deadline: Deadline | undefined,
): Error {
  const within = deadline ? ` within the request timeout of ${deadline.limitMs / 1000} s` : "";
  return userError(
    `${what} was written${resourceVersion ? ` (resourceVersion ${resourceVersion})` : ""}, but kgql's cache of ` +
      `${informer.resource.resource} did not reach it${within}: its watch may be lagging or broken (see cacheStatus). ` +
      "The write is done: do not repeat it; query again shortly.",
    "CACHE_TIMEOUT",
    { written: true, ...(resourceVersion ? { resourceVersion } : {}), resource: informer.resource.resource },
  );
}

/** The cached object once the informer has applied the write that returned `written`. */
export async function cachedAfterWrite(
  informer: SharedInformer,
  written: KubeObject,
  deadline: Deadline | undefined,
): Promise<KubeObject> {
  const key = keyOf(written);
  const rv = written.metadata.resourceVersion ?? "";
  const reached = await waitUntil(informer, () => hasReached(informer, rv, key), deadline);
  const cached = informer.store.get(key);
  if (!reached) throw cacheTimeout(informer, describeObject(written), rv, deadline);
  // The cache has passed the write and no longer holds the object: deleted right after it.
  if (!cached)
    throw userError(
      `${describeObject(written)} was written (resourceVersion ${rv}), but it was deleted since: kgql's cache has passed the write and no longer holds it`,
      "NOT_FOUND",
      { written: true, resourceVersion: rv, resource: informer.resource.resource },
    );
  return cached;
}

/**
 * Once the cache no longer holds the deleted object (or holds it terminating, for objects with
 * finalizers or a grace period): its cached state then, or undefined when gone.
 */
export async function cachedAfterDelete(
  informer: SharedInformer,
  deleted: { namespace?: string; name: string; uid?: string; resourceVersion?: string },
  deadline: Deadline | undefined,
): Promise<KubeObject | undefined> {
  const key = deleted.namespace ? `${deleted.namespace}/${deleted.name}` : deleted.name;
  const gone = () => {
    const cached = informer.store.get(key);
    if (!cached || (deleted.uid && cached.metadata.uid !== deleted.uid)) return true;
    // The delete's answer says it is terminating: that state has been applied.
    if (deleted.resourceVersion) return hasReached(informer, deleted.resourceVersion, key);
    return false;
  };
  const done = await waitUntil(informer, gone, deadline);
  if (!done) {
    const what = `the deletion of ${informer.resource.resource} "${deleted.name}"`;
    throw cacheTimeout(informer, what, deleted.resourceVersion, deadline);
  }
  const cached = informer.store.get(key);
  return cached && (!deleted.uid || cached.metadata.uid === deleted.uid) ? cached : undefined;
}

function keyOf(obj: KubeObject): string {
  const { namespace, name } = obj.metadata;
  return namespace ? `${namespace}/${name}` : name;
}

function describeObject(obj: KubeObject): string {
  const where = obj.metadata.namespace ? ` in namespace "${obj.metadata.namespace}"` : "";
  return `${obj.kind ?? "object"} "${obj.metadata.name}"${where}`;
}
