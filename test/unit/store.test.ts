import assert from "node:assert/strict";
import { test } from "node:test";
import {
  defaultIndexers,
  LABEL_INDEX,
  labelIndex,
  NAMESPACE_INDEX,
  NODE_NAME_INDEX,
  namespaceIndex,
  nodeNameIndex,
  OWNER_UID_INDEX,
  ownerUidIndex,
  SELECTOR_INDEX,
  selectorIndex,
} from "../../src/informers/indexers.ts";
import { type IndexFunc, Store, type StoreDelta } from "../../src/informers/store.ts";
import type { KubeObject } from "../../src/informers/types.ts";

function obj(
  ns: string | undefined,
  name: string,
  rv: string,
  extra: { labels?: Record<string, string>; tags?: string[]; owners?: string[] } = {},
): KubeObject {
  return {
    metadata: {
      name,
      namespace: ns,
      uid: `uid-${ns}-${name}`,
      resourceVersion: rv,
      labels: extra.labels,
      ownerReferences: extra.owners?.map((uid) => ({ apiVersion: "v1", kind: "X", name: uid, uid })),
    },
    tags: extra.tags,
  };
}

/** A multi-value index function: every entry of the object's `tags`. */
const byTag: IndexFunc = (o) => (o.tags as string[] | undefined) ?? [];

const sorted = (it: Iterable<string>) => [...it].sort();
const names = (objs: KubeObject[]) => objs.map((o) => o.metadata.name).sort();

test("upsert: ADDED, then MODIFIED with the old object; the same resourceVersion is no change", () => {
  const store = new Store({ [LABEL_INDEX]: defaultIndexers("pods")[LABEL_INDEX]! });
  const a1 = obj("ns", "a", "1", { labels: { app: "x" } });
  assert.deepEqual(store.upsert(a1), { type: "ADDED", object: a1 });
  const a2 = obj("ns", "a", "2", { labels: { app: "y" } });
  assert.deepEqual(store.upsert(a2), { type: "MODIFIED", object: a2, oldObject: a1 });

  // Same RV, different content (a re-delivered object): no delta, nothing replaced or reindexed.
  const again = obj("ns", "a", "2", { labels: { app: "z" } });
  assert.equal(store.upsert(again), undefined);
  assert.equal(store.get("ns/a"), a2);
  assert.deepEqual(sorted(store.indexKeys(LABEL_INDEX, "app=y")), ["ns/a"]);
  assert.equal(store.indexKeys(LABEL_INDEX, "app=z").size, 0);
  assert.equal(store.size, 1);
});

test("keys: namespace/name, or name when cluster-scoped; get/has/keys/values/remove", () => {
  const store = new Store();
  store.upsert(obj("ns", "a", "1"));
  store.upsert(obj(undefined, "node-1", "1"));
  assert.deepEqual(sorted(store.keys()), ["node-1", "ns/a"]);
  assert.equal(store.has("node-1"), true);
  assert.equal(store.get("ns/a")?.metadata.name, "a");
  assert.deepEqual(names([...store.values()]), ["a", "node-1"]);
  const last = store.get("ns/a")!;
  assert.deepEqual(store.remove("ns/a"), { type: "DELETED", object: last, tombstone: false });
  assert.equal(store.remove("ns/a"), undefined, "a second delete reports nothing");
  assert.equal(store.has("ns/a"), false);
  assert.equal(store.size, 1);
});

