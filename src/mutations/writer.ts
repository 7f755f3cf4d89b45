// One mutation's access to the apiserver: its requests are the caller's (impersonated with
// --auth kubernetes; the kubeconfig's credentials with --auth none), bounded by the request's
// deadline, and their refusals become GraphQL errors naming what was refused.
import type { UserInfo } from "../auth/authenticator.ts";
import { resourcePath, type SendOptions, type WriteMethod } from "../informers/client.ts";
import { tagCluster } from "../informers/cluster-tag.ts";
import { stripBulkyMetadata } from "../informers/transform.ts";
import type { KubeObject } from "../informers/types.ts";
import { type RequestContext, SEE_EVERYTHING } from "../resolvers/context.ts";
import { userError } from "../resolvers/errors.ts";
import { checkInScope } from "../resolvers/scope.ts";
import { impersonationHeaders } from "./impersonation.ts";
import { resourceName, type WriteTarget, writeError } from "./write-errors.ts";

/**
 * Whom a mutation writes as in the context's cluster: the user that cluster's TokenReview
 * returned. Without --auth (everything visible, no review) nobody: the kubeconfig's
 * credentials. With --auth, a cluster that did not accept the caller refuses the write: it
 * must never fall back to kgql's own rights or to another cluster's user of the same name.
 */
function callerIn(ctx: RequestContext): UserInfo | undefined {
  const access = ctx.access;
  if (access.user) return access.user;
  if (access.refusal) throw access.refusal;
  if (access.visibility === SEE_EVERYTHING) return undefined;
  throw userError(
    `cluster "${ctx.gateway.cluster}": kgql has not authenticated the caller there, so it cannot write as them`,
    "UNAUTHENTICATED",
    { cluster: ctx.gateway.cluster },
  );
}

export class Writer {
  readonly ctx: RequestContext;
  /** The caller (with --auth kubernetes); undefined: the kubeconfig's own credentials. */
  readonly user: UserInfo | undefined;
  readonly dryRun: boolean;
  /** The write the audit line names: the mutation's main one (see audited). */
  subject: WriteTarget | undefined;

  /** Why the context's cluster refuses to write for the caller: every send() throws it. */
  readonly refused: Error | undefined;

  constructor(ctx: RequestContext, dryRun: boolean) {
    this.ctx = ctx;
    try {
      this.user = callerIn(ctx);
    } catch (err) {
      this.refused = err as Error;
    }
    this.dryRun = dryRun;
  }

  /** Names the mutation's main write for the audit line (the first one named wins). */
  audited(target: WriteTarget): void {
    this.subject ??= target;
  }

  /** The path of a target's object (or collection, without a name), subresource included. */
  path(t: WriteTarget): string {
    const base = resourcePath(t, t.namespace, t.name);
    return t.subresource ? `${base}/${t.subresource}` : base;
  }

  /**
   * Sends one request as the caller. dryRun=All is added for dry runs (the apiserver runs
   * admission and validation and stores nothing), except to reads.
   */
  async send<T>(target: WriteTarget, method: WriteMethod, opts: SendOptions = {}): Promise<T> {
    if (this.refused) throw this.refused;
    // Scoped mode (--namespaces): an object outside the scope would never reach the cache, so
    // the answer could not be read back: refused before anything is written, as queries about
    // such a namespace are. Evictions are the exception: draining a node takes all its pods.
    if (method !== "GET" && target.subresource !== "eviction") checkInScope(this.ctx, target.namespace);
    const deadline = this.ctx.deadline;
    const left = deadline ? deadline.at - Date.now() : undefined;
    if (left !== undefined && left <= 0) throw this.timedOut(target, false);
    const signal = left !== undefined ? AbortSignal.timeout(left) : undefined;
    try {
      const dryRun = this.dryRun && method !== "GET";
      return await this.ctx.gateway.factory.client.send<T>(method, this.path(target), {
        ...opts,
        query: { ...opts.query, ...(dryRun ? { dryRun: "All" } : {}) },
        // A DELETE with a body (DeleteOptions) takes its options from the body alone: the
        // apiserver ignores the query's dryRun then, and would delete for real.
        ...(dryRun && method === "DELETE" && isObject(opts.body)
          ? { body: { ...opts.body, dryRun: ["All"] } }
          : {}),
        headers: { ...opts.headers, ...(this.user ? impersonationHeaders(this.user) : {}) },
        signal,
      });
    } catch (err) {
      if (signal?.aborted) throw this.timedOut(target, method !== "GET");
      throw writeError(err, target, this.user?.username);
    }
  }

  private timedOut(target: WriteTarget, sent: boolean) {
    const limit = this.ctx.deadline?.limitMs ?? 0;
    return userError(
      `request timeout: the ${target.verb} of ${resourceName(target)}${target.name ? ` "${target.name}"` : ""} ran past the limit of ${limit / 1000} s (requestTimeout)` +
        (sent ? "; it may or may not have been applied: query it before retrying" : ""),
      "LIMIT_EXCEEDED",
      { limit: "requestTimeout", max: limit },
    );
  }

  /**
   * An object the apiserver returned, made to look like a cached one (a dry run's answer is
   * never cached): no managedFields, a resourceVersion, and its cluster's tag, so what is selected below it is
   * looked up in the right cluster.
   */
  asServed(obj: KubeObject): KubeObject {
    const out = stripBulkyMetadata(obj);
    // A dry-run create (an apply of a new object) is never stored, so it has no resourceVersion;
    // the field is non-null: "" says "none".
    out.metadata.resourceVersion ??= "";
    const clusters = this.ctx.clusters;
    if (clusters && clusters.default !== this.ctx.gateway) tagCluster(out, this.ctx.gateway.cluster);
    return out;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
