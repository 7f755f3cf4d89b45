// Fans one informer's changes out to many subscribers (one watch per kind, however many
// subscribers), with a bounded history for resume and a bounded buffer per subscriber.
//
// The hub listens to the informer synchronously (addSyncListener), in the same turn the store
// changes, so a snapshot of the store taken when a subscriber starts lines up exactly with the
// events that follow: nothing is lost or doubled between the initial state and the stream.
import type { SharedInformer } from "../informers/shared-informer.ts";
import type { StoreDelta } from "../informers/store.ts";
import type { KubeObject } from "../informers/types.ts";
import { parsePosition } from "../informers/types.ts";
import { ChangeHistory, type HistoryEntry } from "./history.ts";
import type { ObjectEventType, ObjectFilter, StreamEvent } from "./types.ts";

/**
 * Events handed to more than one subscriber: a live change several subscribers see the same
 * way, or an initial ADDED event a second subscriber's initial state reused. Only these can be
 * shared; shared-results.ts caches nothing else.
 */
const sharedEvents = new WeakSet<StreamEvent>();

/** Was this event handed to more than one subscriber (so far)? */
export function isSharedEvent(event: object): boolean {
  return sharedEvents.has(event as StreamEvent);
}

export interface HubOptions {
  /** Changes kept per kind for resume. */
  historySize?: number;
}

export interface SubscribeOptions {
  filter: ObjectFilter;
  /** Emit the current matching objects as ADDED, then SYNCED, then live events. */
  initial?: boolean;
  /** Continue after this position (the resourceVersion of the last event the client saw). */
  resumeFrom?: string;
  /** Events buffered for a slow subscriber before it is resynced. */
  bufferLimit?: number;
  /**
   * A stream without markers: SYNCED is left out, and where RESYNC would be sent (the
   * subscriber fell behind, or its resume point is gone) the stream ends with the error this
   * returns instead: a view that cannot be told to rebuild itself must not go on with a gap.
   */
  withoutMarkers?: (reason: string) => Error;
}

type Resolve = (r: IteratorResult<StreamEvent> | PromiseLike<IteratorResult<StreamEvent>>) => void;

/**
 * One subscriber's stream: an async iterator with a bounded buffer. When the buffer would
 * overflow, its content is dropped and the subscriber receives RESYNC followed by the current
 * state (ADDED…, SYNCED): its view is rebuilt instead of the gateway running out of memory.
 *
 * It is what the subscription resolvers return, unwrapped: thousands of them wait idle, so
 * each holds only these fields (no closures, no per-subscriber objects besides its buffer,
 * which gives its storage back whenever it is drained).
 */
export class Subscription implements AsyncIterableIterator<StreamEvent> {
  private buffer: StreamEvent[] = [];
  private head = 0;
  private waiting: Resolve | undefined;
  private ended = false;
  private resyncPending: string | undefined;
  /** The error the stream ends with, until next() has thrown it. */
  private failure: Error | undefined;
  private readonly withoutMarkers: ((reason: string) => Error) | undefined;
  readonly bufferLimit: number;
  readonly filter: ObjectFilter;
  private readonly hub: ResourceEventHub;
  /** Called once when the stream closes, however it closes (e.g. to stop a recheck timer). */
  onClose: (() => void) | undefined;

  constructor(
    hub: ResourceEventHub,
    filter: ObjectFilter,
    bufferLimit: number,
    withoutMarkers?: (reason: string) => Error,
  ) {
    this.hub = hub;
    this.filter = filter;
    this.bufferLimit = bufferLimit;
    this.withoutMarkers = withoutMarkers;
  }

  get depth(): number {
    return this.buffer.length - this.head;
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Called by the hub, synchronously, for each change that concerns this subscriber. */
  push(event: StreamEvent): void {
    if (this.ended || this.resyncPending) return;
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = undefined;
      resolve({ value: event, done: false });
      return;
    }
    if (this.depth >= this.bufferLimit) {
      this.dropBuffer();
      this.resyncPending = `fell more than ${this.bufferLimit} events behind`;
      return;
    }
    this.buffer.push(event);
  }

  /**
   * Replaces the buffer with RESYNC + current state (used for overflow and lost history); a
   * stream without markers ends with its error instead.
   */
  resync(reason: string): void {
    if (this.withoutMarkers) {
      this.close(this.withoutMarkers(reason));
      return;
    }
    this.dropBuffer();
    this.buffer.push({ type: "RESYNC", resourceVersion: this.hub.position(), reason });
    for (const e of this.hub.snapshot(this.filter)) this.buffer.push(e);
  }

  /** Appends events that bypass the bound (an initial state or a history replay). */
  enqueueUnbounded(events: Iterable<StreamEvent>): void {
    for (const e of events) this.buffer.push(e);
  }