test("16. addIndexers after objects exist back-fills; byIndex works; new objects are indexed too", () => {
  const store = new Store({ [NAMESPACE_INDEX]: defaultIndexers("pods")[NAMESPACE_INDEX]! });
  store.upsert(obj("ns", "a", "1", { tags: ["web", "blue"] }));
  store.upsert(obj("ns", "b", "1", { tags: ["web"] }));
  store.upsert(obj("other", "c", "1"));
  store.addIndexers({ tag: byTag });
  assert.deepEqual(store.indexNames(), [NAMESPACE_INDEX, "tag"]);
  assert.deepEqual(names(store.byIndex("tag", "web")), ["a", "b"]);
  assert.deepEqual(names(store.byIndex("tag", "blue")), ["a"]);
  assert.deepEqual(store.byIndex("tag", "nope"), []);
  assert.deepEqual(sorted(store.indexValues("tag")), ["blue", "web"]);

  store.upsert(obj("other", "d", "1", { tags: ["web"] }));
  assert.deepEqual(names(store.byIndex("tag", "web")), ["a", "b", "d"]);
  assert.throws(() => store.addIndexers({ tag: byTag }), /indexer "tag" already exists/);
  assert.throws(
    () => store.addIndexers({ fresh: byTag, [NAMESPACE_INDEX]: byTag }),
    /indexer "namespace" already exists/,
  );
  assert.equal(store.hasIndex("fresh"), false, "a failed addIndexers adds none of its indexes");
});

test("unknown index names throw an error naming the known ones", () => {
  const store = new Store({ [OWNER_UID_INDEX]: byTag });
  assert.throws(() => store.indexKeys("nope", "x"), /unknown index "nope" \(this store has: ownerUid\)/);
  assert.throws(() => store.byIndex("nope", "x"), /unknown index "nope"/);
  assert.throws(() => [...store.indexValues("nope")], /unknown index "nope"/);
});

test("20. Replace deletes what the relist lacks, with the last known object; a real delete is not doubled", () => {
  const store = new Store({ tag: byTag });
  const a = obj("ns", "a", "1");
  const b = obj("ns", "b", "1");
  const c = obj("ns", "c", "7", { tags: ["gone-soon"] });
  const x = obj("ns", "x", "1");
  for (const o of [a, b, c, x]) store.upsert(o);

  const session = store.beginReplace();
  assert.equal(session.put(obj("ns", "a", "1")), undefined, "unchanged RV: no delta");
  const b2 = obj("ns", "b", "2");
  assert.deepEqual(session.put(b2), { type: "MODIFIED", object: b2, oldObject: b });
  const d = obj("ns", "d", "1");
  assert.deepEqual(session.put(d), { type: "ADDED", object: d });
  assert.equal(store.get("ns/d"), d, "puts apply at once");
  // A watch event deletes x while the relist runs (it is not in the list either).
  assert.equal(store.remove("ns/x")?.type, "DELETED");

  const deltas = session.finish();
  assert.deepEqual(
    deltas,
    [{ type: "DELETED", object: c, tombstone: true }],
    "only c; x was already reported",
  );
  assert.equal((deltas[0] as Extract<StoreDelta, { type: "DELETED" }>).object.metadata.resourceVersion, "7");
  assert.equal(store.indexKeys("tag", "gone-soon").size, 0, "a tombstoned object leaves the indexes");
  // The watch later reports c's deletion: the store already dropped it, so no second DELETED.
  assert.equal(store.remove("ns/c"), undefined);
  assert.deepEqual(sorted(store.keys()), ["ns/a", "ns/b", "ns/d"]);
  assert.throws(() => session.finish(), /already finished/);
  assert.throws(() => session.put(a), /already finished/);
});

test("20b. watch-list: put, then a DELETED event, then the end: the object is reported deleted once", () => {
  const store = new Store();
  store.upsert(obj("ns", "old", "1"));
  const session = store.beginReplace();
  assert.equal(session.put(obj("ns", "a", "2"))?.type, "ADDED");
  assert.equal(store.remove("ns/a")?.type, "DELETED");
  assert.deepEqual(
    session.finish().map((d) => d.type === "DELETED" && [d.object.metadata.name, d.tombstone]),
    [["old", true]],
  );
  assert.equal(store.size, 0);
});

