import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultIndexers, SELECTOR_INDEX, selectorIndex } from "../../src/informers/indexers.ts";
import {
  LabelSelector,
  type MetaLabelSelector,
  parseLabelSelector,
  selectorFromLabelSelector,
  selectorFromMap,
} from "../../src/informers/labels.ts";
import { Lister } from "../../src/informers/lister.ts";
import { Store } from "../../src/informers/store.ts";
import type { KubeObject } from "../../src/informers/types.ts";
import { objectKey } from "../../src/informers/types.ts";

function rng(seed: number) {
  let s = seed;
  const next = (n: number) => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 8) % n;
  };
  const pick = <T>(xs: readonly T[]): T => xs[next(xs.length)]!;
  return { next, pick };
}

const NAMESPACES = ["default", "kube-system", "team-a", "team-b", "team-a-x"];
const KEYS = ["app", "tier", "env", "example.com/team", "rank"];
const VALUES: Record<string, string[]> = {
  app: ["web", "db", "cache", "api", "rare"],
  tier: ["frontend", "backend"],
  env: ["prod", "staging", "dev"],
  "example.com/team": ["core", "edge"],
  rank: ["1", "2", "5", "10", "007"],
};

function pod(ns: string | undefined, name: string, labels: Record<string, string> | undefined): KubeObject {
  return {
    kind: "Pod",
    metadata: { name, namespace: ns, uid: `${ns}/${name}`, resourceVersion: "1", labels },
  };
}

function randomLabels(r: ReturnType<typeof rng>): Record<string, string> | undefined {
  if (r.next(10) === 0) return undefined;
  const labels: Record<string, string> = {};
  for (const k of KEYS) if (r.next(3) > 0) labels[k] = r.pick(VALUES[k]!);
  // "rare" is rare
  if (labels.app === "rare" && r.next(10) > 0) labels.app = "web";
  return labels;
}

function randomRequirement(r: ReturnType<typeof rng>): string {
  const k = r.pick(KEYS);
  const v = () => (r.next(6) === 0 ? "missing" : r.pick(VALUES[k]!));
  switch (r.next(9)) {
    case 0:
      return `${k}=${v()}`;
    case 1:
      return `${k}==${v()}`;
    case 2:
      return `${k}!=${v()}`;
    case 3:
      return `${k} in (${v()},${v()})`;
    case 4:
      return `${k} notin (${v()})`;
    case 5:
      return k;
    case 6:
      return `!${k}`;
    case 7:
      return `rank>${r.pick(["0", "1", "4", "9"])}`;
    default:
      return `rank<${r.pick(["2", "6", "11"])}`;
  }
}

function populate(seed: number, count: number): { store: Store; lister: Lister; r: ReturnType<typeof rng> } {
  const r = rng(seed);
  const store = new Store(defaultIndexers("pods"));
  for (let i = 0; i < count; i++) store.upsert(pod(r.pick(NAMESPACES), `p${i}`, randomLabels(r)));
  store.upsert(pod(undefined, "cluster-scoped", { app: "web" }));
  return { store, lister: new Lister(store), r };
}

/** The reference answer: scan everything, filter, sort by key. */
function bruteForce(store: Store, namespace: string | undefined, selector: LabelSelector | undefined) {
  return [...store.values()]
    .filter((o) => !namespace || o.metadata.namespace === namespace)
    .filter((o) => !selector || selector.matches(o.metadata.labels))
    .sort((a, b) => (objectKey(a) < objectKey(b) ? -1 : 1));
}

/** Counts the matches() calls of one selector. */
function counted(selector: LabelSelector): { selector: LabelSelector; calls: () => number } {
  let calls = 0;
  const original = selector.matches.bind(selector);
  selector.matches = (labels) => {
    calls++;
    return original(labels);
  };
  return { selector, calls: () => calls };
}

test("list with random selectors equals a brute-force scan (fixed seed, 600 queries)", () => {
  const { store, lister, r } = populate(7, 3000);
  let nonEmpty = 0;
  for (let q = 0; q < 600; q++) {
    const text = Array.from({ length: 1 + r.next(3) }, () => randomRequirement(r)).join(",");
    const selector = parseLabelSelector(text);
    const namespace = r.next(3) === 0 ? undefined : r.pick(NAMESPACES);
    const expected = bruteForce(store, namespace, selector);
    const actual = lister.list({ namespace, selector });
    assert.deepEqual(
      actual.map(objectKey),
      expected.map(objectKey),
      `selector ${JSON.stringify(text)} in ${namespace ?? "all namespaces"}`,
    );
    if (expected.length > 0) nonEmpty++;
  }
  assert.ok(nonEmpty > 200, `the queries exercise non-empty answers (${nonEmpty})`);
});

