// GraphQL errors a user can act on: a code in extensions and a message that says what to fix.
import { GraphQLError } from "graphql";

export type ErrorCode =
  | "BAD_USER_INPUT"
  | "NOT_SYNCED"
  | "FORBIDDEN"
  | "UNAUTHENTICATED"
  | "LIMIT_EXCEEDED"
  /** Something kgql depends on (the apiserver's reviews) did not answer: retry shortly. */
  | "SERVICE_UNAVAILABLE"
  /** A request kgql cannot read at all (a content type no parser takes: HTTP 415). */
  | "BAD_REQUEST"
  /** A write refused because the object changed meanwhile (stale resourceVersion, apply conflicts). */
  | "CONFLICT"
  /** A write's object does not exist. */
  | "NOT_FOUND"
  /** A write was applied, but kgql's cache did not reach it within the request's time. */
  | "CACHE_TIMEOUT"
  /** A stream without markers (podEvents) lost events: the client must rebuild its view. */
  | "RESYNC_REQUIRED"
  /** A typed resource's stream ended: its CRD was removed (or no longer serves that version). */
  | "RESOURCE_REMOVED";

export function userError(
  message: string,
  code: ErrorCode = "BAD_USER_INPUT",
  extra: Record<string, unknown> = {},
) {
  return new GraphQLError(message, { extensions: { code, ...extra } });
}

/**
 * A request refused by one of the gateway's limits: `limit` names the option (maxCost,
 * requestTimeout, maxBodyBytes, ...) and `max` its value, so clients and kgql_limit_rejections_total
 * can tell the limits apart.
 */
export function limitExceeded(
  message: string,
  limit: string,
  max: number,
  extra: Record<string, unknown> = {},
): GraphQLError {
  return userError(message, "LIMIT_EXCEEDED", { limit, max, ...extra });
}

/** The `limit` a LIMIT_EXCEEDED error names, if it is one. */
export function exceededLimit(error: { extensions?: Record<string, unknown> }): string | undefined {
  const limit = error.extensions?.limit;
  return error.extensions?.code === "LIMIT_EXCEEDED" && typeof limit === "string" ? limit : undefined;
}