test("20c. an object upserted by a watch event during a relist is kept; a superseded relist deletes nothing", () => {
  const store = new Store();
  for (const name of ["a", "b", "c"]) store.upsert(obj("ns", name, "1"));
  const first = store.beginReplace();
  first.put(obj("ns", "a", "1"));
  const second = store.beginReplace(); // e.g. the first relist failed half-way
  second.put(obj("ns", "a", "1"));
  store.upsert(obj("ns", "b", "2")); // a watch event, newer than the list: stays
  assert.deepEqual(first.finish(), [], "superseded: the newer relist decides");
  assert.deepEqual(store.size, 3);
  assert.deepEqual(
    second.finish().map((d) => [d.type, d.object.metadata.name]),
    [["DELETED", "c"]],
  );
  assert.deepEqual(sorted(store.keys()), ["ns/a", "ns/b"]);
});

test("20d. scoped mode: a namespace's relist deletes only that namespace's missing objects, and relists of two namespaces do not supersede each other", () => {
  const store = new Store();
  for (const ns of ["a", "b"]) for (const name of ["x", "y"]) store.upsert(obj(ns, name, "1"));
  const inA = store.beginReplace("a");
  const inB = store.beginReplace("b"); // both run at once: one list+watch per namespace
  inA.put(obj("a", "x", "1"));
  inB.put(obj("b", "y", "1"));
  store.upsert(obj("b", "z", "2")); // a watch event of b during b's relist: stays
  assert.deepEqual(
    inA
      .finish()
      .map((d) => d.type === "DELETED" && [d.object.metadata.namespace, d.object.metadata.name, d.tombstone]),
    [["a", "y", true]],
    "a's relist leaves b's objects alone",
  );
  assert.deepEqual(
    inB.finish().map((d) => d.type === "DELETED" && [d.object.metadata.namespace, d.object.metadata.name]),
    [["b", "x"]],
    "b's relist was not superseded by a's",
  );
  assert.deepEqual(sorted(store.keys()), ["a/x", "b/y", "b/z"]);
});

test("21. empty index sets are dropped; multi-value index functions move keys on update and delete", () => {
  const store = new Store({ tag: byTag });
  store.upsert(obj("ns", "a", "1", { tags: ["x", "y"] }));
  store.upsert(obj("ns", "b", "1", { tags: ["y"] }));
  assert.deepEqual(sorted(store.indexValues("tag")), ["x", "y"]);

  store.upsert(obj("ns", "a", "2", { tags: ["y", "z"] }));
  assert.deepEqual(sorted(store.indexValues("tag")), ["y", "z"], "x had only a: its set is dropped");
  assert.deepEqual(sorted(store.indexKeys("tag", "y")), ["ns/a", "ns/b"]);
  assert.deepEqual(sorted(store.indexKeys("tag", "z")), ["ns/a"]);
  assert.equal(store.indexKeys("tag", "x").size, 0);

  // Same values in another order, and a value listed twice: still indexed once per value.
  store.upsert(obj("ns", "a", "3", { tags: ["z", "y", "z"] }));
  assert.deepEqual(sorted(store.indexKeys("tag", "z")), ["ns/a"]);
  assert.deepEqual(sorted(store.indexKeys("tag", "y")), ["ns/a", "ns/b"]);

  store.remove("ns/a");
  assert.deepEqual(sorted(store.indexValues("tag")), ["y"], "z had only a");
  assert.deepEqual(sorted(store.indexKeys("tag", "y")), ["ns/b"]);
  store.remove("ns/b");
  assert.deepEqual(sorted(store.indexValues("tag")), []);

  // Many values (the Set-based diff path).
  const many = Array.from({ length: 40 }, (_, i) => `t${i}`);
  store.upsert(obj("ns", "m", "1", { tags: many }));
  store.upsert(obj("ns", "m", "2", { tags: many.slice(20).concat(["new"]) }));
  assert.deepEqual(sorted(store.indexValues("tag")), sorted(many.slice(20).concat(["new"])));
  store.remove("ns/m");
  assert.deepEqual([...store.indexValues("tag")], []);
});

