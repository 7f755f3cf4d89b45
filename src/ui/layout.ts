// The page's side of the layout worker: asks for a layout when the graph's structure changed,
// keeps at most one request in flight plus the newest one waiting (older ones are never
// worth computing), and hands each result to the renderer.
import type { GEdge, Graph } from "./graph.ts";

export interface LayoutRequest {
  seq: number;
  nodes: { id: string; width: number; height: number }[];
  edges: GEdge[];
}

export interface LayoutResult {
  seq: number;
  positions: Record<string, { x: number; y: number }>;
  edges: { from: string; to: string; points: [number, number][] }[];
  width: number;
  height: number;
  /** How long dagre took. */
  ms: number;
}

/** The worker's bundled file name (hashed), set by the build (scripts/build-ui.ts). */
declare const LAYOUT_WORKER_URL: string;

export class Layouter {
  private readonly worker = new Worker(new URL(LAYOUT_WORKER_URL, location.href), { type: "module" });
  private seq = 0;
  private busy = false;
  private waiting: LayoutRequest | undefined;
  private lastKey = "";

  private readonly onResult: (r: LayoutResult) => void;

  constructor(onResult: (r: LayoutResult) => void) {
    this.onResult = onResult;
    this.worker.onmessage = (e: MessageEvent<LayoutResult>) => {
      this.busy = false;
      // Even an outdated layout is shown: during a long rollout the structure changes faster
      // than layouts finish, and waiting for an up-to-date one would show none.
      this.onResult(e.data);
      this.next();
    };
  }

  /** Lays out `graph` if its structure differs from the last one asked for. */
  update(graph: Graph): void {
    if (graph.structureKey === this.lastKey) return;
    this.lastKey = graph.structureKey;
    this.waiting = {
      seq: ++this.seq,
      nodes: graph.nodes.map((n) => ({ id: n.id, width: n.width, height: n.height })),
      edges: graph.edges,
    };
    this.next();
  }

  /** Forget the last structure (e.g. after clearing the view), so the next graph is laid out. */
  reset(): void {
    this.lastKey = "";
  }

  private next(): void {
    if (this.busy || !this.waiting) return;
    this.busy = true;
    this.worker.postMessage(this.waiting);
    this.waiting = undefined;
  }
}
