// Subscription fields: async iterators over the subscription hubs (one informer per kind,
// however many subscribers), filtered per subscriber.

import { OWNER_UID_INDEX } from "../informers/indexers.ts";
import type { SharedInformer } from "../informers/shared-informer.ts";
import type { KubeObject } from "../informers/types.ts";
import type { Subscription } from "../subscriptions/hub.ts";
import type { ObjectFilter, StreamEvent } from "../subscriptions/types.ts";
import type { RequestContext } from "./context.ts";
import { userError } from "./errors.ts";
import { checkAllowed, type GenericResourceArgs, genericResource, parseSelectorArg } from "./query.ts";

interface StreamArgs {
  namespace?: string | null;
  labelSelector?: string | null;
  initial?: boolean | null;
  resumeFrom?: string | null;
}

/**
 * The end of a stream without markers (podEvents) that fell behind or cannot resume: a
 * GraphQLError, so the client reads this message (anything else is masked as "Unexpected error").
 */
const fellBehind = (reason: string): Error =>
  userError(
    `podEvents: ${reason}; reconnect with resumeFrom set to the last resourceVersion you saw, or use podStream, which sends RESYNC instead`,
    "RESYNC_REQUIRED",
  );

/**
 * What the caller may see now (its visibility can be re-decided) and asked for. Made here
 * rather than inline in stream(): the closure holds these three, not all of stream()'s state.
 */
function visibleAnd(ctx: RequestContext, kind: string, filter: ObjectFilter): ObjectFilter {
  return (o) => ctx.visible(kind, o.metadata.namespace) && filter(o);
}

/**
 * A subscriber's stream: the hub's subscription itself (hub.ts), which leaves out markers for
 * podEvents and ends with an error where it would send RESYNC. No wrapper: an idle subscriber
 * costs one object and its pending promise, whatever the transport. Its return() closes the hub
 * subscription at once, which also ends a pending next(), so a client that went away does not
 * stay subscribed until an event for it comes. Everything that can refuse the subscription
 * (sync wait, RBAC, caps) happens before the stream is returned, so it is a GraphQL error, not
 * a broken stream.
 */
async function stream(
  ctx: RequestContext,
  kind: string,
  filter: ObjectFilter,
  args: StreamArgs,
  markers: boolean,
  /** A resource outside the core kinds (resourceEvents): its synced informer, and its name. */
  other?: { informer: SharedInformer; name: string },
): Promise<AsyncIterableIterator<StreamEvent>> {
  const informer = other?.informer ?? ctx.gateway.informer(kind);
  if (!other) await ctx.gateway.waitForKinds([kind]);
  checkAllowed(ctx, kind, args.namespace, other?.name);
  const hub = ctx.gateway.hub(informer);
  if (args.resumeFrom) await hub.reach(args.resumeFrom);
  ctx.gateway.checkSubscriptionCapacity();
  const sub: Subscription = hub.subscribe({
    filter: visibleAnd(ctx, kind, filter),
    initial: args.initial ?? false,
    resumeFrom: args.resumeFrom ?? undefined,
    withoutMarkers: markers ? undefined : fellBehind,
  });
  // Tokens and permissions can be revoked while a stream is open: check both periodically. The
  // filter reads the current visibility, so narrowed permissions apply at once; an invalid token
  // ends the stream with UNAUTHENTICATED, losing all access with FORBIDDEN.
  const refresh = ctx.access.refresh;
  if (refresh && !sub.closed) {
    const timer = setInterval(async () => {
      try {
        await ctx.access.reauthenticate?.();
        ctx.access.visibility = await refresh();
        checkAllowed(ctx, kind, args.namespace, other?.name);
        const overLimit = ctx.access.recheckCost?.();
        if (overLimit) throw overLimit;
      } catch (err) {
        sub.close(err as Error);
      }
    }, ctx.gateway.recheckMs);
    sub.onClose = () => clearInterval(timer);
  }
  return sub;
}

