// LIST: which state a request reads (resourceVersion semantics), paging with continue tokens
// that stay consistent, and a streamed response body.
//
// resourceVersion, as kube-apiserver (with its watch cache) serves it:
//   unset / ""            the latest state (a consistent read); limit and continue honoured
//   "0"                   any state, here the latest; limit and continue honoured
//   N, NotOlderThan/unset the watch cache's state (>= N, here the latest); limit is IGNORED
//   N, Exact              the state at exactly N, from history; limit honoured
//   N > current           504 Timeout with the ResourceVersionTooLarge cause
//   N, Exact, compacted   410 Expired
// A continue token carries the snapshot's RV and the last key served; the next page is the state
// at that RV (rebuilt from history), so a paged list is consistent even while objects change.
// Once history no longer reaches back to that RV, the token gets 410 Expired, as after etcd
// compaction.
import type { ServerResponse } from "node:http";
import type { KubeObject } from "../informers/types.ts";
import {
  badRequest,
  CONTINUE_EXPIRED_MESSAGE,
  expired,
  LIST_RV_EXPIRED_MESSAGE,
  SandboxError,
  tooLargeResourceVersion,
} from "./errors.ts";
import { type ListOptions, parseResourceVersion } from "./options.ts";
import { apiVersionOf, type SandboxResource } from "./resources.ts";
import type { Predicate } from "./selectors.ts";
import { lowerBound, type ObjectStore } from "./store.ts";

interface ContinueToken {
  /** The snapshot's RV; -1 means "the latest state" (an inconsistent continuation). */
  rv: number;
  /** Serve keys >= start. */
  start: string;
  /** Tokens from before faults.expireContinueTokens() carry an older epoch. */
  epoch: number;
}

/** What a list request reads. */
export interface ListPlan {
  /** The state to read: the latest RV, or an older one rebuilt from history. */
  rv: number;
  start: string;
  /** 0: everything. */
  limit: number;
}

export interface ListPage {
  items: KubeObject[];
  resourceVersion: number;
  continue?: string;
  remainingItemCount?: number;
}

const NO_OVERLAY: ReadonlyMap<string, KubeObject | null> = new Map();

export class Lister {
  private readonly store: ObjectStore;
  private epoch = 0;

  constructor(store: ObjectStore) {
    this.store = store;
  }

  /** Invalidates every continue token handed out so far. */
  expireContinueTokens(): void {
    this.epoch++;
  }

  plan(o: ListOptions): ListPlan {
    const current = this.store.resourceVersion;
    if (o.continue) {
      if (o.resourceVersion && o.resourceVersion !== "0") {
        throw new SandboxError(badRequest("specifying resource version is not allowed when using continue"));
      }
      const token = this.decode(o.continue);
      if (token.rv === -1) return { rv: current, start: token.start, limit: o.limit };
      if (token.epoch !== this.epoch || token.rv < this.store.floor) {
        // Like the apiserver, offer a token to go on with the latest state, inconsistently.
        const status = expired(CONTINUE_EXPIRED_MESSAGE);
        status.metadata.continue = this.encode({ rv: -1, start: token.start, epoch: this.epoch });
        throw new SandboxError(status);
      }
      if (token.rv > current) throw new SandboxError(badRequest("invalid continue token: unknown revision"));
      return { rv: token.rv, start: token.start, limit: o.limit };
    }
    const rv = o.resourceVersion;
    if (rv === "" || rv === "0") return { rv: current, start: "", limit: o.limit };
    const n = parseResourceVersion(rv);
    if (n > current) throw new SandboxError(tooLargeResourceVersion(n, current));
    if (o.resourceVersionMatch === "Exact") {
      if (n < this.store.floor) throw new SandboxError(expired(LIST_RV_EXPIRED_MESSAGE));
      return { rv: n, start: "", limit: o.limit };
    }
    // Served by the watch cache, which ignores limit here: one page with everything.
    return { rv: current, start: "", limit: 0 };
  }

