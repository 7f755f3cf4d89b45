// Deterministic faults for tests, applied by the sandbox server.

export interface FailRule {
  status: number;
  verb?: "list" | "watch" | "get";
  resource?: string;
  count?: number;
  retryAfterSeconds?: number;
  /** A metav1.Status body (merged over the default one). */
  body?: Record<string, unknown>;
  /** Only requests whose query matches. */
  when?: (query: Record<string, string>) => boolean;
}

export class FailRules {
  private rules: (FailRule & { remaining: number })[] = [];

  add(rule: FailRule): void {
    this.rules.push({ ...rule, remaining: rule.count ?? 1 });
  }

  /** The rule that fails this request, consuming one of its counts. */
  take(verb: string, resource: string, query: Record<string, string>): FailRule | undefined {
    const i = this.rules.findIndex(
      (r) =>
        r.remaining > 0 &&
        (!r.verb || r.verb === verb) &&
        (!r.resource || r.resource === resource) &&
        (!r.when || r.when(query)),
    );
    if (i < 0) return undefined;
    const rule = this.rules[i]!;
    if (--rule.remaining === 0) this.rules.splice(i, 1);
    return rule;
  }
}

export function status(code: number, reason: string, message: string, extra: Record<string, unknown> = {}) {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    code,
    ...extra,
  };
}

export const REASONS: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  410: "Expired",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};
