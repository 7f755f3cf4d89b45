// The simulator's wire protocol where the informer tests do not reach it directly.
import assert from "node:assert/strict";
import { test } from "node:test";
import { SandboxCluster } from "../../src/sandbox/index.ts";
import { pod } from "../helpers/sandbox.ts";

test("paged lists of two resources at the same resourceVersion keep their own snapshots", async () => {
  const sim = new SandboxCluster();
  await sim.start();
  try {
    for (let i = 0; i < 5; i++) {
      sim.create("pods", pod(`p${i}`));
      sim.create("configmaps", {
        metadata: { name: `c${i}`, namespace: "default", uid: "", resourceVersion: "" },
      });
    }
    const get = async (path: string) => (await fetch(`${sim.url}${path}`)).json();
    const pods1 = await get("/api/v1/pods?limit=2");
    const cms1 = await get("/api/v1/configmaps?limit=2");
    assert.equal(pods1.metadata.resourceVersion, cms1.metadata.resourceVersion);
    const pods2 = await get(`/api/v1/pods?limit=10&continue=${pods1.metadata.continue}`);
    const cms2 = await get(`/api/v1/configmaps?limit=10&continue=${cms1.metadata.continue}`);
    assert.deepEqual(
      pods2.items.map((o: { metadata: { name: string } }) => o.metadata.name),
      ["p2", "p3", "p4"],
    );
    assert.deepEqual(
      cms2.items.map((o: { metadata: { name: string } }) => o.metadata.name),
      ["c2", "c3", "c4"],
    );
    assert.equal(pods2.kind, "PodList");
    const expired = await fetch(`${sim.url}/api/v1/pods?continue=bm90LWEtdG9rZW4`);
    assert.equal(expired.status, 410);
  } finally {
    await sim.stop();
  }
});
