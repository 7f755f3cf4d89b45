// One registered event handler with its own bounded queue.
//
// The informer applies every change to its store first and only then enqueues it here, so a
// handler never blocks the reflector or other handlers: each registration drains its own
// queue on later turns of the event loop, awaiting the handler when it returns a promise.
//
// Overflow: when a handler falls more than `queueLimit` events behind, its queue is dropped
// (memory stays bounded, no OOM) and it receives onResyncRequired() instead. Because the
// store already contains every change that was queued, a handler that re-reads the current
// state from the lister inside onResyncRequired (synchronously) loses nothing; events that
// arrive after that call are delivered as usual.
import type { KubeObject } from "./types.ts";

export interface EventHandler {
  /** isInitial: replayed from the cache when the handler was added, not a live change. */
  onAdd?(obj: KubeObject, isInitial: boolean): unknown;
  onUpdate?(oldObj: KubeObject, newObj: KubeObject): unknown;
  /** tombstone: the object vanished during a relist; obj is its last known state. */
  onDelete?(obj: KubeObject, tombstone: boolean): unknown;
  /** Events were dropped because the queue overflowed: re-read the current state now. */
  onResyncRequired?(): unknown;
  /** The initial replay is complete (and the informer has synced). */
  onSynced?(): unknown;
}

export type QueuedEvent =
  | { type: "ADDED"; object: KubeObject; initial: boolean }
  | { type: "MODIFIED"; object: KubeObject; oldObject: KubeObject }
  | { type: "DELETED"; object: KubeObject; tombstone: boolean }
  | { type: "SYNCED" }
  | { type: "RESYNC" };

/** How many events one registration handles per turn before yielding to others. */
const BATCH = 512;

export class HandlerRegistration {
  readonly handler: EventHandler;
  readonly queueLimit: number;
  private queue: QueuedEvent[] = [];
  private head = 0;
  private draining = false;
  private removed = false;
  private synced = false;
  /** Replayed objects still queued; they do not count against queueLimit. */
  private replayPending = 0;
  private readonly onError: (err: unknown) => void;
  /** Counters for status and tests. */
  readonly stats = { delivered: 0, overflows: 0, errors: 0, maxDepth: 0 };

  constructor(handler: EventHandler, queueLimit: number, onError: (err: unknown) => void) {
    this.handler = handler;
    this.queueLimit = queueLimit;
    this.onError = onError;
  }

  /** True once the initial replay and the informer's first sync were delivered. */
  hasSynced(): boolean {
    return this.synced;
  }

  get depth(): number {
    return this.queue.length - this.head;
  }

  get isRemoved(): boolean {
    return this.removed;
  }

  /** Enqueues the initial replay; bounded by the cache size, not by queueLimit. */
  enqueueReplay(objects: KubeObject[]): void {
    for (const object of objects) this.queue.push({ type: "ADDED", object, initial: true });
    this.replayPending += objects.length;
    this.schedule();
  }

  enqueue(event: QueuedEvent): void {
    if (this.removed) return;
    if (this.depth - this.replayPending >= this.queueLimit && event.type !== "SYNCED") {
      // Drop what is queued (the store has it) and tell the handler to re-read.
      const hadSyncMarker = this.queue.slice(this.head).some((e) => e.type === "SYNCED");
      this.queue = hadSyncMarker ? [{ type: "SYNCED" }, { type: "RESYNC" }] : [{ type: "RESYNC" }];
      this.head = 0;
      this.replayPending = 0;
      this.stats.overflows++;
    }
    this.queue.push(event);
    if (this.depth > this.stats.maxDepth) this.stats.maxDepth = this.depth;
    this.schedule();
  }

  remove(): void {
    this.removed = true;
    this.queue = [];
    this.head = 0;
  }

  private schedule(): void {
    if (this.draining || this.removed) return;
    this.draining = true;
    setImmediate(() => void this.drain());
  }

  private async drain(): Promise<void> {
    try {
      let n = 0;
      while (!this.removed && this.head < this.queue.length) {
        const event = this.queue[this.head]!;
        if (event.type === "ADDED" && event.initial) this.replayPending--;
        this.queue[this.head++] = undefined as unknown as QueuedEvent;
        if (this.head > 4096 && this.head * 2 > this.queue.length) {
          this.queue = this.queue.slice(this.head);
          this.head = 0;
        }
        if (event.type === "RESYNC" && this.queue.length > this.head) {
          // Everything still queued behind the marker is already in the store the handler
          // is about to re-read; delivering it too would duplicate it.
          const tail = this.queue.slice(this.head);
          this.queue = tail.filter((e) => e.type === "SYNCED");
          this.head = 0;
          this.replayPending = 0;
        }
        const result = this.deliver(event);
        if (result instanceof Promise) await result.catch((err) => this.fail(err));
        if (++n >= BATCH) {
          // Let the reflector and other handlers run.
          await new Promise((r) => setImmediate(r));
          n = 0;
        }
      }
    } finally {
      this.draining = false;
      if (!this.removed && this.head < this.queue.length) this.schedule();
    }
  }

  private deliver(event: QueuedEvent): unknown {
    const h = this.handler;
    try {
      this.stats.delivered++;
      switch (event.type) {
        case "ADDED":
          return h.onAdd?.(event.object, event.initial);
        case "MODIFIED":
          return h.onUpdate?.(event.oldObject, event.object);
        case "DELETED":
          return h.onDelete?.(event.object, event.tombstone);
        case "RESYNC":
          return h.onResyncRequired?.();
        case "SYNCED":
          this.synced = true;
          return h.onSynced?.();
      }
    } catch (err) {
      this.fail(err);
    }
    return undefined;
  }

  private fail(err: unknown): void {
    this.stats.errors++;
    try {
      this.onError(err);
    } catch {
      // A failing error reporter must not stop delivery either.
    }
  }
}
