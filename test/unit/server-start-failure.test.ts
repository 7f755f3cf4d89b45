// A gateway that cannot listen (the port is taken) must not leave its informers watching: they
// would keep the process alive after the error, and keep loading the apiserver. Nor may it print
// anything itself: the caller (main.ts) says in one line why it failed, and the WebSocket
// server (graphql-ws) used to print the listen error first, with its stack.
import assert from "node:assert/strict";
import { type AddressInfo, createServer } from "node:net";
import { test } from "node:test";
import { format } from "node:util";
import { SandboxCluster, seedDemo } from "../../src/sandbox/index.ts";
import { startKgqlOn } from "../helpers/kgql.ts";

/** A loopback port some other server holds. */
async function takenPort() {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
  return { blocker, port: (blocker.address() as AddressInfo).port };
}

test("startGatewayServer on a port in use: rejects and stops the watches it started", async () => {
  const sim = new SandboxCluster();
  await sim.start();
  seedDemo(sim, { namespaces: 1, nodes: 1, deploymentsPerNamespace: 1, replicas: 1 });
  const { blocker, port } = await takenPort();
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

/** What `fn` writes with console.error / console.warn (graphql-ws reports with console.error). */
async function consoleOutputOf(fn: () => Promise<void>): Promise<string> {
  const out: string[] = [];
  const { error, warn } = console;
  console.error = (...args: unknown[]) => out.push(format(...args));
  console.warn = (...args: unknown[]) => out.push(format(...args));
  try {
    await fn();
  } finally {
    Object.assign(console, { error, warn });
  }
  // Whatever the failed server emits right after.
  await new Promise((r) => setTimeout(r, 100));
  return out.join("\n");
}

test("a failed listen prints nothing and logs nothing: the caller's one line says why", async () => {
  const sim = new SandboxCluster();
  await sim.start();
  seedDemo(sim, { namespaces: 1, nodes: 1, deploymentsPerNamespace: 1, replicas: 1 });
  const { blocker, port } = await takenPort();
  const logged: string[] = [];
  const record = (f: object, msg: string) => logged.push(`${msg} ${JSON.stringify(f)}`);
  const logger = { info: record, warn: record, debug() {}, error: record };
  try {
    const taken = await consoleOutputOf(() =>
      assert.rejects(startKgqlOn(sim, { port, logger }), /EADDRINUSE/),
    );
    assert.equal(taken, "", "nothing printed for a port in use");
    const unknownHost = await consoleOutputOf(() =>
      assert.rejects(
        startKgqlOn(sim, { host: "not-a-host.invalid", port: 0, logger }),
        /ENOTFOUND|EAI_AGAIN/,
      ),
    );
    assert.equal(unknownHost, "", "nothing printed for an unknown host");
    const errorLines = logged.filter((l) =>
      /EADDRINUSE|ENOTFOUND|EAI_AGAIN|Internal error|WebSocket/.test(l),
    );
    assert.deepEqual(errorLines, [], "nor logged");
  } finally {
    blocker.close();
    await sim.stop();
  }
});
