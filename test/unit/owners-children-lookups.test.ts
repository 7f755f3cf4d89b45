// owners() and children() look each object up in the caches' owner indexes: through the
// gateway's own map of informers (never by copying and scanning the factory's list per object),
// and through RequestContext.byIndexIn, whose per-request memo is keyed by informer and value
// (nested maps), not by a string built for each object and informer.
import assert from "node:assert/strict";
import { test } from "node:test";
import { SharedInformerFactory } from "../../src/informers/factory.ts";
import { children, owners } from "../../src/resolvers/common.ts";
import { RequestContext, type Visibility } from "../../src/resolvers/context.ts";
import { Gateway } from "../../src/resolvers/gateway.ts";
import { SandboxCluster } from "../../src/sandbox/index.ts";
import { clientFor, ownerRefTo, pod, WIDGETS, widget } from "../helpers/sandbox.ts";

/** `perNamespace` pods in each namespace, all owned by Widget w1 (a custom resource), cached. */
async function widgetOwnedPods(namespaces: string[], perNamespace: number) {
  const sim = new SandboxCluster();
  await sim.start();
  sim.registerResource(WIDGETS);
  const ownerRef = ownerRefTo(sim.create("widgets.example.com", widget("w1", namespaces[0]!)));
  for (const ns of namespaces) {
    for (let i = 0; i < perNamespace; i++) {
      const p = pod(`p${i}`, ns);
      p.metadata.ownerReferences = [ownerRef];
      sim.create("pods", p);
    }
  }
  const gateway = new Gateway(new SharedInformerFactory(await clientFor(sim)));
  gateway.start();
  await gateway.factory.waitForCacheSync(5000);
  await gateway.genericInformer({ group: "example.com", version: "v1", resource: "widgets" });
  const stop = async () => {
    await gateway.stop();
    await sim.stop();
  };
  return { gateway, ownerRef, stop };
}

const names = (objects: { metadata: { namespace?: string; name: string } }[]) =>
  objects.map((o) => `${o.metadata.namespace}/${o.metadata.name}`).sort();

test("owners and children of many objects, an on-demand kind included, without listing the factory's informers", async () => {
  const { gateway, ownerRef, stop } = await widgetOwnedPods(["a"], 20);
  try {
    let listed = 0;
    const informers = gateway.factory.informers.bind(gateway.factory);
    gateway.factory.informers = () => {
      listed++;
      return informers();
    };
    const ctx = new RequestContext(gateway);
    for (const p of gateway.informer("Pod").lister.list({ namespace: "a" })) {
      assert.deepEqual(
        owners(p, ctx).map((o) => o.metadata.name),
        ["w1"],
      );
      assert.deepEqual(children(p.metadata.uid, ctx), []);
    }
    assert.equal(children(ownerRef.uid, ctx).length, 20, "the widget's pods");
    assert.equal(listed, 0, "factory.informers() calls while resolving owners and children");
  } finally {
    await stop();
  }
});

test("children through byIndexIn: same answers, one lookup per informer and value, no string keys", async () => {
  const { gateway, ownerRef, stop } = await widgetOwnedPods(["a", "b"], 5);
  try {
    const synced = [...gateway.cachedInformers()].filter((i) => i.hasSynced()).length;
    const ctx = new RequestContext(gateway);
    let stringKeyed = 0;
    const once = ctx.once;
    (ctx as { once: typeof once }).once = (key, load) => {
      stringKeyed++;
      return once(key, load);
    };
    const pods = gateway.informer("Pod").lister.list({});
    assert.equal(pods.length, 10);
    for (let round = 0; round < 2; round++) {
      for (const p of pods) assert.deepEqual(children(p.metadata.uid, ctx), []);
      assert.deepEqual(names(children(ownerRef.uid, ctx)), [
        "a/p0",
        "a/p1",
        "a/p2",
        "a/p3",
        "a/p4",
        "b/p0",
        "b/p1",
        "b/p2",
        "b/p3",
        "b/p4",
      ]);
      assert.equal(ctx.stats.lookups, synced * (pods.length + 1), `lookups after round ${round}`);
    }
    assert.equal(stringKeyed, 0, "string-keyed memo lookups");

    // What the caller may see still filters, by the informer's access key (pods of "a" only).
    const onlyA: Visibility = {
      allows: (kind, namespace) => kind !== "Pod" || namespace === "a",
      allowsAll: (kind) => kind !== "Pod",
    };
    assert.deepEqual(names(children(ownerRef.uid, new RequestContext(gateway, onlyA))), [
      "a/p0",
      "a/p1",
      "a/p2",
      "a/p3",
      "a/p4",
    ]);
  } finally {
    await stop();
  }
});
