// podEvents has no markers: where podStream would send RESYNC (a resume point the history no
// longer holds, or a subscriber that fell behind) the stream ends with an error. The client
// must read what happened and what to do, on both transports, not a masked "Unexpected error".
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SandboxCluster, seedDemo } from "../../src/sandbox/index.ts";
import { startKgqlOn, subscribe } from "../helpers/kgql.ts";
import { eventually, pod } from "../helpers/sandbox.ts";

describe("podEvents that cannot continue without a gap", () => {
  for (const transport of ["sse", "ws"] as const) {
    it(`a resume point no longer in the history ends the stream with RESYNC_REQUIRED over ${transport}`, async () => {
      const sim = new SandboxCluster({ historyLimit: 50 });
      await sim.start();
      seedDemo(sim, { namespaces: 1, nodes: 1, deploymentsPerNamespace: 1, replicas: 1 });
      const kgql = await startKgqlOn(sim, { historySize: 5 });
      try {
        // Changes enough to push the first resourceVersions out of the gateway's history.
        const first = subscribe(transport, kgql.url, "subscription { podEvents { type resourceVersion } }");
        await new Promise((r) => setTimeout(r, 300));
        for (let i = 0; i < 10; i++) sim.create("pods", pod(`p${i}`));
        await eventually(() => first.events.length >= 10, "the changes to be seen");
        first.stop();
        const oldest = (first.events[0] as { resourceVersion: string }).resourceVersion;
        const resumed = subscribe(
          transport,
          kgql.url,
          `subscription { podEvents(resumeFrom: "${oldest}") { type } }`,
        );
        await eventually(() => resumed.done || resumed.errors.length > 0, "the stream to end");
        const raw = resumed.errors[0] as unknown;
        const error = (Array.isArray(raw) ? raw[0] : raw) as {
          message: string;
          extensions?: { code?: string };
        };
        assert.match(
          error.message,
          /^podEvents: .*reconnect with resumeFrom set to the last resourceVersion/,
        );
        assert.equal(error.extensions?.code, "RESYNC_REQUIRED");
        resumed.stop();
      } finally {
        await kgql.close();
        await sim.stop();
      }
    });
  }

  it("a resume point this gateway reaches shortly after (another replica's) continues without a gap or an error", async () => {
    const sim = new SandboxCluster();
    await sim.start();
    seedDemo(sim, { namespaces: 1, nodes: 1, deploymentsPerNamespace: 1, replicas: 1 });
    const kgql = await startKgqlOn(sim);
    try {
      const ahead = (BigInt(sim.currentResourceVersion()) + 1n).toString();
      const resumed = subscribe(
        "sse",
        kgql.url,
        `subscription { podEvents(resumeFrom: "${ahead}") { type pod { name } } }`,
      );
      // The change the client has seen elsewhere, then one it has not.
      await new Promise((r) => setTimeout(r, 200));
      sim.create("pods", pod("seen-elsewhere"));
      await new Promise((r) => setTimeout(r, 200));
      sim.create("pods", pod("new"));
      await eventually(() => resumed.events.length > 0 || resumed.errors.length > 0, "an event");
      assert.deepEqual(resumed.errors, []);
      assert.deepEqual(resumed.events, [{ type: "ADDED", pod: { name: "new" } }]);
      resumed.stop();
    } finally {
      await kgql.close();
      await sim.stop();
    }
  });
});