test("keysVersion changes on adds, deletes and clear, not on updates", () => {
  const store = new Store({ tag: byTag });
  const v0 = store.keysVersion;
  store.upsert(obj("ns", "a", "1", { tags: ["t"] }));
  const v1 = store.keysVersion;
  assert.notEqual(v1, v0);
  store.upsert(obj("ns", "a", "2"));
  assert.equal(store.keysVersion, v1);
  store.clear();
  assert.notEqual(store.keysVersion, v1);
  assert.equal(store.size, 0);
  assert.deepEqual([...store.indexValues("tag")], []);
});

test("identityVersion changes when a key gets another object (new uid), not on plain updates", () => {
  const store = new Store({});
  store.upsert(obj("ns", "a", "1"));
  const v1 = store.identityVersion;
  store.upsert(obj("ns", "a", "2"));
  assert.equal(store.identityVersion, v1, "an update of the same object keeps every order valid");
  const recreated = obj("ns", "a", "3");
  recreated.metadata.uid = "uid-recreated";
  store.upsert(recreated);
  assert.notEqual(store.identityVersion, v1);
  const v2 = store.identityVersion;
  store.remove("ns/a");
  assert.notEqual(store.identityVersion, v2);
});

test("indexes equal a recomputation from scratch after random upserts, removes and relists", () => {
  const indexers = { ...defaultIndexers("pods"), tag: byTag };
  const store = new Store(indexers);
  let seed = 42;
  const rand = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const pick = <T>(xs: readonly T[]) => xs[rand(xs.length)]!;
  let rv = 0;
  const random = () =>
    obj(pick(["a", "b", undefined]), `o${rand(30)}`, String(++rv), {
      labels: rand(4) ? { app: pick(["web", "db"]), [pick(["x", "y"])]: pick(["1", "2"]) } : undefined,
      tags: Array.from({ length: rand(4) }, () => pick(["p", "q", "r", "s"])),
      owners: rand(2) ? [pick(["u1", "u2"])] : [],
    });
  for (let step = 0; step < 2000; step++) {
    const op = rand(10);
    if (op < 6) store.upsert(random());
    else if (op < 9) store.remove(pick([...store.keys(), "missing"]));
    else {
      const session = store.beginReplace();
      for (let i = rand(20); i > 0; i--) session.put(random());
      session.finish();
    }
  }
  for (const [name, fn] of Object.entries(indexers)) {
    const expected = new Map<string, string[]>();
    for (const [key, o] of [...store.keys()].map((k) => [k, store.get(k)!] as const)) {
      for (const v of new Set(fn(o))) expected.set(v, [...(expected.get(v) ?? []), key]);
    }
    const actual = new Map([...store.indexValues(name)].map((v) => [v, sorted(store.indexKeys(name, v))]));
    assert.deepEqual(
      new Map([...actual].sort()),
      new Map([...expected].map(([v, keys]) => [v, keys.sort()] as [string, string[]]).sort()),
      `index ${name}`,
    );
  }
  assert.ok(store.size > 0);
});

