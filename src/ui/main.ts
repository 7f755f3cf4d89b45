// The topology page: sign in when kgql asks for a token, open one live stream per kind for the
// chosen scope, and redraw (once per animation frame) whatever changed.
import "./styles.css";
import { AuthError, getCluster, getToken, gql, QueryError, setCluster, setToken, wsClient } from "./api.ts";
import { DetailsPanel } from "./details.ts";
import { watchFreshness } from "./freshness.ts";
import { buildGraph, type GNode, type Graph, POD_STATUSES } from "./graph.ts";
import { UI_KINDS } from "./kinds.ts";
import { Layouter } from "./layout.ts";
import { Model } from "./model.ts";
import { Renderer, STATUS_LABEL } from "./render.ts";
import { KindStream } from "./streams.ts";

/** An owner with more pods than this shows them as one counted group (see graph.ts). */
const GROUP_THRESHOLD = 8;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const scope = new URLSearchParams(location.hash.slice(1));
const view = {
  search: scope.get("search") ?? "",
  expanded: new Set<string>(),
  groupThreshold: Number(scope.get("group") ?? GROUP_THRESHOLD) || GROUP_THRESHOLD,
  filtered: false,
};

let graph: Graph = { nodes: [], edges: [], structureKey: "" };
const model = new Model(frame);
const renderer = new Renderer($("graph"), select);
const layouter = new Layouter((layout) => {
  renderer.setLayout(layout, graph);
  document.body.dataset.layoutMs = String(Math.round(layout.ms));
});
const details = new DetailsPanel($("details"), (ref) => void details.show(ref));
let connected = false;
const client = wsClient((c) => {
  connected = c;
  showState();
});
let streams: KindStream[] = [];
let refreshFreshness: (() => void) | undefined;

/** What tests and the benchmark read: the drawn graph's size and whether every stream is live. */
declare global {
  interface Window {
    kgqlTopology?: {
      nodes: number;
      edges: number;
      pods: number;
      live: boolean;
      frames: number;
      /** Time spent building and drawing the graph in those frames, and the longest one (ms). */
      frameWorkMs: number;
      maxFrameWorkMs: number;
    };
  }
}
let frames = 0;
let frameWorkMs = 0;
let maxFrameWorkMs = 0;

function frame(): void {
  const started = performance.now();
  graph = buildGraph(model.objects, view);
  layouter.update(graph);
  renderer.draw(graph);
  const ms = performance.now() - started;
  frames++;
  frameWorkMs += ms;
  maxFrameWorkMs = Math.max(maxFrameWorkMs, ms);
  showState();
}

function select(n: GNode): void {
  renderer.selected = n.id;
  renderer.draw(graph);
  if (n.kind === "PodGroup") {
    const counts = POD_STATUSES.filter((s) => n.counts![s] > 0).map(
      (s) => `${n.counts![s]} ${STATUS_LABEL[s]}`,
    );
    details.showGroup(`${n.name} in ${n.namespace ?? ""}`, [...counts, n.detail], () => {
      view.expanded.add(n.owner!);
      details.close();
      frame();
    });
    return;
  }
  void details.show({ kind: n.kind, name: n.name, namespace: n.namespace });
}

function showState(): void {
  const states = [...model.states.entries()];
  const live =
    states.length === UI_KINDS.length && states.every(([, s]) => s.state === "live" || s.state === "failed");
  const retrying = states.some(([, s]) => s.state === "retrying");
  const badge = $("connection");
  badge.textContent =
    retrying || (!connected && states.length) ? "reconnecting…" : live ? "live" : "syncing…";
  badge.className = `badge ${retrying ? "bad" : live ? "ok" : "warn"}`;
  const problems = states
    .filter(([, s]) => s.state === "failed" || (s.state === "retrying" && s.message))
    .map(([kind, s]) => `${kind}: ${s.message ?? s.state}`);
  const box = $("problems");
  const text = problems.join("\n");
  if (box.dataset.text !== text) {
    box.dataset.text = text;
    box.replaceChildren(
      ...problems.map((p) => {
        const e = document.createElement("p");
        e.textContent = p;
        return e;
      }),
    );
  }
  window.kgqlTopology = {
    nodes: graph.nodes.length,
    edges: graph.edges.length,
    pods: model.objects.get("Pod")?.size ?? 0,
    live: live && connected,
    frames,
    frameWorkMs,
    maxFrameWorkMs,
  };
  document.body.dataset.live = String(live && connected);
}

function legend(): void {
  $("legend").replaceChildren(
    ...POD_STATUSES.map((s) => {
      const span = document.createElement("span");
      const swatch = document.createElement("i");
      swatch.style.background = `var(--${s})`;
      span.append(swatch, STATUS_LABEL[s]);
      return span;
    }),
  );
}

