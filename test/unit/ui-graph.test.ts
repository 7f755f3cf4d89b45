// The topology page's graph (src/ui/graph.ts, no DOM): what is drawn, the pod groups above the
// threshold, services to what draws their pods, the label-selector view.
import assert from "node:assert/strict";
import { test } from "node:test";
import { buildGraph, type ViewOptions } from "../../src/ui/graph.ts";
import type { KindName, Obj } from "../../src/ui/kinds.ts";

const obj = (kind: KindName, name: string, extra: Partial<Obj> = {}): Obj => ({
  uid: `${kind}-${name}`,
  kind,
  name,
  namespace: kind === "Node" ? null : "ns",
  labels: {},
  owners: [],
  ...extra,
});

function cluster(pods: number) {
  const dep = obj("Deployment", "web", { replicas: pods, readyReplicas: pods - 1 });
  const rs = obj("ReplicaSet", "web-1", { owners: [{ uid: dep.uid }], replicas: pods });
  const oldRs = obj("ReplicaSet", "web-0", { owners: [{ uid: dep.uid }], replicas: 0 });
  const node = obj("Node", "n1", { nodeReady: true });
  const podList = Array.from({ length: pods }, (_, i) =>
    obj("Pod", `web-1-${i}`, {
      owners: [{ uid: rs.uid }],
      labels: { app: "web" },
      phase: i === 0 ? "Pending" : "Running",
      ready: i !== 0,
      nodeName: "n1",
    }),
  );
  const svc = obj("Service", "web", { selector: { app: "web" } });
  const other = obj("Service", "other", { selector: { app: "other" } });
  const ing = obj("Ingress", "web", { services: [{ name: "web" }] });
  const objects = new Map<KindName, Map<string, Obj>>();
  for (const o of [dep, rs, oldRs, node, ...podList, svc, other, ing]) {
    if (!objects.has(o.kind)) objects.set(o.kind, new Map());
    objects.get(o.kind)!.set(o.uid, o);
  }
  return { objects, dep, rs, node, svc, other, ing, podList };
}

const view = (v: Partial<ViewOptions> = {}): ViewOptions => ({
  search: "",
  expanded: new Set(),
  groupThreshold: 8,
  filtered: false,
  ...v,
});

test("small owners: every pod drawn, linked to its ReplicaSet, node and services; old ReplicaSets at zero hidden", () => {
  const c = cluster(3);
  const g = buildGraph(c.objects, view());
  const ids = new Set(g.nodes.map((n) => n.id));
  assert.ok(!ids.has("ReplicaSet-web-0"));
  for (const p of c.podList) {
    assert.ok(ids.has(p.uid));
    assert.ok(g.edges.some((e) => e.from === c.rs.uid && e.to === p.uid));
    assert.ok(g.edges.some((e) => e.from === p.uid && e.to === c.node.uid));
    assert.ok(g.edges.some((e) => e.from === c.svc.uid && e.to === p.uid));
  }
  assert.ok(g.edges.some((e) => e.from === c.dep.uid && e.to === c.rs.uid));
  assert.ok(g.edges.some((e) => e.from === c.ing.uid && e.to === c.svc.uid));
  assert.ok(!g.edges.some((e) => e.from === c.other.uid));
  assert.equal(g.nodes.find((n) => n.id === c.podList[0]!.uid)?.status, "pending");
  assert.equal(g.nodes.find((n) => n.id === c.node.uid)?.detail, "Ready, 3 pods");
});

test("10,000 pods of one owner are one group node with counts; the service links to the group once", () => {
  const c = cluster(10_000);
  const g = buildGraph(c.objects, view());
  const groups = g.nodes.filter((n) => n.kind === "PodGroup");
  assert.equal(groups.length, 1);
  assert.equal(g.nodes.filter((n) => n.kind === "Pod").length, 0);
  assert.equal(groups[0]!.name, "10000 pods");
  assert.deepEqual(
    { ready: groups[0]!.counts!.ready, pending: groups[0]!.counts!.pending },
    { ready: 9999, pending: 1 },
  );
  assert.equal(g.edges.filter((e) => e.from === c.svc.uid).length, 1);
  assert.ok(g.nodes.length < 10);
  // Expanded on request.
  const open = buildGraph(c.objects, view({ expanded: new Set([c.rs.uid]) }));
  assert.equal(open.nodes.filter((n) => n.kind === "Pod").length, 10_000);
});

test("search marks matches (and counts them in a group); the structure key ignores statuses", () => {
  const c = cluster(20);
  const g = buildGraph(c.objects, view({ search: "web-1-1" }));
  const group = g.nodes.find((n) => n.kind === "PodGroup")!;
  assert.equal(group.name, "20 pods (11 match)");
  assert.equal(g.nodes.find((n) => n.id === c.node.uid)?.match, false);
  const before = buildGraph(c.objects, view()).structureKey;
  c.podList[0]!.phase = "Running";
  assert.equal(buildGraph(c.objects, view()).structureKey, before);
});

test("with a label selector, what no shown pod belongs to is hidden", () => {
  const c = cluster(2);
  c.objects.get("Pod")!.clear();
  const g = buildGraph(c.objects, view({ filtered: true }));
  assert.deepEqual(g.nodes, []);
});
