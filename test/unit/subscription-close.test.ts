// A client that goes away ends its subscription at once, even when no event is due.
import assert from "node:assert/strict";
import { test } from "node:test";
import { SandboxCluster } from "../../src/sandbox/index.ts";
import { useCleanups } from "../helpers/cleanups.ts";
import { startKgqlOn, subscribe } from "../helpers/kgql.ts";
import { eventually } from "../helpers/sandbox.ts";

const defer = useCleanups();

for (const transport of ["ws", "sse"] as const) {
  test(`${transport}: a subscriber that disconnects is unsubscribed without waiting for an event`, async () => {
    const sim = new SandboxCluster();
    await sim.start();
    defer(() => sim.stop());
    const kgql = await startKgqlOn(sim);
    defer(() => kgql.close());
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
