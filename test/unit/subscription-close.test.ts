// A client that goes away ends its subscription at once, even when no event is due.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { SandboxCluster } from "../../src/sandbox/index.ts";
import { startKgqlOn, subscribe } from "../helpers/kgql.ts";
import { eventually } from "../helpers/sandbox.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

for (const transport of ["ws", "sse"] as const) {
  test(`${transport}: a subscriber that disconnects is unsubscribed without waiting for an event`, async () => {
    const sim = new SandboxCluster();
    await sim.start();
    cleanups.push(() => sim.stop());
    const kgql = await startKgqlOn(sim);
    cleanups.push(() => kgql.close());
    const s = subscribe(
      transport,
      kgql.url,
      'subscription { podStream(namespace: "quiet", initial: true) { type } }',
    );
    await eventually(() => s.events.length === 1, "SYNCED");
    assert.equal(kgql.gateway.subscriberCount(), 1);
    s.stop();
    await eventually(() => kgql.gateway.subscriberCount() === 0, "the subscription to end", 3000);
  });
}