/** (Re)opens every kind's stream for the current namespace and selector. */
function start(): void {
  for (const s of streams) s.stop();
  const namespace = $<HTMLInputElement>("namespace").value.trim() || undefined;
  const labelSelector = $<HTMLInputElement>("selector").value.trim() || undefined;
  view.filtered = !!labelSelector;
  view.expanded.clear();
  const hash = new URLSearchParams();
  const cluster = getCluster();
  if (cluster) hash.set("cluster", cluster);
  if (namespace) hash.set("namespace", namespace);
  if (labelSelector) hash.set("selector", labelSelector);
  if (view.search) hash.set("search", view.search);
  history.replaceState(null, "", hash.size ? `#${hash}` : location.pathname);
  model.clear();
  renderer.reset();
  layouter.reset();
  details.close();
  streams = UI_KINDS.map(
    (k) => new KindStream(client, k, { cluster, namespace, labelSelector }, model.sink(), signIn),
  );
  for (const s of streams) s.start();
}

/** Shows the token form; `message` says why (a rejected token, an expired one). */
function signIn(message?: string): void {
  for (const s of streams) s.stop();
  streams = [];
  $("login").hidden = false;
  $("login-error").textContent = message ?? "";
  $<HTMLTextAreaElement>("token").focus();
}

async function boot(): Promise<void> {
  try {
    await gql("{ cacheStatus { kind } }");
  } catch (err) {
    if (err instanceof AuthError) {
      signIn(getToken() ? `kgql rejected this token: ${err.message}` : undefined);
      return;
    }
    $("problems").textContent = `kgql did not answer: ${(err as Error).message}`;
    return;
  }
  $("login").hidden = true;
  $("signout").hidden = !getToken();
  await pickClusters();
  await loadNamespaces();
  start();
  refreshFreshness = watchFreshness($("freshness"));
}

/**
 * With several clusters behind the gateway, a picker: the one in the address (#cluster=...) if
 * the gateway serves it, else the default. With one cluster the picker stays hidden.
 */
async function pickClusters(): Promise<void> {
  const data = await gql<{ clusters: { name: string; default: boolean }[] }>("{ clusters { name default } }");
  if (data.clusters.length < 2) return;
  const wanted = scope.get("cluster");
  const chosen = data.clusters.find((c) => c.name === wanted) ?? data.clusters.find((c) => c.default)!;
  setCluster(chosen.name);
  const select = $<HTMLSelectElement>("cluster");
  select.replaceChildren(
    ...data.clusters.map((c) => {
      const o = document.createElement("option");
      o.value = c.name;
      o.textContent = c.default ? `${c.name} (default)` : c.name;
      return o;
    }),
  );
  select.value = chosen.name;
  $("cluster-pick").hidden = false;
}

/** The namespace suggestions of the cluster shown. */
async function loadNamespaces(): Promise<void> {
  let names: string[] = [];
  try {
    const data = await gql<{ namespaces: { name: string }[] }>(
      "query TopologyNamespaces($cluster: String) { namespaces(cluster: $cluster) { name } }",
    );
    names = data.namespaces.map((n) => n.name);
  } catch (err) {
    // A caller who may not list namespaces types one in.
    if (!(err instanceof QueryError)) throw err;
  }
  $("namespaces").replaceChildren(
    ...names.map((name) => {
      const o = document.createElement("option");
      o.value = name;
      return o;
    }),
  );
}

function wire(): void {
  const ns = $<HTMLInputElement>("namespace");
  const sel = $<HTMLInputElement>("selector");
  const search = $<HTMLInputElement>("search");
  ns.value = scope.get("namespace") ?? "";
  sel.value = scope.get("selector") ?? "";
  search.value = view.search;
  ns.addEventListener("change", start);
  $<HTMLSelectElement>("cluster").addEventListener("change", (e) => {
    setCluster((e.target as HTMLSelectElement).value);
    start();
    refreshFreshness?.();
    void loadNamespaces();
  });
  sel.addEventListener("change", start);
  search.addEventListener("input", () => {
    view.search = search.value;
    frame();
  });
  search.addEventListener("keydown", (e) => {
    if (e.key !== "Enter") return;
    const first = graph.nodes.find((n) => n.match && view.search);
    if (first) renderer.focus(first.id);
  });
  $("fit").addEventListener("click", () => renderer.fit());
  $("collapse").addEventListener("click", () => {
    view.expanded.clear();
    frame();
  });
  $("signout").addEventListener("click", () => {
    setToken(null);
    location.reload();
  });
  $("login-form").addEventListener("submit", (e) => {
    e.preventDefault();
    setToken($<HTMLTextAreaElement>("token").value.trim());
    void boot();
  });
  legend();
}

wire();
void boot();
