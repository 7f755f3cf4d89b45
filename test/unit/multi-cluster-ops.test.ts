// /readyz and /metrics with several clusters (simulated): readiness follows the default
// cluster and reports every cluster; metrics carry a cluster label.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { SandboxCluster } from "../../src/sandbox/index.ts";
import type { GatewayServer } from "../../src/server/index.ts";
import { startKgql } from "../helpers/kgql.ts";
import { clientFor, pod, startSandbox } from "../helpers/sandbox.ts";

describe("/readyz and /metrics with several clusters", () => {
  let east: SandboxCluster;
  let down: SandboxCluster;
  let kgql: GatewayServer;
  const base = () => kgql.url.replace(/\/graphql$/, "");
  before(async () => {
    east = await startSandbox();
    east.create("pods", pod("p", "default"));
    down = await startSandbox();
    const downClient = await clientFor(down);
    await down.faults.refuseConnections(true); // never answers while this file runs
    kgql = await startKgql(undefined as never, {
      clusters: [
        { name: "east", client: await clientFor(east) },
        { name: "down", client: downClient },
      ],
    });
    await kgql.clusters.default.factory.waitForCacheSync(5000);
  });
  after(async () => {
    await kgql?.close();
    await east?.stop();
    await down?.stop();
  });

  it("readiness follows the default cluster and reports every cluster, a line each", async () => {
    const res = await fetch(`${base()}/readyz`);
    const text = await res.text();
    assert.equal(res.status, 200, text);
    const lines = text.split("\n");
    assert.equal(lines[0], "ok");
    assert.equal(lines[1], "cluster east (default; decides readiness): synced");
    assert.match(lines[2]!, /^cluster down: not synced: waiting for Namespace, Node, Pod, /);
  });

  it("metrics carry the cluster of each series", async () => {
    const text = await (await fetch(`${base()}/metrics`)).text();
    assert.match(text, /kgql_cache_objects\{cluster="east",kind="Pod"\} 1/);
    assert.match(text, /kgql_cache_synced\{cluster="east",kind="Pod"\} 1/);
    assert.match(text, /kgql_cache_synced\{cluster="down",kind="Pod"\} 0/);
    assert.match(text, /kgql_cache_watch_healthy\{cluster="down",kind="Pod"\} 0/);
    assert.match(text, /kgql_active_subscriptions\{cluster="down"\} 0/);
    assert.doesNotMatch(text, /kgql_cache_objects\{kind=/, "no unlabelled series beside them");
  });
});
