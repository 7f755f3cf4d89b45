// --auth kubernetes: the caller's bearer token is checked with a TokenReview (401 otherwise),
// then, before the synchronous execution, SubjectAccessReviews decide which namespaces of each
// kind the operation touches the caller may list; every resolver path filters by that. Other
// resources (resources(...), resourceEvents) are decided when their informer is looked up.
import { GraphQLError } from "graphql";
import type { Plugin } from "graphql-yoga";
import type { AccessReviewer } from "../auth/access-reviewer.ts";
import { AuthenticationError, type TokenAuthenticator, type UserInfo } from "../auth/authenticator.ts";
import { allowedFor, RbacVisibility, visibilityFor } from "../auth/visibility.ts";
import { isNetworkError } from "../informers/client.ts";
import type { ResourceInfo } from "../informers/shared-informer.ts";
import type { RequestContext } from "../resolvers/context.ts";
import type { Gateway } from "../resolvers/gateway.ts";
import { beforeDeadline, type Deadline } from "./deadline.ts";
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

export function useKubernetesAuthorization(gateway: Gateway, reviewer: AccessReviewer): Plugin {
  const authorize = async (args: { schema: never; document: never; contextValue: unknown }) => {
    const ctx = args.contextValue as RequestContext & { user?: UserInfo };
    if (!ctx.user) throw new Error("authorization without an authenticated user");
    const kinds = kindsTouched(args.schema, args.document);
    const user = ctx.user;
    // Resources decided during this request, so that a subscription's re-check covers them too.
    const resources = new Map<string, ResourceInfo>();
    ctx.access.refresh = () => visibilityFor(user, reviewer, gateway, kinds, resources.values());
    ctx.access.authorizeResource = async (resource) => {
      const allowed = await beforeDeadline(
        allowedFor(user, reviewer, gateway, resource),
        ctx.deadline,
        `checking the caller's access to ${resource.resource} (SubjectAccessReview)`,
      ).catch((err) => {
        throw reviewFailed(err, "SubjectAccessReview", SAR);
      });
      resources.set(`${resource.group}/${resource.resource}`, resource);
      const v = ctx.access.visibility;
      if (v instanceof RbacVisibility) v.add(resource, allowed);
    };
    ctx.access.visibility = await beforeDeadline(
      ctx.access.refresh(),
      ctx.deadline,
      "checking the caller's access (SubjectAccessReview)",
    ).catch((err) => {
      throw reviewFailed(err, "SubjectAccessReview", SAR);
    });
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
