// Draws the graph as SVG. Each node's markup is kept: a frame that only changed statuses
// (a pod turning ready) rewrites just those nodes; a new layout redraws the scene. Pan with
// drag, zoom with the wheel; a click on a node selects it.
import type { GNode, Graph, PodStatus } from "./graph.ts";
import { POD_STATUSES } from "./graph.ts";
import type { LayoutResult } from "./layout.ts";

const SVG = "http://www.w3.org/2000/svg";

/** Below this scale node names are too small to read. */
const MIN_FIT_SCALE = 0.6;

export const STATUS_LABEL: Record<PodStatus, string> = {
  ready: "Running, ready",
  notready: "Running, not ready",
  pending: "Pending",
  failed: "Failed",
  succeeded: "Succeeded",
  unknown: "Unknown",
};

const KIND_SHORT: Record<GNode["kind"], string> = {
  Deployment: "deploy",
  StatefulSet: "sts",
  DaemonSet: "ds",
  Job: "job",
  ReplicaSet: "rs",
  Pod: "pod",
  Node: "node",
  Service: "svc",
  Ingress: "ing",
  PodGroup: "pods",
};

const escapeXml = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

/** Text that fits a node's width (SVG text does not wrap or clip by itself). */
const fit = (s: string, chars: number) => (s.length > chars ? `${s.slice(0, chars - 1)}…` : s);

function nodeMarkup(n: GNode, selected: boolean): string {
  const cls = [
    "node",
    `kind-${n.kind}`,
    n.status ? `status-${n.status}` : "",
    n.match ? "" : "dim",
    selected ? "selected" : "",
  ]
    .filter(Boolean)
    .join(" ");
  let bar = "";
  if (n.counts) {
    // The group's pods by status, as a stacked bar across its width.
    const total = POD_STATUSES.reduce((a, s) => a + n.counts![s], 0) || 1;
    let x = 8;
    const w = n.width - 16;
    for (const s of POD_STATUSES) {
      const part = (n.counts[s] / total) * w;
      if (part > 0)
        bar += `<rect class="seg status-${s}" x="${x}" y="${n.height - 12}" width="${part}" height="6"/>`;
      x += part;
    }
  }
  const chars = Math.floor((n.width - 16) / 6.6);
  return `<g class="${cls}"><title>${escapeXml(`${n.kind} ${n.namespace ? `${n.namespace}/` : ""}${n.name}\n${n.detail}`)}</title><rect class="box" width="${n.width}" height="${n.height}" rx="6"/><text class="kind" x="8" y="14">${KIND_SHORT[n.kind]}${n.namespace ? ` · ${escapeXml(fit(n.namespace, 18))}` : ""}</text><text class="name" x="8" y="28">${escapeXml(fit(n.name, chars))}</text><text class="detail" x="8" y="41">${escapeXml(fit(n.detail, chars + 4))}</text>${bar}</g>`;
}

export class Renderer {
  readonly svg: SVGSVGElement;
  private readonly scene: SVGGElement;
  private readonly edgeLayer: SVGGElement;
  private readonly nodeLayer: SVGGElement;
  private layout: LayoutResult | undefined;
  private readonly drawn = new Map<string, { el: SVGGElement; markup: string; transform: string }>();
  private view = { x: 0, y: 0, scale: 1 };
  /** Until the user pans or zooms, each new layout is fitted to the window. */
  private userMoved = false;
  selected: string | undefined;

  private readonly onSelect: (n: GNode) => void;

  constructor(container: HTMLElement, onSelect: (n: GNode) => void) {
    this.onSelect = onSelect;
    this.svg = document.createElementNS(SVG, "svg");
    this.svg.setAttribute("class", "graph");
    this.scene = document.createElementNS(SVG, "g");
    this.edgeLayer = document.createElementNS(SVG, "g");
    this.edgeLayer.setAttribute("class", "edges");
    this.nodeLayer = document.createElementNS(SVG, "g");
    this.scene.append(this.edgeLayer, this.nodeLayer);
    this.svg.append(this.scene);
    container.append(this.svg);
    this.panAndZoom();
  }

  private nodes = new Map<string, GNode>();

