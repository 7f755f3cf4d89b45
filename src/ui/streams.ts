// One live stream per kind over kgql's resourceEvents: `initial: true` first (objects, then
// SYNCED), `resumeFrom` the last resourceVersion after any interruption (the gateway
// restarting, the network), and a RESYNC (history gone, or this subscriber fell behind) replaces
// the kind's objects with the state that follows it. Nothing is lost or doubled across a
// reconnect, so the page never reloads everything after a blip.
import type { Client } from "graphql-ws";
import type { GqlError } from "./api.ts";
import { type Obj, streamQuery, type UiKind } from "./kinds.ts";

export interface StreamSink {
  /** The kind's objects are now exactly these (after the initial state or a RESYNC). */
  reset(kind: UiKind, objects: Map<string, Obj>): void;
  upsert(kind: UiKind, obj: Obj): void;
  remove(kind: UiKind, uid: string): void;
  state(kind: UiKind, state: StreamState, message?: string): void;
}

/** What a stream shows: a cluster (null: the default), a namespace (none: all), a pod selector. */
export interface StreamScope {
  cluster: string | null;
  namespace?: string;
  labelSelector?: string;
}

/** syncing: before SYNCED; live; retrying: interrupted, resuming soon; failed: refused, no retry. */
export type StreamState = "syncing" | "live" | "retrying" | "failed";

interface ResourceEvent {
  type: "ADDED" | "MODIFIED" | "DELETED" | "SYNCED" | "RESYNC";
  resourceVersion: string;
  reason: string | null;
  object: Obj | null;
}

/** Errors that retrying cannot fix: the caller's RBAC, a bad selector, an unserved resource. */
const FINAL_CODES = new Set(["FORBIDDEN", "BAD_USER_INPUT", "UNAUTHENTICATED", "LIMIT_EXCEEDED"]);

const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 2000;

export class KindStream {
  private resumeFrom: string | undefined;
  /** Objects collected until SYNCED (initial state, or after RESYNC), then swapped in whole. */
  private pending: Map<string, Obj> | undefined;
  private unsubscribe: (() => void) | undefined;
  private stopped = false;
  private retryMs = RETRY_FIRST_MS;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Which subscription the callbacks belong to: graphql-ws may still call one that was ended. */
  private attempt = 0;

  private readonly client: Client;
  readonly kind: UiKind;
  private readonly scope: StreamScope;
  private readonly sink: StreamSink;
  private readonly onUnauthenticated: (message: string) => void;

  constructor(
    client: Client,
    kind: UiKind,
    scope: StreamScope,
    sink: StreamSink,
    onUnauthenticated: (message: string) => void,
  ) {
    this.client = client;
    this.kind = kind;
    this.scope = scope;
    this.sink = sink;
    this.onUnauthenticated = onUnauthenticated;
  }

  start(): void {
    const mine = ++this.attempt;
    const initial = this.resumeFrom === undefined;
    if (initial) this.pending = new Map();
    this.sink.state(this.kind, "syncing");
    const variables: Record<string, unknown> = {
      initial,
      resumeFrom: this.resumeFrom ?? null,
      cluster: this.scope.cluster,
    };
    if (this.kind.namespaced) variables.namespace = this.scope.namespace || null;
    if (this.kind.kind === "Pod") variables.labelSelector = this.scope.labelSelector || null;
    this.unsubscribe = this.client.subscribe<{ resourceEvents: ResourceEvent }>(
      { query: streamQuery(this.kind), variables },
      {
        next: (msg) => {
          if (mine !== this.attempt) return;
          if (msg.errors?.length) return this.fail(msg.errors as GqlError[]);
          const ev = msg.data?.resourceEvents;
          if (ev) this.apply(ev);
        },
        error: (err) => {
          if (mine !== this.attempt) return;
          if (Array.isArray(err)) this.fail(err as GqlError[]);
          else this.retry();
        },
        // A stream kgql ends by itself (its graceful shutdown completes every stream) is
        // resumed like a broken one.
        complete: () => {
          if (mine === this.attempt && !this.stopped) this.retry();
        },
      },
    );
  }

  stop(): void {
    this.stopped = true;
    this.attempt++;
    clearTimeout(this.timer);
    this.unsubscribe?.();
  }

  private apply(ev: ResourceEvent): void {
    this.resumeFrom = ev.resourceVersion;
    switch (ev.type) {
      case "ADDED":
      case "MODIFIED":
        if (!ev.object) return;
        if (this.pending) this.pending.set(ev.object.uid, ev.object);
        else this.sink.upsert(this.kind, ev.object);
        return;
      case "DELETED":
        if (!ev.object) return;
        if (this.pending) this.pending.delete(ev.object.uid);
        else this.sink.remove(this.kind, ev.object.uid);
        return;
      case "RESYNC":
        this.pending = new Map();
        this.sink.state(this.kind, "syncing", ev.reason ?? "resync");
        return;
      case "SYNCED":
        if (this.pending) this.sink.reset(this.kind, this.pending);
        this.pending = undefined;
        this.retryMs = RETRY_FIRST_MS;
        this.sink.state(this.kind, "live");
        return;
    }
  }

  private fail(errors: GqlError[]): void {
    const code = errors[0]?.extensions?.code;
    const message = errors.map((e) => e.message).join("; ");
    if (code === "UNAUTHENTICATED") this.onUnauthenticated(message);
    if (code && FINAL_CODES.has(code)) {
      this.attempt++;
      this.unsubscribe?.();
      this.sink.state(this.kind, "failed", message);
      return;
    }
    this.retry(message);
  }

  private retry(message?: string): void {
    if (this.stopped) return;
    this.attempt++;
    this.unsubscribe?.();
    // Cut before SYNCED: what was collected is incomplete, and the initial objects all carry
    // the list's resourceVersion, so resuming from one would skip the rest. Start over.
    if (this.pending) this.resumeFrom = undefined;
    this.sink.state(this.kind, "retrying", message);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (!this.stopped) this.start();
    }, this.retryMs);
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
  }
}