test("list without a selector: all or one namespace, sorted by key; '' means all namespaces", () => {
  const { store, lister } = populate(3, 300);
  const all = lister.list();
  assert.equal(all.length, store.size);
  assert.deepEqual(all.map(objectKey), [...store.keys()].sort());
  assert.deepEqual(lister.list({ namespace: "" }).map(objectKey), [...store.keys()].sort());
  assert.deepEqual(
    lister.list({ namespace: "team-a" }).map(objectKey),
    bruteForce(store, "team-a", undefined).map(objectKey),
  );
  assert.deepEqual(lister.list({ namespace: "nope" }), []);
  assert.deepEqual(lister.list({ selector: LabelSelector.everything() }).length, store.size);
  assert.deepEqual(lister.list({ selector: LabelSelector.nothing() }), []);
});

test("get by namespace and name, or by name when cluster-scoped", () => {
  const { lister } = populate(3, 10);
  const some = lister.list({ namespace: "default" })[0] ?? lister.list()[0]!;
  assert.equal(lister.get(some.metadata.namespace, some.metadata.name), some);
  assert.equal(lister.get(undefined, "cluster-scoped")?.metadata.name, "cluster-scoped");
  assert.equal(lister.get("default", "nope"), undefined);
});

test("a positive requirement takes candidates from the label index, not a scan of the kind", () => {
  const { store, lister } = populate(11, 5000);
  const rare = store.indexKeys("labels", "app=rare").size;
  assert.ok(rare > 0 && rare < 200, `a rare label (${rare} of ${store.size})`);

  // Verified: only the smallest set (app=rare), though env!=dev alone would match thousands.
  const q1 = counted(parseLabelSelector("env!=dev,app=rare,tier"));
  const r1 = lister.list({ selector: q1.selector });
  assert.equal(q1.calls(), rare);
  assert.deepEqual(lister.plan({ selector: q1.selector }), { source: "label-index", candidates: rare });
  assert.deepEqual(r1.map(objectKey), bruteForce(store, undefined, q1.selector).map(objectKey));

  // in: the union of the value sets, nothing else.
  const cacheOrRare = store.indexKeys("labels", "app=cache").size + rare;
  const q2 = counted(parseLabelSelector("app in (rare, cache)"));
  lister.list({ selector: q2.selector });
  assert.equal(q2.calls(), cacheOrRare);

  // exists: the key's set.
  const q3 = counted(parseLabelSelector("example.com/team,!tier"));
  lister.list({ selector: q3.selector });
  assert.equal(q3.calls(), store.indexKeys("labels", "example.com/team").size);
  assert.ok(q3.calls() < store.size);

  // A value nobody has: no candidate at all.
  const q4 = counted(parseLabelSelector("app=missing,env"));
  assert.deepEqual(lister.list({ selector: q4.selector }), []);
  assert.equal(q4.calls(), 0);

  // With a namespace: the smaller of the namespace and the label set.
  const inNs = store.indexKeys("namespace", "team-b").size;
  const q5 = counted(parseLabelSelector("env!=prod,app=rare"));
  assert.ok(rare < inNs);
  assert.deepEqual(lister.plan({ namespace: "team-b", selector: q5.selector }), {
    source: "label-index",
    candidates: rare,
  });
  lister.list({ namespace: "team-b", selector: q5.selector });
  // Candidates outside the namespace are dropped before matching.
  const rareInNs = [...store.indexKeys("labels", "app=rare")].filter((k) => k.startsWith("team-b/")).length;
  assert.equal(q5.calls(), rareInNs);
  const webs = store.indexKeys("labels", "app=web").size;
  assert.ok(webs > inNs);
  assert.deepEqual(lister.plan({ namespace: "team-b", selector: parseLabelSelector("app=web") }), {
    source: "namespace",
    candidates: inNs,
  });
});

test("purely negative selectors scan the namespace, or everything", () => {
  const { store, lister } = populate(5, 2000);
  const neg = counted(parseLabelSelector("app!=web,env notin (dev),!rank"));
  lister.list({ namespace: "team-a", selector: neg.selector });
  assert.equal(neg.calls(), store.indexKeys("namespace", "team-a").size);
  assert.deepEqual(lister.plan({ selector: neg.selector }), { source: "all", candidates: store.size });
  const all = counted(parseLabelSelector("!rank"));
  lister.list({ selector: all.selector });
  assert.equal(all.calls(), store.size);
});