  /** The graph's current content; positions come from the last layout. */
  draw(graph: Graph): void {
    this.nodes = new Map(graph.nodes.map((n) => [n.id, n]));
    if (!this.layout) return;
    const pos = this.layout.positions;
    for (const [id, d] of this.drawn) {
      if (!this.nodes.has(id)) {
        d.el.remove();
        this.drawn.delete(id);
      }
    }
    for (const n of graph.nodes) {
      const p = pos[n.id];
      if (!p) continue;
      const markup = nodeMarkup(n, n.id === this.selected);
      let d = this.drawn.get(n.id);
      if (!d) {
        const el = document.createElementNS(SVG, "g");
        // What tests and scripts find nodes by (the inner markup is rewritten on changes).
        el.dataset.id = n.id;
        el.dataset.kind = n.kind;
        el.dataset.name = n.name;
        if (n.namespace) el.dataset.namespace = n.namespace;
        this.nodeLayer.append(el);
        d = { el, markup: "", transform: "" };
        this.drawn.set(n.id, d);
      }
      // Only what changed: rewriting 900 unchanged transforms each frame made the browser
      // restyle the whole scene (most of a frame's time at 10,000 pods).
      const transform = `translate(${p.x},${p.y})`;
      if (d.transform !== transform) {
        d.el.setAttribute("transform", transform);
        d.transform = transform;
      }
      if (n.status && d.el.dataset.status !== n.status) d.el.dataset.status = n.status;
      if (n.kind === "PodGroup" && d.el.dataset.name !== n.name) d.el.dataset.name = n.name;
      if (d.markup !== markup) {
        d.el.innerHTML = markup;
        d.markup = markup;
      }
    }
  }

  setLayout(layout: LayoutResult, graph: Graph): void {
    this.layout = layout;
    const paths = layout.edges
      .filter((e) => e.points.length > 1)
      .map((e) => `M${e.points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join("L")}`);
    this.edgeLayer.innerHTML = `<path d="${paths.join("")}"/>`;
    this.draw(graph);
    if (!this.userMoved && layout.width > 0) this.fit();
  }

  /**
   * The whole graph in view, but never so small that names cannot be read (then the top of it,
   * the rest a drag away), nor magnified beyond 1:1.
   */
  fit(): void {
    if (!this.layout) return;
    const box = this.svg.getBoundingClientRect();
    const whole = Math.min(box.width / this.layout.width, box.height / this.layout.height);
    const scale = Math.min(1, Math.max(MIN_FIT_SCALE, whole));
    this.view = { scale, x: Math.max(10, (box.width - this.layout.width * scale) / 2), y: 10 };
    this.apply();
  }

  /** Centres a node (search: the first match). */
  focus(id: string): void {
    const p = this.layout?.positions[id];
    if (!p) return;
    this.userMoved = true;
    const box = this.svg.getBoundingClientRect();
    this.view.scale = Math.max(this.view.scale, 0.8);
    this.view.x = box.width / 2 - p.x * this.view.scale;
    this.view.y = box.height / 2 - p.y * this.view.scale;
    this.apply();
  }

  reset(): void {
    this.layout = undefined;
    this.userMoved = false;
    for (const d of this.drawn.values()) d.el.remove();
    this.drawn.clear();
    this.edgeLayer.innerHTML = "";
  }

  private apply(): void {
    const { x, y, scale } = this.view;
    this.scene.setAttribute("transform", `translate(${x},${y}) scale(${scale})`);
  }

  private panAndZoom(): void {
    let drag: { x: number; y: number; moved: boolean } | undefined;
    this.svg.addEventListener("pointerdown", (e) => {
      drag = { x: e.clientX, y: e.clientY, moved: false };
    });
    this.svg.addEventListener("pointermove", (e) => {
      if (!drag || e.buttons === 0) return;
      const dx = e.clientX - drag.x;
      const dy = e.clientY - drag.y;
      if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 4) return;
      drag.moved = true;
      this.userMoved = true;
      this.view.x += dx;
      this.view.y += dy;
      drag.x = e.clientX;
      drag.y = e.clientY;
      this.apply();
    });
    this.svg.addEventListener("pointerup", (e) => {
      const wasDrag = drag?.moved;
      drag = undefined;
      if (wasDrag) return;
      const el = (e.target as Element).closest<SVGGElement>("g[data-id]");
      const n = el?.dataset.id ? this.nodes.get(el.dataset.id) : undefined;
      if (n) this.onSelect(n);
    });
    this.svg.addEventListener(
      "wheel",
      (e) => {
        e.preventDefault();
        const box = this.svg.getBoundingClientRect();
        const mx = e.clientX - box.left;
        const my = e.clientY - box.top;
        this.userMoved = true;
        const factor = Math.exp(-e.deltaY * 0.0015);
        const scale = Math.min(3, Math.max(0.05, this.view.scale * factor));
        const k = scale / this.view.scale;
        this.view = { scale, x: mx - (mx - this.view.x) * k, y: my - (my - this.view.y) * k };
        this.apply();
      },
      { passive: false },
    );
  }
}
