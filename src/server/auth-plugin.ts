// --auth kubernetes: the caller's bearer token is checked with a TokenReview (401 otherwise),
// then, before the synchronous execution, SubjectAccessReviews decide which namespaces of each
// kind the operation touches the caller may list; every resolver path filters by that. Other
// resources (resources(...), resourceEvents) are decided when their informer is looked up.
import { GraphQLError } from "graphql";
import type { Plugin } from "graphql-yoga";
import type { AccessReviewer } from "../auth/access-reviewer.ts";
import { AuthenticationError, type TokenAuthenticator, type UserInfo } from "../auth/authenticator.ts";
import { allowedFor, RbacVisibility, visibilityFor } from "../auth/visibility.ts";
import { clustersRead } from "../clusters/operation.ts";
import type { ClusterRegistry } from "../clusters/registry.ts";
import { isNetworkError } from "../informers/client.ts";
import type { ResourceInfo } from "../informers/shared-informer.ts";
import { type RequestContext, SEE_NOTHING, type Visibility } from "../resolvers/context.ts";
import type { Gateway } from "../resolvers/gateway.ts";
import { beforeDeadline, type Deadline, deadlineFrom } from "./deadline.ts";
import { kindsTouched } from "./plugins.ts";

/** The Authorization header of an HTTP request, a WebSocket upgrade, or graphql-ws connectionParams. */
export function authorizationOf(initial: Record<string, unknown>): string | undefined {
  const request = initial.request as Request | undefined;
  const fromFetch = request?.headers?.get?.("authorization");
  if (fromFetch) return fromFetch;
  const req = initial.req as { headers?: Record<string, string | undefined> } | undefined;
  if (req?.headers?.authorization) return req.headers.authorization;
  const params = initial.connectionParams as Record<string, unknown> | undefined;
  const fromParams = params?.authorization ?? params?.Authorization;
  return typeof fromParams === "string" ? fromParams : undefined;
}

/** The caller behind an Authorization header (TokenReview); UNAUTHENTICATED (HTTP 401) if none. */
export async function authenticate(
  authenticator: TokenAuthenticator,
  authorization: string | undefined,
  deadline?: Deadline,
): Promise<UserInfo> {
  try {
    return await beforeDeadline(
      authenticator.authenticate(authorization),
      deadline,
      "checking the bearer token (TokenReview)",
    );
  } catch (err) {
    if (err instanceof AuthenticationError) {
      throw new GraphQLError(err.message, {
        extensions: {
          code: "UNAUTHENTICATED",
          http: { status: 401, headers: { "WWW-Authenticate": 'Bearer realm="kgql"' } },
        },
      });
    }
    throw reviewFailed(err, "TokenReview", "tokenreviews.authentication.k8s.io");
  }
}

/**
 * A review the apiserver did not answer (unreachable, overloaded, or kgql's service account
 * lacks `create` on the review resource): HTTP 503 with what failed, never a masked 500 and
 * never an answer without the check.
 */
function reviewFailed(err: unknown, review: string, resource: string): unknown {
  if (err instanceof GraphQLError) return err; // e.g. the request timeout
  const status = (err as { status?: number }).status;
  // Said to callers who may not be authenticated yet: what kind of failure, never the
  // underlying message (addresses, internal names). (Not attached as originalError either:
  // yoga would then mask the whole error as an unexpected 500.)
  const why =
    status === 403
      ? `kgql's service account may not create ${resource}`
      : status !== undefined
        ? `HTTP ${status}`
        : isNetworkError(err)
          ? "unreachable"
          : "unexpected error";
  return new GraphQLError(
    `cannot check the caller's access: the Kubernetes API did not answer the ${review} (${why}); retry shortly`,
    { extensions: { code: "SERVICE_UNAVAILABLE", http: { status: 503 } } },
  );
}

const SAR = "subjectaccessreviews.authorization.k8s.io";

/**
 * Decides what `user` may see in one cluster for an operation touching `kinds`, into `access`
 * (the request's access holder for that cluster), and how to decide it again (subscriptions'
 * re-checks) and for resources named later (resources(...)). Nothing is written to `access`
 * unless `wanted()` still holds once decided (a review given up on must not land later).
 */
