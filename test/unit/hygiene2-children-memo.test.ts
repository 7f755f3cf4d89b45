// children() looks every object up in every cache's owner index through RequestContext.byIndexIn,
// whose per-request memo is keyed by informer and value (nested maps), not by a string built for
// each object and informer: same answers, one lookup per distinct (informer, value), and the
// string-keyed memo (ctx.once) never used.
import assert from "node:assert/strict";
import { test } from "node:test";
import { SharedInformerFactory } from "../../src/informers/factory.ts";
import { children } from "../../src/resolvers/common.ts";
import { RequestContext, type Visibility } from "../../src/resolvers/context.ts";
import { Gateway } from "../../src/resolvers/gateway.ts";
import { SandboxCluster } from "../../src/sandbox/index.ts";
import { clientFor, ownerRefTo, pod, WIDGETS, widget } from "../helpers/sandbox.ts";

test("children through byIndexIn: same answers, one lookup per informer and value, no string keys", async () => {
  const sim = new SandboxCluster();
  await sim.start();
  sim.registerResource(WIDGETS);
  const ownerRef = ownerRefTo(sim.create("widgets.example.com", widget("w1", "a")));
  for (const ns of ["a", "b"]) {
    for (let i = 0; i < 5; i++) {
      const p = pod(`p${i}`, ns);
      p.metadata.ownerReferences = [ownerRef];
      sim.create("pods", p);
    }
  }
  const gateway = new Gateway(new SharedInformerFactory(await clientFor(sim)));
  gateway.start();
  try {
    await gateway.factory.waitForCacheSync(5000);
    await gateway.genericInformer({ group: "example.com", version: "v1", resource: "widgets" });
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
      assert.deepEqual(
        children(ownerRef.uid, ctx)
          .map((o) => `${o.metadata.namespace}/${o.metadata.name}`)
          .sort(),
        ["a/p0", "a/p1", "a/p2", "a/p3", "a/p4", "b/p0", "b/p1", "b/p2", "b/p3", "b/p4"],
      );
      assert.equal(ctx.stats.lookups, synced * (pods.length + 1), `lookups after round ${round}`);
    }
    assert.equal(stringKeyed, 0, "string-keyed memo lookups");

    // What the caller may see still filters, by the informer's access key (pods of "a" only).
    const onlyA: Visibility = {
      allows: (kind, namespace) => kind !== "Pod" || namespace === "a",
      allowsAll: (kind) => kind !== "Pod",
    };
    const limited = new RequestContext(gateway, onlyA);
    assert.deepEqual(
      children(ownerRef.uid, limited)
        .map((o) => `${o.metadata.namespace}/${o.metadata.name}`)
        .sort(),
      ["a/p0", "a/p1", "a/p2", "a/p3", "a/p4"],
    );
  } finally {
    await gateway.stop();
    await sim.stop();
  }
});
