// The page's copy of the cluster: every streamed object per kind, and each stream's state.
// Streams write into it as events arrive; whatever arrived during one animation frame is drawn
// once at the next frame, so a burst of thousands of events (a rollout at 10,000 pods, the
// initial state) costs one graph rebuild, not thousands.
import type { KindName, Obj, UiKind } from "./kinds.ts";
import type { StreamSink, StreamState } from "./streams.ts";

/** A redraw taking t ms is followed by at least REDRAW_SPACING * t ms without one. */
const REDRAW_SPACING = 4;

export type Objects = Map<KindName, Map<string, Obj>>;

export interface KindState {
  state: StreamState;
  message?: string;
}

export class Model {
  readonly objects: Objects = new Map();
  readonly states = new Map<KindName, KindState>();
  private scheduled = false;
  private lastRun = 0;
  private lastWorkMs = 0;

  private readonly onFrame: () => void;

  constructor(onFrame: () => void) {
    this.onFrame = onFrame;
  }

  of(kind: KindName): Map<string, Obj> {
    let m = this.objects.get(kind);
    if (!m) {
      m = new Map();
      this.objects.set(kind, m);
    }
    return m;
  }

  find(uid: string): Obj | undefined {
    for (const m of this.objects.values()) {
      const o = m.get(uid);
      if (o) return o;
    }
    return undefined;
  }

  clear(): void {
    this.objects.clear();
    this.states.clear();
    this.changed();
  }

  /**
   * Draw at the next animation frame (once, however many changes come before it); when
   * drawing takes long (tens of ms at 10,000 pods), not before REDRAW_SPACING times that has
   * passed since the last one, so that most frames stay free for scrolling and input while
   * changes stream in.
   */
  changed(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const run = () => {
      this.scheduled = false;
      const started = performance.now();
      this.onFrame();
      this.lastRun = performance.now();
      this.lastWorkMs = this.lastRun - started;
    };
    const wait = this.lastRun + this.lastWorkMs * REDRAW_SPACING - performance.now();
    if (wait <= 16) requestAnimationFrame(run);
    else setTimeout(() => requestAnimationFrame(run), wait);
  }

  sink(): StreamSink {
    return {
      reset: (k: UiKind, objects: Map<string, Obj>) => {
        this.objects.set(k.kind, objects);
        this.changed();
      },
      upsert: (k: UiKind, obj: Obj) => {
        this.of(k.kind).set(obj.uid, obj);
        this.changed();
      },
      remove: (k: UiKind, uid: string) => {
        this.of(k.kind).delete(uid);
        this.changed();
      },
      state: (k: UiKind, state: StreamState, message?: string) => {
        this.states.set(k.kind, { state, message });
        this.changed();
      },
    };
  }
}