test("standard index functions and defaultIndexers", () => {
  assert.deepEqual(namespaceIndex(obj("ns", "a", "1")), ["ns"]);
  assert.deepEqual(namespaceIndex(obj(undefined, "node", "1")), [], "cluster-scoped objects are not indexed");
  assert.deepEqual(ownerUidIndex(obj("ns", "a", "1", { owners: ["u1", "u2"] })), ["u1", "u2"]);
  assert.deepEqual(ownerUidIndex(obj("ns", "a", "1")), []);
  assert.deepEqual([...labelIndex(obj("ns", "a", "1", { labels: { app: "web", "x.io/y": "" } }))].sort(), [
    "app",
    "app=web",
    "x.io/y",
    "x.io/y=",
  ]);
  const scheduled = { ...obj("ns", "p", "1"), spec: { nodeName: "n1" } };
  assert.deepEqual(nodeNameIndex(scheduled), ["n1"]);
  assert.deepEqual(nodeNameIndex({ ...obj("ns", "p", "1"), spec: {} }), []);
  const svc = (selector: unknown): KubeObject => ({
    ...obj("ns", "s", "1"),
    kind: "Service",
    spec: { selector },
  });
  assert.deepEqual([...selectorIndex(svc({ app: "web", tier: "fe" }))].sort(), ["app=web", "tier=fe"]);
  assert.deepEqual(selectorIndex(svc({})), [], "an empty Service selector selects nothing");
  assert.deepEqual(selectorIndex(svc(undefined)), []);
  // A Service selector may use a label key that looks like a LabelSelector field.
  assert.deepEqual(selectorIndex(svc({ matchLabels: "x" })), ["matchLabels=x"]);

  assert.deepEqual(
    Object.keys(defaultIndexers("configmaps")).sort(),
    [LABEL_INDEX, NAMESPACE_INDEX, OWNER_UID_INDEX].sort(),
  );
  assert.ok(NODE_NAME_INDEX in defaultIndexers("pods"));
  assert.ok(!(SELECTOR_INDEX in defaultIndexers("pods")));
  assert.ok(SELECTOR_INDEX in defaultIndexers("services"));
  assert.ok(!(NODE_NAME_INDEX in defaultIndexers("services")));
});

test("an index's unchanged() never says two versions index the same when their values differ", () => {
  let seed = 7;
  const rand = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const pick = <T>(xs: readonly T[]) => xs[rand(xs.length)]!;
  const version = (): KubeObject => {
    const o = obj("ns", "a", "1", {
      labels: rand(5)
        ? Object.fromEntries([
            ["app", pick(["web", "db"])],
            ...(rand(2) ? [[pick(["x", "y"]), pick(["1", ""])]] : []),
          ])
        : undefined,
      owners: pick([[], ["u1"], ["u2"], ["u1", "u2"], ["u2", "u1"]]),
    });
    if (rand(2)) o.metadata.ownerReferences = undefined;
    o.spec = rand(4) ? { nodeName: pick(["n1", "n2", ""]) } : undefined;
    return o;
  };
  const sameSet = (a: readonly string[], b: readonly string[]) =>
    JSON.stringify([...new Set(a)].sort()) === JSON.stringify([...new Set(b)].sort());
  let skipped = 0;
  for (let i = 0; i < 5000; i++) {
    const a = version();
    const b = rand(3) ? version() : structuredClone(a);
    for (const fn of [namespaceIndex, ownerUidIndex, labelIndex, nodeNameIndex] as IndexFunc[]) {
      if (!fn.unchanged?.(a, b)) continue;
      skipped++;
      assert.ok(sameSet(fn(a), fn(b)), `${fn.name}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    }
  }
  assert.ok(skipped > 1000, "the fast path is taken");
});

test("admit runs once per stored version: not for an unchanged resourceVersion, a relist of it, or a delete", () => {
  const admitted: string[] = [];
  const store = new Store(
    {},
    {
      admit: (o) => {
        admitted.push(`${o.metadata.name}@${o.metadata.resourceVersion}`);
        return { ...o, admitted: true };
      },
    },
  );
  const added = store.upsert(obj("a", "p", "1"));
  assert.equal(added?.object.admitted, true, "the delta carries the admitted object");
  assert.equal(store.get("a/p")?.admitted, true, "and so does the store");
  assert.equal(store.upsert(obj("a", "p", "1")), undefined);
  store.upsert(obj("a", "p", "2"));
  const relist = store.beginReplace();
  relist.put(obj("a", "p", "2"));
  relist.put(obj("a", "q", "3"));
  relist.finish();
  store.remove("a/p");
  assert.deepEqual(admitted, ["p@1", "p@2", "q@3"]);
});