  /** One page. Throws 410 if history no longer reaches the plan's RV. */
  read(
    res: SandboxResource,
    namespace: string | undefined,
    predicate: Predicate | undefined,
    plan: ListPlan,
  ): ListPage {
    const coll = this.store.collection(res);
    const overlay = plan.rv >= this.store.resourceVersion ? NO_OVERLAY : this.store.overlayAt(res, plan.rv);
    if (!overlay) throw new SandboxError(expired(CONTINUE_EXPIRED_MESSAGE));
    const keys = coll.sortedKeys();
    const prefix = res.namespaced && namespace ? `${namespace}/` : "";
    // '0' sorts right after '/': [ns/, ns0) is exactly the namespace's keys.
    const hi = prefix ? lowerBound(keys, `${namespace}0`) : keys.length;
    let from = plan.start;
    if (from < prefix) from = prefix;
    let i = lowerBound(keys, from);
    const inRange = (k: string) => k >= from && k.startsWith(prefix);
    // Keys that existed at the snapshot but are gone now: merged into the walk in order.
    const gone: string[] = [];
    for (const [k, v] of overlay) if (v !== null && !coll.objects.has(k) && inRange(k)) gone.push(k);
    gone.sort();
    let j = 0;
    // The next key that existed at the snapshot (skipping keys created after it).
    const next = (): string | undefined => {
      while (i < hi || j < gone.length) {
        const key = j >= gone.length || (i < hi && keys[i]! < gone[j]!) ? keys[i++]! : gone[j++]!;
        if (overlay.get(key) !== null) return key;
      }
      return undefined;
    };
    const items: KubeObject[] = [];
    let lastKey = "";
    let following: string | undefined;
    for (let key = next(); key !== undefined; key = next()) {
      if (plan.limit > 0 && items.length >= plan.limit) {
        following = key;
        break;
      }
      lastKey = key;
      const obj = overlay.get(key) ?? coll.objects.get(key)!;
      if (!predicate || predicate(obj)) items.push(obj);
    }
    const page: ListPage = { items, resourceVersion: plan.rv };
    if (following !== undefined) {
      // The token names where to go on, like etcd's (lastKey + "\x00").
      page.continue = this.encode({ rv: plan.rv, start: `${lastKey}\u0000`, epoch: this.epoch });
      if (!predicate) {
        // Keys at the snapshot from `following` on: it, the unread current ones less those
        // created after the snapshot, and the unread ones deleted since.
        let remaining = 1 + (hi - i) + (gone.length - j);
        for (const [k, v] of overlay) {
          if (v === null && coll.objects.has(k) && k > following && inRange(k)) remaining--;
        }
        page.remainingItemCount = remaining;
      }
    }
    return page;
  }

  private encode(t: ContinueToken): string {
    return Buffer.from(
      JSON.stringify({ v: "meta.k8s.io/v1", rv: t.rv, start: t.start, e: t.epoch }),
    ).toString("base64url");
  }

  private decode(text: string): ContinueToken {
    let v: { v?: unknown; rv?: unknown; start?: unknown; e?: unknown };
    try {
      v = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
    } catch {
      throw new SandboxError(badRequest("invalid continue token: continue key is not valid"));
    }
    if (
      v?.v !== "meta.k8s.io/v1" ||
      !Number.isInteger(v.rv) ||
      (v.rv as number) < -1 ||
      v.rv === 0 ||
      typeof v.start !== "string" ||
      !Number.isInteger(v.e)
    ) {
      throw new SandboxError(badRequest("invalid continue token: continue key is not valid"));
    }
    return { rv: v.rv as number, start: v.start, epoch: v.e as number };
  }
}

/**
 * Writes a list response item by item (items without kind and apiVersion, as the apiserver
 * sends them), in chunks that respect the socket's backpressure, never as one giant string.
 */
export async function writeList(out: ServerResponse, res: SandboxResource, page: ListPage): Promise<void> {
  const apiVersion = apiVersionOf(res);
  const meta: Record<string, unknown> = { resourceVersion: String(page.resourceVersion) };
  if (page.continue) meta.continue = page.continue;
  if (page.remainingItemCount !== undefined) meta.remainingItemCount = page.remainingItemCount;
  out.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-cache, private" });
  let chunk = `{"kind":${JSON.stringify(res.listKind)},"apiVersion":${JSON.stringify(apiVersion)},"metadata":${JSON.stringify(meta)},"items":[`;
  // Stored objects start with kind and apiVersion (store.ts), so dropping them is a slice.
  const head = `{"kind":${JSON.stringify(res.kind)},"apiVersion":${JSON.stringify(apiVersion)},`;
  const { items } = page;
  for (let n = 0; n < items.length; n++) {
    let json = JSON.stringify(items[n]);
    if (json.startsWith(head)) json = `{${json.slice(head.length)}`;
    else {
      const { kind: _k, apiVersion: _a, ...rest } = items[n]!;
      json = JSON.stringify(rest);
    }
    chunk += n === 0 ? json : `,${json}`;
    if (chunk.length >= 1 << 16) {
      const ok = out.write(chunk);
      chunk = "";
      if (!ok) await drained(out);
      if (out.destroyed) return;
    }
  }
  out.end(`${chunk}]}`);
}

/** Resolves when the response can take more, or when it was closed (client gone). */
export function drained(out: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      out.off("drain", done);
      out.off("close", done);
      resolve();
    };
    out.on("drain", done);
    out.on("close", done);
  });
}
