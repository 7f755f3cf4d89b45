// Deterministic faults for tests. The HTTP layer consults the failure rules before serving a
// request; the other faults act on the watch hub, the lister, the store and the listener
// (wired in cluster.ts).

export type Verb = "list" | "watch" | "get" | "create" | "update" | "patch" | "delete";

export interface FailRule {
  /** HTTP status to answer with (429, 410, 500, 503, ... any code). */
  status: number;
  /** Only requests with this verb (default: any). */
  verb?: Verb;
  /** Only this resource: its plural ("pods") or "plural.group" (default: any). */
  resource?: string;
  /** How many matching requests fail (default 1). */
  count?: number;
  /** Sent as the Retry-After header and in details.retryAfterSeconds. */
  retryAfterSeconds?: number;
  /** Fields merged over the default metav1.Status body. */
  body?: Record<string, unknown>;
  /** Only requests whose query matches. */
  when?: (query: Record<string, string>) => boolean;
}

export interface SandboxFaults {
  /** Destroys every open watch socket abruptly (no clean end of the stream). */
  dropWatches(): void;
  /**
   * On: nothing more is written to open watches, nor to watches opened while on (not even their
   * headers), yet their sockets stay open: half-open connections. Off: new watches work again;
   * the stalled ones stay silent until the client gives up on them.
   */
  stallWatches(on: boolean): void;
  /** The next `count` matching requests get `status` with a Status body. */
  failNext(rule: FailRule): void;
  /** On: the listener closes and every connection is cut (ECONNREFUSED); off: listen again on the same port. */
  refuseConnections(on: boolean): Promise<void>;
  /** Every continue token handed out so far gets 410 Expired. */
  expireContinueTokens(): void;
  /**
   * An ERROR event (410 Expired, "too old resource version") into every open watch, which then
   * ends. History is compacted too, so resuming from any earlier RV fails as well, as on a real
   * server whose watch cache lost that RV.
   */
  sendWatchError410(): void;
  /** Forgets pending failNext rules and ends a stall. */
  reset(): void;
}

export class FailRules {
  private rules: (FailRule & { remaining: number })[] = [];

  add(rule: FailRule): void {
    this.rules.push({ ...rule, remaining: rule.count ?? 1 });
  }

  clear(): void {
    this.rules = [];
  }

  /** The rule that fails this request, consuming one of its counts. */
  take(verb: Verb, resource: string, group: string, query: Record<string, string>): FailRule | undefined {
    const i = this.rules.findIndex(
      (r) =>
        r.remaining > 0 &&
        (!r.verb || r.verb === verb) &&
        (!r.resource || r.resource === resource || r.resource === `${resource}.${group}`) &&
        (!r.when || r.when(query)),
    );
    if (i < 0) return undefined;
    const rule = this.rules[i]!;
    if (--rule.remaining === 0) this.rules.splice(i, 1);
    return rule;
  }
}