test("a store without the label index still answers selectors (by scanning)", () => {
  const store = new Store();
  store.upsert(pod("ns", "a", { app: "web" }));
  store.upsert(pod("ns", "b", { app: "db" }));
  store.upsert(pod("other", "c", { app: "web" }));
  const lister = new Lister(store);
  assert.deepEqual(lister.list({ selector: parseLabelSelector("app=web") }).map(objectKey), [
    "ns/a",
    "other/c",
  ]);
  assert.deepEqual(lister.list({ namespace: "ns", selector: parseLabelSelector("app=web") }).map(objectKey), [
    "ns/a",
  ]);
  assert.deepEqual(lister.list({ namespace: "ns" }).map(objectKey), ["ns/a", "ns/b"]);
});

function service(ns: string, name: string, selector: Record<string, string> | undefined): KubeObject {
  return {
    kind: "Service",
    metadata: { name, namespace: ns, uid: name, resourceVersion: "1" },
    spec: { selector },
  };
}

test("selecting: services whose selector matches a pod's labels equal a brute-force scan", () => {
  const r = rng(99);
  const services = new Store(defaultIndexers("services"));
  for (let i = 0; i < 400; i++) {
    const sel: Record<string, string> = {};
    for (let n = r.next(3); n >= 0; n--) {
      const k = r.pick(KEYS);
      sel[k] = r.pick(VALUES[k]!);
    }
    services.upsert(
      service(r.pick(NAMESPACES), `s${i}`, r.next(15) === 0 ? (r.next(2) ? {} : undefined) : sel),
    );
  }
  const lister = new Lister(services);
  let calls = 0;
  const selectorOf = (svc: KubeObject) => {
    calls++;
    return selectorFromMap((svc.spec as { selector?: Record<string, string> }).selector);
  };
  let found = 0;
  for (let i = 0; i < 300; i++) {
    const ns = r.pick(NAMESPACES);
    const labels = randomLabels(r);
    const expected = [...services.values()]
      .filter((s) => s.metadata.namespace === ns && selectorOf(s).matches(labels))
      .map((s) => s.metadata.name)
      .sort();
    calls = 0;
    const actual = lister.selecting(ns, labels, selectorOf).map((s) => s.metadata.name);
    assert.deepEqual(actual, expected, `${ns} ${JSON.stringify(labels)}`);
    assert.ok(calls < services.size / 2, `verified ${calls} candidates, not all ${services.size}`);
    found += actual.length;
  }
  assert.ok(found > 50, `the pods are selected by some services (${found})`);
  assert.deepEqual(lister.selecting("default", undefined, selectorOf), []);
});

test("selecting with workload selectors (matchLabels, In, Exists, NotIn-only and empty)", () => {
  const store = new Store({ ...defaultIndexers("deployments"), [SELECTOR_INDEX]: selectorIndex });
  const deploy = (name: string, selector: MetaLabelSelector | undefined): KubeObject => ({
    kind: "Deployment",
    metadata: { name, namespace: "ns", uid: name, resourceVersion: "1" },
    spec: { selector },
  });
  store.upsert(deploy("by-label", { matchLabels: { app: "web" } }));
  store.upsert(
    deploy("by-in", { matchExpressions: [{ key: "env", operator: "In", values: ["prod", "dev"] }] }),
  );
  store.upsert(deploy("by-exists", { matchExpressions: [{ key: "tier", operator: "Exists" }] }));
  store.upsert(deploy("not-db", { matchExpressions: [{ key: "app", operator: "NotIn", values: ["db"] }] }));
  store.upsert(deploy("everything", {}));
  store.upsert(deploy("nothing", undefined));
  store.upsert(deploy("other", { matchLabels: { app: "db", tier: "x" } }));
  const lister = new Lister(store);
  const selectorOf = (o: KubeObject) =>
    selectorFromLabelSelector((o.spec as { selector?: MetaLabelSelector }).selector);
  const names = (labels: Record<string, string> | undefined) =>
    lister.selecting("ns", labels, selectorOf).map((o) => o.metadata.name);

  assert.deepEqual(names({ app: "web", env: "prod", tier: "t" }), [
    "by-exists",
    "by-in",
    "by-label",
    "everything",
    "not-db",
  ]);
  assert.deepEqual(names({ app: "db", tier: "x" }), ["by-exists", "everything", "other"]);
  assert.deepEqual(names(undefined), ["everything", "not-db"]);
  assert.deepEqual(lister.selecting("elsewhere", { app: "web" }, selectorOf), []);
  assert.deepEqual([...store.indexValues(SELECTOR_INDEX)].sort(), [
    "*",
    "app=db",
    "app=web",
    "env=dev",
    "env=prod",
    "tier",
    "tier=x",
  ]);
});
