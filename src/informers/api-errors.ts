// Classifies apiserver error responses the way client-go's reflector does.
import { ApiError } from "./client.ts";

/** 410 Gone / reason Expired: an RV or continue token the server no longer has. */
export function isExpired(err: unknown): boolean {
  if (!(err instanceof ApiError)) return false;
  return (
    err.status === 410 ||
    err.body?.code === 410 ||
    err.body?.reason === "Expired" ||
    err.body?.reason === "Gone"
  );
}

/**
 * The requested RV is newer than what the server (or its watch cache) has. Three forms exist:
 * the ResourceVersionTooLarge cause (1.18.6+), a Timeout whose cause message is "Too large
 * resource version" (1.17–1.18.5), and a Timeout whose message says "Too large non-consistent
 * resource version" (before 1.17).
 */
export function isTooLargeResourceVersion(err: unknown): boolean {
  if (!(err instanceof ApiError) || !err.body) return false;
  const causes = err.body.details?.causes ?? [];
  if (causes.some((c) => c.reason === "ResourceVersionTooLarge")) return true;
  const isTimeout = err.body.reason === "Timeout" || err.status === 504;
  if (!isTimeout) return false;
  if (causes.some((c) => c.message === "Too large resource version")) return true;
  return (err.body.message ?? "").includes("Too large non-consistent resource version");
}

export function isTooManyRequests(err: unknown): boolean {
  return err instanceof ApiError && (err.status === 429 || err.body?.reason === "TooManyRequests");
}

/** A server that does not support watch-list rejects the request itself as invalid. */
export function isWatchListRejected(err: unknown): boolean {
  // 422 Invalid (sendInitialEvents is forbidden without the WatchList gate) or 400 Bad Request.
  // Others say nothing about watch-list support: a 401 or 403 (RBAC applied a moment after the
  // pod started) must not turn it off for good.
  return err instanceof ApiError && (err.status === 400 || err.status === 422);
}