async function decideAccess(
  access: RequestContext["access"],
  user: UserInfo,
  reviewer: AccessReviewer,
  gateway: Gateway,
  kinds: Iterable<string>,
  deadline: Deadline | undefined,
  wanted: () => boolean = () => true,
): Promise<void> {
  // Resources decided during this request, so that a subscription's re-check covers them too.
  const resources = new Map<string, ResourceInfo>();
  const refresh = () => visibilityFor(user, reviewer, gateway, kinds, resources.values());
  const visibility = await beforeDeadline(
    refresh(),
    deadline,
    "checking the caller's access (SubjectAccessReview)",
  ).catch((err) => {
    throw reviewFailed(err, "SubjectAccessReview", SAR);
  });
  if (!wanted()) return;
  access.user = user;
  access.refresh = refresh;
  access.authorizeResource = async (resource) => {
    const allowed = await beforeDeadline(
      allowedFor(user, reviewer, gateway, resource),
      deadline,
      `checking the caller's access to ${resource.resource} (SubjectAccessReview)`,
    ).catch((err) => {
      throw reviewFailed(err, "SubjectAccessReview", SAR);
    });
    resources.set(`${resource.group}/${resource.resource}`, resource);
    // The holder's current visibility: a subscription's re-check may have replaced it.
    const v = access.visibility;
    if (v instanceof RbacVisibility) v.add(resource, allowed);
  };
  access.visibility = visibility;
}

export function useKubernetesAuthorization(gateway: Gateway, reviewer: AccessReviewer): Plugin {
  const authorize = async (args: { schema: never; document: never; contextValue: unknown }) => {
    const ctx = args.contextValue as RequestContext & { user?: UserInfo };
    if (!ctx.user) throw new Error("authorization without an authenticated user");
    const kinds = kindsTouched(args.schema, args.document);
    await decideAccess(ctx.access, ctx.user, reviewer, gateway, kinds, ctx.deadline);
  };
  return {
    async onExecute({ args }) {
      await authorize(args as never);
    },
    async onSubscribe({ args }) {
      await authorize(args as never);
    },
  };
}

/** One cluster's reviewers: a token is valid only in the cluster that issued it. */
export interface ClusterAuth {
  authenticator: TokenAuthenticator;
  reviewer: AccessReviewer;
}

/**
 * What a cluster that refused the caller shows: nothing, as a decided visibility (so the cost
 * estimate sizes that cluster's collections as empty rather than whole, and no count leaks).
 */
export const REFUSED: Visibility = {
  allows: () => false,
  allowsAll: () => false,
  allowsNothing: () => true,
  decides: () => true,
  sharingKey: () => "refused",
};

/** The request's property holding the caller's Authorization header (several clusters). */
export const AUTHORIZATION_HEADER = "authorizationHeader";

/** The request's property told the caller's name once a cluster has authenticated it (for the request log). */
export const ON_AUTHENTICATED = "onAuthenticated";

/** A refusal by one cluster, for the fields about it: named, and without the request's HTTP status. */
function refusedBy(cluster: string, err: GraphQLError): GraphQLError {
  const { http: _http, ...extensions } = err.extensions;
  return new GraphQLError(`cluster "${cluster}": ${err.message}`, {
    extensions: { ...extensions, cluster },
  });
}

/** `work`, or SERVICE_UNAVAILABLE if it takes longer than `ms` (refusedBy names the cluster). */
function withinReviewBudget(work: Promise<void>, ms: number): Promise<void> {
  return beforeDeadline(
    work,
    deadlineFrom(ms),
    "the reviews",
    () =>
      new GraphQLError(
        `cannot check the caller's access: the Kubernetes API did not answer the reviews within ${ms / 1000} s (--sync-timeout); retry shortly`,
        { extensions: { code: "SERVICE_UNAVAILABLE" } },
      ),
  );
}

/**
 * --auth kubernetes with several clusters: each cluster the operation reads reviews the caller's
 * token (TokenReview) and access (SubjectAccessReviews) itself, cached per cluster. A cluster
 * where the token is not valid (or that cannot review it) answers the caller nothing: fields
 * about it fail with its refusal (extensions.cluster), fleet fields leave it out and name it
 * (forbiddenClusters), and the response's extensions.clusterAccess lists every refusal. A token
 * valid in none of the clusters read is HTTP 401, as with one cluster.
 */
