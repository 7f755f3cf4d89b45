// The topology page of a gateway serving two (simulated) clusters: a picker lists them, each
// shows its own objects, the choice is kept in the address, and details are read in the cluster
// shown. A one-cluster gateway hides the picker.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type SandboxCluster, seedDemo } from "../../src/sandbox/index.ts";
import type { GatewayServer } from "../../src/server/index.ts";
import { startKgqlOn, startKgqlOnClusters } from "../helpers/kgql.ts";
import { pod, startSandbox } from "../helpers/sandbox.ts";
import {
  type BrowserSession,
  ensureUiBuilt,
  noBrowserReason,
  openBrowser,
  type Page,
  screenshot,
} from "./chromium.ts";
import { drawn, waitLive } from "./page.ts";

const skip = noBrowserReason();
if (skip && process.env.CI) throw new Error(skip);

describe("topology page with several clusters", { skip }, () => {
  let east: SandboxCluster;
  let west: SandboxCluster;
  let kgql: GatewayServer;
  let session: BrowserSession;
  let page: Page;
  let base: string;

  before(async () => {
    ensureUiBuilt();
    east = await startSandbox();
    west = await startSandbox();
    seedDemo(east, { namespaces: 1, nodes: 2, deploymentsPerNamespace: 1, replicas: 2, seed: 1 });
    seedDemo(west, { namespaces: 1, nodes: 1, deploymentsPerNamespace: 2, replicas: 1, seed: 2 });
    west.create("pods", pod("only-west", "default"));
    kgql = await startKgqlOnClusters({ east, west });
    base = kgql.url.replace(/\/graphql$/, "/ui");
    session = await openBrowser();
    page = session.page;
    page.on("pageerror", (e) => console.error("page error:", e.message));
  });
  after(async () => {
    await session?.close();
    await kgql?.close();
    await east?.stop();
    await west?.stop();
  });

  const podNames = (sim: SandboxCluster) =>
    sim
      .list("pods", "default")
      .map((p) => p.metadata.name)
      .sort();
  const drawnPods = async () =>
    (await drawn(page))
      .filter((n) => n.kind === "Pod")
      .map((n) => n.name)
      .sort();

  test("shows the default cluster first, another when picked, and keeps the choice in the address", async () => {
    await page.goto(`${base}#namespace=default`);
    await waitLive(page);
    const options = await page.$$eval("#cluster option", (os) =>
      os.map((o) => (o as HTMLOptionElement).value),
    );
    assert.deepEqual(options, ["east", "west"]);
    assert.equal(await page.isVisible("#cluster"), true);
    assert.deepEqual(await drawnPods(), podNames(east));

    await page.selectOption("#cluster", "west");
    await page.waitForFunction(() => location.hash.includes("cluster=west"));
    await waitLive(page);
    assert.deepEqual(await drawnPods(), podNames(west));
    assert.ok((await drawnPods()).includes("only-west"));
    await screenshot(page, "sim-cluster-west");

    // A west pod's details come from west (its uid there), not from a namesake elsewhere.
    const westPod = west.list("pods", "default").find((p) => p.metadata.name === "only-west")!;
    await page.click('g[data-kind="Pod"][data-name="only-west"]');
    const panel = page.locator("#details");
    await panel.locator("pre.yaml").waitFor({ timeout: 10_000 });
    assert.match((await panel.textContent()) ?? "", new RegExp(westPod.metadata.uid!));
    await panel.locator("button.close").click();
  });

  test("opens on the cluster named in the address", async () => {
    await page.goto("about:blank");
    await page.goto(`${base}#cluster=west&namespace=default`);
    await waitLive(page);
    assert.equal(await page.$eval("#cluster", (s) => (s as HTMLSelectElement).value), "west");
    assert.deepEqual(await drawnPods(), podNames(west));
  });

  test("a gateway with one cluster shows no picker", async () => {
    const single = await startKgqlOn(east);
    try {
      await page.goto("about:blank");
      await page.goto(`${single.url.replace(/\/graphql$/, "/ui")}#namespace=default`);
      await waitLive(page);
      assert.equal(await page.isVisible("#cluster"), false);
      assert.deepEqual(await drawnPods(), podNames(east));
    } finally {
      await single.close();
    }
  });
});
