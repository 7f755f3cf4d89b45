// Structural sharing of cached objects (src/informers/share.ts): lossless, equal parts shared,
// unequal ones never, the object's own parts never, and the tables bounded.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ValueSharer } from "../../src/informers/share.ts";
import type { KubeObject } from "../../src/informers/types.ts";

function pod(name: string, node: string, image: string): KubeObject {
  return JSON.parse(
    JSON.stringify({
      kind: "Pod",
      apiVersion: "v1",
      metadata: {
        name,
        namespace: "team-a",
        uid: `uid-${name}`,
        labels: { app: "web", "pod-template-hash": "5d4f8c7b9" },
        ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-5d4f8c7b9", uid: "rs-1" }],
      },
      spec: {
        nodeName: node,
        containers: [{ name: "web", image, ports: [{ containerPort: 8080, protocol: "TCP" }], env: [] }],
        tolerations: [{ key: "node.kubernetes.io/not-ready", operator: "Exists", tolerationSeconds: 300 }],
        securityContext: {},
      },
      status: { phase: "Running", hostIPs: [{ ip: "172.18.0.3" }], podIP: `10.0.0.${name.length}` },
    }),
  );
}

test("equal sub-objects become one object, and the objects stay exactly as sent", () => {
  const sharer = new ValueSharer();
  const a = pod("web-1", "node-1", "registry.example/web:1.0.0");
  const b = pod("web-2", "node-2", "registry.example/web:1.0.0");
  const c = pod("web-3", "node-1", "registry.example/web:2.0.0");
  const texts = [a, b, c].map((o) => JSON.stringify(o));
  for (const o of [a, b, c]) sharer.shareObject(o);
  assert.deepEqual(
    [a, b, c].map((o) => JSON.stringify(o)),
    texts,
    "same JSON, property order included",
  );
  const spec = (o: KubeObject) => o.spec as Record<string, unknown>;
  assert.equal(spec(a).containers, spec(b).containers, "same containers: one array");
  assert.notEqual(spec(a).containers, spec(c).containers, "another image: its own");
  assert.equal(spec(a).tolerations, spec(c).tolerations);
  assert.equal(a.metadata.labels, c.metadata.labels);
  assert.equal(a.metadata.ownerReferences, b.metadata.ownerReferences);
  // An object's own parts stay its own: they hold its name, uid, node and IPs.
  assert.notEqual(a.metadata, b.metadata);
  assert.notEqual(a.spec, b.spec);
  assert.notEqual(a.status, b.status);
});

test("objects with the same members in another order, or of another type, are not shared", () => {
  // Every string hashes alike, so these objects collide and only the comparison tells them apart.
  const sharer = new ValueSharer(1024, 1024, 1024, () => 7);
  const a = { kind: "X", metadata: { name: "a" }, spec: { m: { x: "1", y: "2" }, l: [1, 2], e: {} } };
  const b = { kind: "X", metadata: { name: "b" }, spec: { m: { y: "2", x: "1" }, l: { 0: 1, 1: 2 }, e: [] } };
  const texts = [JSON.stringify(a), JSON.stringify(b)];
  sharer.shareObject(a as unknown as KubeObject);
  sharer.shareObject(b as unknown as KubeObject);
  assert.deepEqual([JSON.stringify(a), JSON.stringify(b)], texts);
  assert.notEqual(a.spec.m, b.spec.m);
  assert.notEqual(a.spec.l, b.spec.l);
  assert.notEqual(a.spec.e, b.spec.e);
});

test("random objects from a small alphabet: every object still serializes as it was parsed", () => {
  // Many equal and nearly equal sub-objects, numbers and strings of every length, and small
  // tables, so that entries age out and hashes collide: any shortcut in telling two
  // sub-objects equal shows as an object that changed.
  let seed = 42;
  const rand = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 16) % n; // the low bits of this generator repeat quickly
  };
  const strings = ["a", "b", "value-long-enough", "another-long-value", "x".repeat(200), "", "10"];
  const value = (depth: number): unknown => {
    const r = rand(depth > 3 ? 5 : 8);
    if (r === 0) return strings[rand(strings.length)];
    if (r === 1) return rand(3) - 1 + (rand(2) ? 0.5 : 0);
    if (r === 2) return rand(2) === 0;
    if (r === 3) return null;
    if (r === 4) return strings[rand(3)];
    if (r === 5) return Array.from({ length: rand(4) }, () => value(depth + 1));
    const o: Record<string, unknown> = {};
    for (let i = rand(4); i > 0; i--) o[["k", "l", "m", "n"][rand(4)]!] = value(depth + 1);
    return o;
  };
  // Every string hashing alike: colliding sub-objects are told apart by comparison alone.
  const sharer = new ValueSharer(16, 16, 16, (s) => s.length & 1);
  const objects: KubeObject[] = [];
  const texts: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const o = { metadata: { name: `o${i}` }, spec: { a: value(1), b: value(1) }, status: value(1) };
    const text = JSON.stringify(o);
    // Every other object as an update of the one before: its parts are compared with those.
    objects.push(sharer.shareObject(JSON.parse(text), i % 2 ? objects[i - 1] : undefined));
    texts.push(text);
  }
  for (let i = 0; i < objects.length; i++) assert.equal(JSON.stringify(objects[i]), texts[i]);
  assert.ok(sharer.size <= 6 * 16, `tables hold ${sharer.size} entries`);
});

test("an update keeps the previous version's equal parts, however full the tables", () => {
  const sharer = new ValueSharer(1, 1, 1); // tables that remember almost nothing
  const before = sharer.shareObject(pod("web-1", "node-1", "registry.example/web:1.0.0"));
  for (let i = 0; i < 100; i++) sharer.shareObject(pod(`other-${i}`, `node-${i}`, `registry.example/x:${i}`));
  const after = pod("web-1", "node-2", "registry.example/web:1.0.0");
  const text = JSON.stringify(after);
  sharer.shareObject(after, before);
  assert.equal(JSON.stringify(after), text);
  const spec = (o: KubeObject) => o.spec as Record<string, unknown>;
  assert.equal(spec(after).containers, spec(before).containers, "unchanged: the previous version's");
  assert.equal(after.metadata.labels, before.metadata.labels);
  assert.equal(
    (after.status as Record<string, unknown>).hostIPs,
    (before.status as Record<string, unknown>).hostIPs,
  );
  assert.notEqual(after.spec, before.spec, "nodeName changed: spec is the new version's own");
  const changed = pod("web-1", "node-2", "registry.example/web:1.1.0");
  sharer.shareObject(changed, after);
  assert.notEqual(
    spec(changed).containers,
    spec(after).containers,
    "another image: not the previous containers",
  );
  assert.equal((spec(changed).containers as { image: string }[])[0]!.image, "registry.example/web:1.1.0");
});

test("the tables stay bounded however many unique sub-objects pass", () => {
  const sharer = new ValueSharer(64, 64, 64);
  for (let i = 0; i < 20_000; i++)
    sharer.shareObject({
      metadata: { name: `p${i}`, labels: { id: `unique-label-${i}` } },
      spec: { c: [{ n: i }] },
    } as unknown as KubeObject);
  assert.ok(sharer.size <= 6 * 64, `tables hold ${sharer.size} entries`);
});
