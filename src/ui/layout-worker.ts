// Lays the graph out with dagre in a Web Worker: a layout of several hundred nodes takes a
// few hundred milliseconds, which on the page's own thread would freeze scrolling and the
// live updates while it runs. The page draws the last layout meanwhile.
import { Graph, layout } from "@dagrejs/dagre";
import type { LayoutRequest, LayoutResult } from "./layout.ts";

self.onmessage = (e: MessageEvent<LayoutRequest>) => {
  const req = e.data;
  const started = performance.now();
  const g = new Graph({ multigraph: false });
  // Left to right: owners on the left, then what they own, nodes on the right.
  g.setGraph({ rankdir: "LR", nodesep: 14, ranksep: 70, marginx: 20, marginy: 20 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of req.nodes) g.setNode(n.id, { width: n.width, height: n.height });
  for (const edge of req.edges) g.setEdge(edge.from, edge.to);
  layout(g);
  const positions: LayoutResult["positions"] = {};
  for (const id of g.nodes()) {
    const n = g.node(id);
    positions[id] = { x: n.x - n.width / 2, y: n.y - n.height / 2 };
  }
  const edges: LayoutResult["edges"] = g.edges().map((ed: { v: string; w: string }) => ({
    from: ed.v,
    to: ed.w,
    points: g.edge(ed).points?.map((p: { x: number; y: number }) => [p.x, p.y] as [number, number]) ?? [],
  }));
  const label = g.graph();
  const result: LayoutResult = {
    seq: req.seq,
    positions,
    edges,
    width: label.width ?? 0,
    height: label.height ?? 0,
    ms: performance.now() - started,
  };
  (self as unknown as Worker).postMessage(result);
};
