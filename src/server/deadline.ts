// The per-request timeout (--request-timeout). Execution over the caches is synchronous and
// short; what can take long is waiting: a TokenReview or SubjectAccessReview on a slow
// apiserver, a kind's first sync, a resource started on demand by resources(...). Each of those
// waits is raced against the request's deadline, so a request is answered with a GraphQL error
// naming the limit once it is spent, whatever it was waiting for. (The wait itself goes on in
// the background; each is bounded on its own, e.g. by --sync-timeout.)
import type { GraphQLError } from "graphql";
import { limitExceeded } from "../resolvers/errors.ts";

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export interface Deadline {
  /** Epoch ms after which the request is refused. */
  at: number;
  /** The configured limit, ms (for the message). */
  limitMs: number;
}

export function deadlineFrom(limitMs: number, now = Date.now()): Deadline {
  return { at: now + limitMs, limitMs };
}

export function requestTimeoutError(deadline: Deadline, waitingFor: string): GraphQLError {
  return limitExceeded(
    `request timeout: the request ran past the limit of ${deadline.limitMs / 1000} s (requestTimeout) while ${waitingFor}; ` +
      "retry later, or narrow the query (see cacheStatus for kinds still syncing)",
    "requestTimeout",
    deadline.limitMs,
  );
}

/**
 * `work`, or a request-timeout error if the deadline passes first. Without a deadline, `work`
 * itself. The timer never keeps the process alive.
 */
export function beforeDeadline<T>(
  work: Promise<T>,
  deadline: Deadline | undefined,
  waitingFor: string,
  /** The error when the deadline passes first (default: the request-timeout error). */
  late: () => Error = () => requestTimeoutError(deadline!, waitingFor),
): Promise<T> {
  if (!deadline) return work;
  const left = deadline.at - Date.now();
  work.catch(() => {}); // its outcome no longer matters once late
  if (left <= 0) return Promise.reject(late());
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(late()), left);
    timer.unref();
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}
