// Owners and children look informers up per object: through the gateway's own map, never by
// copying and scanning the factory's list of informers for each object.
import assert from "node:assert/strict";
import { test } from "node:test";
import { SharedInformerFactory } from "../../src/informers/factory.ts";
import { children, owners } from "../../src/resolvers/common.ts";
import { RequestContext } from "../../src/resolvers/context.ts";
import { Gateway } from "../../src/resolvers/gateway.ts";
import { SandboxCluster } from "../../src/sandbox/index.ts";
import { clientFor, ownerRefTo, pod, WIDGETS, widget } from "../helpers/sandbox.ts";

test("owners and children of many objects, an on-demand kind included, without listing the factory's informers", async () => {
  const sim = new SandboxCluster();
  await sim.start();
  sim.registerResource(WIDGETS);
  const ownerRef = ownerRefTo(sim.create("widgets.example.com", widget("w1", "a")));
  for (let i = 0; i < 20; i++) {
    const p = pod(`p${i}`, "a");
    p.metadata.ownerReferences = [ownerRef];
    sim.create("pods", p);
  }
  const gateway = new Gateway(new SharedInformerFactory(await clientFor(sim)));
  gateway.start();
  try {
    await gateway.factory.waitForCacheSync(5000);
    await gateway.genericInformer({ group: "example.com", version: "v1", resource: "widgets" });
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
    await gateway.stop();
    await sim.stop();
  }
});