function namespaceSelectorFilter(args: StreamArgs): ObjectFilter {
  const selector = parseSelectorArg(args.labelSelector);
  const namespace = args.namespace ?? undefined;
  return (o) =>
    (!namespace || o.metadata.namespace === namespace) && (!selector || selector.matches(o.metadata.labels));
}

/** Is the pod owned by `uid`, directly or through one level of ReplicaSet/Job ownership? */
function ownedTransitively(ctx: RequestContext, uid: string): ObjectFilter {
  return (pod: KubeObject) => {
    for (const ref of pod.metadata.ownerReferences ?? []) {
      if (ref.uid === uid) return true;
      const kind = ref.kind === "ReplicaSet" || ref.kind === "Job" ? ref.kind : undefined;
      if (!kind) continue;
      const owner = ctx.gateway.get(kind, pod.metadata.namespace, ref.name);
      if (owner?.metadata.ownerReferences?.some((r) => r.uid === uid)) return true;
    }
    return false;
  };
}

const podPayload = (e: StreamEvent) =>
  "object" in e
    ? {
        type: e.type,
        pod: e.object,
        previous: e.oldObject ?? null,
        resourceVersion: e.resourceVersion,
        reason: null,
      }
    : {
        type: e.type,
        pod: null,
        previous: null,
        resourceVersion: e.resourceVersion,
        reason: "reason" in e ? e.reason : null,
      };

function podField<A extends StreamArgs>(
  makeFilter: (args: A, ctx: RequestContext) => ObjectFilter,
  markers: boolean,
) {
  return {
    subscribe: (_: unknown, args: A, ctx: RequestContext) =>
      stream(ctx, "Pod", makeFilter(args, ctx), args, markers),
    resolve: podPayload,
  };
}

export function subscriptionResolvers() {
  return {
    podEvents: podField((args) => namespaceSelectorFilter(args), false),
    podStream: podField((args) => namespaceSelectorFilter(args), true),
    ownerPodEvents: podField(
      (args: StreamArgs & { uid: string }, ctx) => ownedTransitively(ctx, args.uid),
      true,
    ),
    deploymentPodEvents: {
      subscribe: async (
        _: unknown,
        args: StreamArgs & { namespace: string; name: string },
        ctx: RequestContext,
      ) => {
        await ctx.gateway.waitForKinds(["Deployment", "ReplicaSet"]);
        const dep = ctx.get("Deployment", args.namespace, args.name);
        if (!dep) throw userError(`deployment "${args.namespace}/${args.name}" not found`, "BAD_USER_INPUT");
        return stream(ctx, "Pod", ownedTransitively(ctx, dep.metadata.uid), args, true);
      },
      resolve: podPayload,
    },
    nodePodEvents: podField(
      (args: StreamArgs & { node: string }) => (o) =>
        (o.spec as { nodeName?: string })?.nodeName === args.node,
      true,
    ),
    resourceEvents: resourceEventsField,
  };
}

/** resourceEvents, and each typed resource's events field with its resource fixed (typed.ts). */
export const resourceEventsField = {
  subscribe: async (_: unknown, args: StreamArgs & GenericResourceArgs, ctx: RequestContext) => {
    // resources(...)'s checks, so both refuse the same arguments with the same errors, and
    // before the stream starts. Through the request context: the caller's RBAC on this
    // resource is decided with it.
    const { informer, key, name } = await genericResource(ctx, args);
    return stream(ctx, key, namespaceSelectorFilter(args), args, true, { informer, name });
  },
  resolve: (e: StreamEvent) =>
    "object" in e
      ? {
          type: e.type,
          object: e.object,
          previous: e.oldObject ?? null,
          resourceVersion: e.resourceVersion,
          reason: null,
        }
      : {
          type: e.type,
          object: null,
          previous: null,
          resourceVersion: e.resourceVersion,
          reason: "reason" in e ? e.reason : null,
        },
};

export { OWNER_UID_INDEX };