  next(): Promise<IteratorResult<StreamEvent>> {
    if (this.resyncPending) {
      const reason = this.resyncPending;
      this.resyncPending = undefined;
      this.resync(reason);
    }
    if (this.failure) {
      const err = this.failure;
      this.failure = undefined;
      return Promise.reject(err);
    }
    while (this.head < this.buffer.length) {
      const value = this.take();
      if (value.type === "SYNCED" && this.withoutMarkers) continue;
      return Promise.resolve({ value, done: false });
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  /** The oldest buffered event, its slot freed. */
  private take(): StreamEvent {
    const value = this.buffer[this.head]!;
    this.buffer[this.head++] = undefined as unknown as StreamEvent;
    if (this.head === this.buffer.length) this.dropBuffer();
    else if (this.head > 1024 && this.head * 2 > this.buffer.length) {
      this.buffer = this.buffer.slice(this.head);
      this.head = 0;
    }
    return value;
  }

  /** Empties the buffer; length 0 also gives its storage back (an idle subscriber keeps none). */
  private dropBuffer(): void {
    this.buffer.length = 0;
    this.head = 0;
  }

  return(): Promise<IteratorResult<StreamEvent>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(err: unknown): Promise<IteratorResult<StreamEvent>> {
    this.close();
    return Promise.reject(err);
  }

  /**
   * Ends the stream: a pending or next next() reports the end, or rejects with `error` (once;
   * then the stream is done). Buffered events are dropped.
   */
  close(error?: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.resyncPending = undefined;
    this.dropBuffer();
    this.hub.unsubscribe(this);
    const resolve = this.waiting;
    this.waiting = undefined;
    if (error && resolve) resolve(Promise.reject(error));
    else if (error) this.failure = error;
    else resolve?.({ value: undefined, done: true });
    const onClose = this.onClose;
    this.onClose = undefined;
    onClose?.();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/** How long a resume from a position not reached yet waits for it (the apiserver waits 3 s). */
const REACH_TIMEOUT_MS = 3000;

export class ResourceEventHub {
  readonly informer: SharedInformer;
  private readonly subscribers = new Set<Subscription>();
  private readonly history: ChangeHistory;
  private pos = 0n;
  private unlisten: (() => void) | undefined;
  /** Per cached object, its last initial event (collected with the object). */
  private readonly initialEvents = new WeakMap<KubeObject, StreamEvent>();

  constructor(informer: SharedInformer, opts: HubOptions = {}) {
    this.informer = informer;
    this.history = new ChangeHistory(opts.historySize ?? 10_000);
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /**
   * The current stream position: the highest resourceVersion seen, from events or from the
   * informer (bookmarks, the end of a relist). Never lower than one handed out before: the
   * informer's own can go back while a relist replays older objects.
   */
  position(): string {
    this.advance();
    return this.pos.toString();
  }

  /**
   * Waits (at most `timeoutMs`) until the position reaches `resourceVersion`, as the apiserver
   * waits for its watch cache on a resourceVersion it has not reached: a client resuming from a
   * replica slightly ahead of this one is then replayed normally rather than sent RESYNC. True
   * when reached (or not a position at all: subscribe() decides).
   */
  async reach(resourceVersion: string, timeoutMs = REACH_TIMEOUT_MS): Promise<boolean> {
    const target = parsePosition(resourceVersion);
    const deadline = Date.now() + timeoutMs;
    while (target !== undefined && target > BigInt(this.position())) {
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
    return true;
  }

  private advance(): void {
    const synced = parsePosition(this.informer.lastSyncResourceVersion);
    if (synced !== undefined && synced > this.pos) this.pos = synced;
  }

  /**
   * A new subscriber's stream; it may be closed already (a stream without markers whose resume
   * point is gone ends at once, with its error).
   */
  subscribe(opts: SubscribeOptions): Subscription {
    this.listen();
    const sub = new Subscription(this, opts.filter, opts.bufferLimit ?? 1000, opts.withoutMarkers);
    // Added first, so that a stream that ends right away is removed again; no change can come
    // in between (all of this runs in one turn).
    this.subscribers.add(sub);
    const from = parsePosition(opts.resumeFrom);
    if (opts.resumeFrom !== undefined) {
      const position = this.position();
      if (from !== undefined && from > BigInt(position)) {
        // Not a position this gateway has reached (another cluster's, or a replica that is
        // ahead): replaying nothing would pass later events with lower resourceVersions.
        sub.resync(`resourceVersion ${opts.resumeFrom} is newer than the gateway's position ${position}`);
        return sub;
      }
      const missed = from === undefined ? undefined : this.history.since(from);
      if (missed) {
        sub.enqueueUnbounded(this.replay(missed, opts.filter));
        sub.enqueueUnbounded([{ type: "SYNCED", resourceVersion: position }]);
      } else sub.resync(`resourceVersion ${opts.resumeFrom} is no longer in the gateway's history`);
    } else if (opts.initial) {
      sub.enqueueUnbounded(this.snapshot(opts.filter));
    }
    return sub;
  }

  unsubscribe(sub: Subscription): void {
    this.subscribers.delete(sub);
  }

  /** The current matching objects as initial ADDED events, then SYNCED. */
  *snapshot(filter: ObjectFilter): Generator<StreamEvent> {
    const rv = this.position();
    for (const object of this.informer.store.values()) {
      if (filter(object)) yield this.initialEvent(object, rv);
    }
    yield { type: "SYNCED", resourceVersion: rv };
  }

  /**
   * The initial ADDED event of an object at a position, the same object for every subscriber
   * whose initial state is taken at that position (many subscribing at once, as after a
   * restart): their executions are shared like live events' (shared-results.ts).
   */
  private initialEvent(object: KubeObject, rv: string): StreamEvent {
    const cached = this.initialEvents.get(object);
    if (cached?.resourceVersion === rv) {
      sharedEvents.add(cached);
      return cached;
    }
    const event: StreamEvent = { type: "ADDED", object, resourceVersion: rv, initial: true };
    this.initialEvents.set(object, event);
    return event;
  }

  private replay(entries: HistoryEntry[], filter: ObjectFilter): StreamEvent[] {
    const out: StreamEvent[] = [];
    for (const e of entries) {
      const ev = viewChange(e.type, e.object, e.oldObject, filter, e.position.toString());
      if (ev) out.push(ev);
    }
    return out;
  }

  /** Starts recording changes (at the informer's current position) before any subscriber. */
  recordHistory(): void {
    this.listen();
  }

  private listen(): void {
    if (this.unlisten) return;
    // History starts now: earlier positions cannot be replayed.
    this.pos = parsePosition(this.informer.lastSyncResourceVersion) ?? 0n;
    this.history.startAt(this.pos);
    this.unlisten = this.informer.addSyncListener((delta) => this.onDelta(delta));
  }

  private onDelta(delta: StoreDelta): void {
    // A deletion found by a relist carries the object's last state, older than the relist: it
    // is recorded at the relist's position (the informer's, set before those deletions), so a
    // client resuming from any position it was handed before is replayed it.
    this.advance();
    const objectPos = parsePosition(delta.object.metadata.resourceVersion);
    if (objectPos !== undefined && objectPos > this.pos) this.pos = objectPos;
    const oldObject = delta.type === "MODIFIED" ? delta.oldObject : undefined;
    this.history.push({ position: this.pos, type: delta.type, object: delta.object, oldObject });
    if (this.subscribers.size === 0) return;
    const rv = this.pos.toString();
    // Every subscriber that sees this change the same way gets the same event object: the
    // transports' shared results (shared-results.ts) are keyed by it, so the change is executed
    // and serialized once per distinct selection set, not once per subscriber.
    const views: Partial<Record<ObjectEventType, { event: StreamEvent; handedTo: number }>> = {};
    for (const sub of this.subscribers) {
      const type = viewType(delta.type, delta.object, oldObject, sub.filter);
      if (!type) continue;
      let view = views[type];
      if (!view) {
        const event: StreamEvent =
          type === "MODIFIED"
            ? { type, object: delta.object, oldObject, resourceVersion: rv, initial: false }
            : { type, object: delta.object, resourceVersion: rv, initial: false };
        view = views[type] = { event, handedTo: 0 };
      }
      view.handedTo++;
      sub.push(view.event);
    }
    // Marked before any subscriber runs (push only resolves promises): the first execution of
    // a view several subscribers got is already cached for the others.
    for (const view of Object.values(views)) if (view.handedTo > 1) sharedEvents.add(view.event);
  }

  /** Ends every current subscriber's stream with `error` (its resource is no longer served). */
  endSubscribers(error: Error): void {
    for (const sub of [...this.subscribers]) sub.close(error);
  }

  close(): void {
    this.unlisten?.();
    this.unlisten = undefined;
    for (const sub of [...this.subscribers]) sub.close();
  }
}

/**
 * A change as a filtered view sees it: an object that starts matching is ADDED to the view,
 * one that stops matching is DELETED from it, one outside the view is not reported.
 */
function viewType(
  type: StoreDelta["type"],
  object: KubeObject,
  oldObject: KubeObject | undefined,
  filter: ObjectFilter,
): ObjectEventType | undefined {
  if (type !== "MODIFIED") return filter(object) ? type : undefined;
  const now = filter(object);
  const before = oldObject ? filter(oldObject) : false;
  if (now && before) return "MODIFIED";
  if (now) return "ADDED";
  if (before) return "DELETED";
  return undefined;
}

function viewChange(
  type: StoreDelta["type"],
  object: KubeObject,
  oldObject: KubeObject | undefined,
  filter: ObjectFilter,
  resourceVersion: string,
): StreamEvent | undefined {
  const seen = viewType(type, object, oldObject, filter);
  if (!seen) return undefined;
  if (seen === "MODIFIED") return { type: seen, object, oldObject, resourceVersion, initial: false };
  return { type: seen, object, resourceVersion, initial: false };
}
