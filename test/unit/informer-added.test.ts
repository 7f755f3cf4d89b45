// The factory announces the informers it creates (onInformerAdded), and the gateway keeps its
// informer map from it: an informer created on the factory directly, not through the gateway,
// is seen by owners and children too.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SharedInformerFactory } from "../../src/informers/factory.ts";
import type { SharedInformer } from "../../src/informers/shared-informer.ts";
import { kindByResource } from "../../src/kinds.ts";
import { children, owners } from "../../src/resolvers/common.ts";
import { RequestContext } from "../../src/resolvers/context.ts";
import { Gateway } from "../../src/resolvers/gateway.ts";
import { SandboxCluster } from "../../src/sandbox/index.ts";
import { clientFor, ownerRefTo, pod, WIDGETS, widget } from "../helpers/sandbox.ts";

const WIDGETS_GVR = { group: WIDGETS.group, version: WIDGETS.version, resource: WIDGETS.resource };

describe("SharedInformerFactory.onInformerAdded", () => {
  it("announces the informers held at subscription, then each one created, until unsubscribed", async () => {
    const sim = new SandboxCluster();
    await sim.start();
    const factory = new SharedInformerFactory(await clientFor(sim));
    try {
      const pods = factory.informerForResource(kindByResource("pods")!);
      const seen: SharedInformer[] = [];
      const unsubscribe = factory.onInformerAdded((i) => seen.push(i));
      assert.deepEqual(seen, [pods], "the existing informer, at once");
      const nodes = factory.informerForResource(kindByResource("nodes")!);
      factory.informerForResource(kindByResource("pods")!); // not new: not announced again
      assert.deepEqual(seen, [pods, nodes]);
      unsubscribe();
      factory.informerForResource(kindByResource("services")!);
      assert.deepEqual(seen, [pods, nodes], "nothing after unsubscribing");
    } finally {
      await factory.stop();
      await sim.stop();
    }
  });
});

describe("the gateway's informers", () => {
  it("include one created on the factory directly: owners and children find its objects", async () => {
    const sim = new SandboxCluster();
    await sim.start();
    sim.registerResource(WIDGETS);
    const configMap = sim.create("configmaps", {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "cm", namespace: "a", uid: "", resourceVersion: "" },
    });
    const w1 = sim.create("widgets.example.com", widget("w1", "a", [ownerRefTo(configMap)]));
    const p = pod("p", "a");
    p.metadata.ownerReferences = [ownerRefTo(w1)];
    sim.create("pods", p);
    const gateway = new Gateway(new SharedInformerFactory(await clientFor(sim)));
    gateway.start();
    try {
      // Not through gateway.genericInformer: on the factory itself.
      const widgets = await gateway.factory.informerFor(WIDGETS_GVR);
      assert.ok(gateway.cachedInformers().has(widgets), "the gateway's map has the informer");
      await gateway.factory.waitForCacheSync(5000);
      assert.ok(widgets.hasSynced());
      const ctx = new RequestContext(gateway);
      const [cachedPod] = gateway.informer("Pod").lister.list({ namespace: "a" });
      assert.deepEqual(
        owners(cachedPod!, ctx).map((o) => `${o.kind}/${o.metadata.name}`),
        ["Widget/w1"],
        "the pod's owner, found in the widgets' informer",
      );
      assert.deepEqual(
        children(configMap.metadata.uid, ctx).map((o) => `${o.kind}/${o.metadata.name}`),
        ["Widget/w1"],
        "the config map's children, the widget among them",
      );
    } finally {
      await gateway.stop();
      await sim.stop();
    }
  });

  it("include those the factory held before the gateway was created", async () => {
    const sim = new SandboxCluster();
    await sim.start();
    sim.registerResource(WIDGETS);
    const factory = new SharedInformerFactory(await clientFor(sim));
    try {
      const widgets = await factory.informerFor(WIDGETS_GVR);
      const gateway = new Gateway(factory);
      assert.ok(gateway.cachedInformers().has(widgets));
      assert.equal(gateway.cachedInformers().size, factory.informers().length);
    } finally {
      await factory.stop();
      await sim.stop();
    }
  });
});