export function useFleetAuthorization(
  clusters: ClusterRegistry,
  auth: ReadonlyMap<string, ClusterAuth>,
): Plugin {
  const authorize = async (
    args: {
      schema: never;
      document: never;
      operationName?: string | null;
      variableValues?: Record<string, unknown> | null;
      contextValue: unknown;
    },
    subscription: boolean,
  ) => {
    const ctx = args.contextValue as RequestContext & {
      [AUTHORIZATION_HEADER]?: string;
      [ON_AUTHENTICATED]?: (username: string) => void;
    };
    const header = ctx[AUTHORIZATION_HEADER];
    const kinds = kindsTouched(args.schema, args.document);
    const read = clustersRead(
      args.schema,
      args.document,
      args.operationName,
      args.variableValues,
      clusters.names(),
    );
    // An operation that reads no cluster's caches (clusters, __typename) still needs a token
    // some cluster accepts: as with one cluster, nothing is answered to an unknown caller.
    const names = read.length > 0 ? read : clusters.names();
    const refusals: { cluster: string; error: GraphQLError }[] = [];
    await Promise.all(
      names.map(async (name) => {
        const { authenticator, reviewer } = auth.get(name)!;
        let access = name === clusters.default.cluster ? ctx.access : ctx.clusterAccess.get(name);
        if (!access) {
          access = { visibility: SEE_NOTHING };
          ctx.clusterAccess.set(name, access);
        }
        const gateway = clusters.require(name);
        // Set once the reviews are given up on (too slow): their late results are dropped.
        let late = false;
        const review = async () => {
          const user = await authenticate(authenticator, header, ctx.deadline);
          if (late) return;
          ctx[ON_AUTHENTICATED]?.(user.username);
          await decideAccess(access, user, reviewer, gateway, kinds, ctx.deadline, () => !late);
          if (!late) access.reauthenticate = () => authenticate(authenticator, header);
        };
        try {
          // Reading several clusters, a slow one must not hold up the others' answers: its
          // reviews get --sync-timeout, as its first sync would, then it is refused for now.
          await (names.length > 1 ? withinReviewBudget(review(), gateway.syncTimeoutMs) : review());
        } catch (err) {
          late = true;
          if (!(err instanceof GraphQLError)) throw err;
          access.visibility = REFUSED;
          access.refusal = refusedBy(name, err);
          refusals.push({ cluster: name, error: err });
        }
      }),
    );
    // Defence in depth: a cluster this operation was not reviewed for answers nothing, rather
    // than falling back to another cluster's decisions (RequestContext.inCluster's default).
    for (const name of clusters.names()) {
      if (names.includes(name)) continue;
      const refusal = new GraphQLError(
        `cluster "${name}": the caller's access to this cluster was not checked for this operation; name the cluster in the cluster argument (a literal or a variable)`,
        { extensions: { code: "FORBIDDEN", cluster: name } },
      );
      if (name === clusters.default.cluster) ctx.access.refusal = refusal;
      else ctx.clusterAccess.set(name, { visibility: REFUSED, refusal });
    }
    // Subscriptions: the subscribe function fails with the refusal (cluster-arg.ts), delivered
    // as the stream's error; throwing here would break graphql-ws's message handling.
    if (subscription) return summary(refusals);
    if (refusals.length > 0 && refusals.length === names.length) {
      if (refusals.every((r) => r.error.extensions.code === "UNAUTHENTICATED")) {
        const listed = refusals.map((r) => `"${r.cluster}"`).join(", ");
        throw new GraphQLError(
          `${refusals[0]!.error.message} (not valid in any cluster this operation reads: ${listed})`,
          { extensions: { ...refusals[0]!.error.extensions, clusters: refusals.map((r) => r.cluster) } },
        );
      }
    }
    return summary(refusals);
  };
  return {
    async onExecute({ args }) {
      const refusals = await authorize(args as never, false);
      if (refusals.length === 0) return;
      return {
        onExecuteDone({ result, setResult }) {
          if (!result || Symbol.asyncIterator in result) return;
          setResult({ ...result, extensions: { ...result.extensions, clusterAccess: refusals } });
        },
      };
    },
    async onSubscribe({ args }) {
      await authorize(args as never, true);
    },
  };
}

/** The refusals as extensions.clusterAccess lists them, by cluster name. */
function summary(refusals: { cluster: string; error: GraphQLError }[]) {
  return refusals
    .sort((a, b) => a.cluster.localeCompare(b.cluster))
    .map((r) => ({ cluster: r.cluster, code: r.error.extensions.code, message: r.error.message }));
}
