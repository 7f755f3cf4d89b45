// A gateway that cannot listen (the port is taken) must not leave its informers watching: they
// would keep the process alive after the error, and keep loading the apiserver.
import assert from "node:assert/strict";
import { type AddressInfo, createServer } from "node:net";
import { test } from "node:test";
import { SandboxCluster, seedDemo } from "../../src/sandbox/index.ts";
import { startKgqlOn } from "../helpers/kgql.ts";

test("startGatewayServer on a port in use: rejects and stops the watches it started", async () => {
  const sim = new SandboxCluster();
  await sim.start();
  seedDemo(sim, { namespaces: 1, nodes: 1, deploymentsPerNamespace: 1, replicas: 1 });
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
  const port = (blocker.address() as AddressInfo).port;
  try {
    await assert.rejects(startKgqlOn(sim, { port }), /EADDRINUSE/);
    await new Promise((r) => setTimeout(r, 300));
    // Informers still running would re-watch at once after their watches are cut.
    const before = sim.requests.length;
    sim.faults.dropWatches();
    await new Promise((r) => setTimeout(r, 1000));
    const after = sim.requests.slice(before).map((r) => r.path);
    assert.deepEqual(after, [], "no request after the failed start");
  } finally {
    blocker.close();
    await sim.stop();
  }
});
