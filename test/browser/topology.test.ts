// The topology page (/ui) in a real browser (Debian's headless Chromium) against kgql on the
// simulator: the simulator makes exact changes (a scale-up, a rollout) at the moment the test
// wants them. The same page on the real control plane, and signing in, are in
// test/integration/ui.test.ts.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { KubeObject } from "../../src/informers/types.ts";
import { Churn } from "../../src/sandbox/churn.ts";
import { type SandboxCluster, seedDemo } from "../../src/sandbox/index.ts";
import type { GatewayServer } from "../../src/server/index.ts";
import { startKgqlOn } from "../helpers/kgql.ts";
import { startSandbox } from "../helpers/sandbox.ts";
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

describe("topology page on the simulator", { skip }, () => {
  let sim: SandboxCluster;
  let kgql: GatewayServer;
  let session: BrowserSession;
  let page: Page;
  let base: string;
  const churn = () => new Churn(sim, 3);

  before(async () => {
    ensureUiBuilt();
    sim = await startSandbox();
    seedDemo(sim, { namespaces: 2, nodes: 2, deploymentsPerNamespace: 2, replicas: 3 });
    kgql = await startKgqlOn(sim);
    base = kgql.url.replace(/\/graphql$/, "/ui");
    session = await openBrowser();
    page = session.page;
    page.on("pageerror", (e) => console.error("page error:", e.message));
  });
  after(async () => {
    await session?.close();
    await kgql?.close();
    await sim?.stop();
  });

  const deployment = (name: string, namespace = "default"): KubeObject =>
    sim.list("deployments", namespace).find((d) => d.metadata.name === name)!;
  const livePods = (namespace = "default") =>
    sim.list("pods", namespace).filter((p) => !p.metadata.deletionTimestamp);
  /** What a kubelet does at the end of a graceful deletion. */
  const finishTerminations = () => {
    for (const p of sim.list("pods")) {
      if (p.metadata.deletionTimestamp) sim.delete("pods", p.metadata.namespace!, p.metadata.name);
    }
  };

  test("shows a namespace's workloads, ReplicaSets, pods, services and nodes", async () => {
    await page.goto(`${base}#namespace=default`);
    await waitLive(page);
    const shown = await drawn(page);
    const names = (kind: string) =>
      shown
        .filter((n) => n.kind === kind)
        .map((n) => n.name)
        .sort();
    assert.deepEqual(
      names("Deployment"),
      sim
        .list("deployments", "default")
        .map((d) => d.metadata.name)
        .sort(),
    );
    assert.deepEqual(
      names("Pod"),
      livePods()
        .map((p) => p.metadata.name)
        .sort(),
    );
    assert.deepEqual(
      names("Service"),
      sim
        .list("services", "default")
        .map((s) => s.metadata.name)
        .sort(),
    );
    assert.deepEqual(names("Node"), ["node-0", "node-1"]);
    assert.ok(shown.every((n) => n.namespace === undefined || n.namespace === "default"));
    // Every running, ready pod is drawn green (status-ready).
    const ready = livePods().filter((p) =>
      (p.status as { conditions?: { type: string; status: string }[] }).conditions?.some(
        (c) => c.type === "Ready" && c.status === "True",
      ),
    );
    assert.ok(ready.length > 0);
    for (const p of ready) {
      assert.equal(shown.find((n) => n.name === p.metadata.name)?.status, "ready", p.metadata.name);
    }
    await screenshot(page, "sim-namespace");
  });

  test("a scale-up appears live", async () => {
    const before = livePods().length;
    churn().scale(deployment("app-0"), +1);
    const expected = livePods()
      .map((p) => p.metadata.name)
      .sort();
    assert.equal(expected.length, before + 1);
    await page.waitForFunction(
      (n) => document.querySelectorAll('g[data-kind="Pod"]').length === n,
      expected.length,
      { timeout: 10_000 },
    );
    const pods = (await drawn(page)).filter((n) => n.kind === "Pod").map((n) => n.name);
    assert.deepEqual(pods.sort(), expected);
    await screenshot(page, "sim-scaled-up");
  });

  test("a rolling update is seen as it happens: the new ReplicaSet and its pods, then the old pods gone", async () => {
    const dep = deployment("app-1");
    const oldRs = sim
      .list("replicasets", "default")
      .filter((r) => r.metadata.ownerReferences?.[0]?.uid === dep.metadata.uid)
      .map((r) => r.metadata.name);
    churn().rollout(dep);
    const newRs = sim
      .list("replicasets", "default")
      .find(
        (r) => r.metadata.ownerReferences?.[0]?.uid === dep.metadata.uid && !oldRs.includes(r.metadata.name),
      )!;
    assert.ok(newRs, "the rollout made a new ReplicaSet");
    // Mid-rollout: old pods terminating, new ones there; both ReplicaSets drawn.
    await page.waitForSelector(`g[data-kind="ReplicaSet"][data-name="${newRs.metadata.name}"]`, {
      timeout: 10_000,
    });
    const mid = await drawn(page);
    assert.ok(
      mid.some((n) => n.kind === "ReplicaSet" && oldRs.includes(n.name)),
      "old ReplicaSet still drawn",
    );
    await screenshot(page, "sim-rollout-midway");
    finishTerminations();
    const expected = livePods()
      .map((p) => p.metadata.name)
      .sort();
    await page.waitForFunction(
      (names) => {
        const shown = [...document.querySelectorAll<SVGGElement>('g[data-kind="Pod"]')].map(
          (g) => g.dataset.name,
        );
        return shown.length === names.length && names.every((n) => shown.includes(n));
      },
      expected,
      { timeout: 10_000 },
    );
    const done = await drawn(page);
    assert.ok(
      !done.some((n) => n.kind === "ReplicaSet" && oldRs.includes(n.name)),
      "old ReplicaSet (at zero) hidden",
    );
    assert.equal(done.filter((n) => n.name.startsWith(`${newRs.metadata.name}-`)).length, 3);
    await screenshot(page, "sim-rollout-done");
  });

  test("clicking an object shows its owners, children, events and YAML", async () => {
    const pod = livePods().find((p) => p.metadata.name.startsWith("app-0-"))!;
    await page.click(`g[data-kind="Pod"][data-name="${pod.metadata.name}"]`);
    const panel = page.locator("#details");
    await panel.locator("pre.yaml").waitFor({ timeout: 10_000 });
    const text = (await panel.textContent()) ?? "";
    assert.match(text, new RegExp(`Pod ${pod.metadata.name}`));
    assert.match(text, new RegExp(`ReplicaSet ${pod.metadata.ownerReferences![0]!.name}`));
    assert.match(text, /Events \(\d+\)/);
    assert.match(text, /kind: Pod/);
    await screenshot(page, "sim-details");
    // Owners are links: to the ReplicaSet, whose children are its pods.
    await panel.getByText(`ReplicaSet ${pod.metadata.ownerReferences![0]!.name}`).click();
    await panel.getByText(`Pod ${pod.metadata.name}`).waitFor({ timeout: 10_000 });
    assert.match((await panel.textContent()) ?? "", /Children \(4\)/);
    await panel.locator("button.close").click();
  });

  test("a label selector narrows the pods and what they belong to; search dims what does not match", async () => {
    await page.fill("#selector", "app=app-0");
    await page.press("#selector", "Enter");
    // Until exactly the selected pods and their Deployment are drawn: right after Enter the page
    // may still say live (the restart is drawn on the next frame) or draw nothing yet, and
    // "every drawn pod is app-0's" holds for no pods at all.
    const selected = livePods().filter((p) => p.metadata.labels?.app === "app-0").length;
    await page.waitForFunction((n) => {
      const pods = [...document.querySelectorAll<SVGGElement>('g[data-kind="Pod"]')];
      return (
        document.body.dataset.live === "true" &&
        location.hash.includes("selector") &&
        pods.length === n &&
        pods.every((g) => g.dataset.name?.startsWith("app-0-")) &&
        document.querySelector('g[data-kind="Deployment"]') !== null
      );
    }, selected);
    const shown = await drawn(page);
    assert.deepEqual(
      shown.filter((n) => n.kind === "Deployment").map((n) => n.name),
      ["app-0"],
    );
    assert.equal(
      shown.filter((n) => n.kind === "Pod").length,
      livePods().filter((p) => p.metadata.labels?.app === "app-0").length,
    );
    await page.fill("#selector", "app in (");
    await page.press("#selector", "Enter");
    await page
      .locator("#problems")
      .getByText(/Pod: .*selector/i)
      .waitFor({ timeout: 10_000 });
    await page.fill("#selector", "");
    await page.press("#selector", "Enter");
    await waitLive(page);
    await page.fill("#search", "app-1");
    const dimmed = await page.$$eval("g[data-id] > g.dim", (els) => els.length);
    const kept = await page.$$eval("g[data-id] > g.node:not(.dim)", (els) =>
      els.map((e) => (e.parentElement as unknown as SVGGElement).dataset.name),
    );
    assert.ok(dimmed > 0);
    assert.ok(kept.length > 0 && kept.every((n) => n?.includes("app-1")), kept.join(","));
    await page.fill("#search", "");
  });

  test("pods of an owner above the group threshold are one counted node that expands on click", async () => {
    await page.goto(`${base}#namespace=default&group=2`);
    await page.reload();
    await waitLive(page);
    const groups = (await drawn(page)).filter((n) => n.kind === "PodGroup");
    assert.ok(groups.length >= 2, `groups: ${groups.map((g) => g.name)}`);
    assert.ok(
      groups.some((g) => g.name === "4 pods"),
      groups.map((g) => g.name).join(","),
    );
    assert.equal((await drawn(page)).filter((n) => n.kind === "Pod" && n.name.startsWith("app-")).length, 0);
    await screenshot(page, "sim-groups");
    await page.click('g[data-kind="PodGroup"][data-name="4 pods"]');
    await page.getByRole("button", { name: "Show each pod" }).click();
    await page.waitForFunction(
      () => document.querySelectorAll('g[data-kind="Pod"][data-name^="app-0-"]').length === 4,
    );
  });

  test("survives the gateway restarting: reconnects and resumes, changes made meanwhile appear", async () => {
    await page.goto(`${base}#namespace=default`);
    await page.reload();
    await waitLive(page);
    const port = kgql.port;
    await kgql.close();
    await page.locator("#connection", { hasText: "reconnecting" }).waitFor({ timeout: 10_000 });
    churn().scale(deployment("app-0"), +1);
    await screenshot(page, "sim-gateway-down");
    kgql = await startKgqlOn(sim, { port });
    const expected = livePods().length;
    await page.waitForFunction(
      (n) =>
        document.body.dataset.live === "true" && document.querySelectorAll('g[data-kind="Pod"]').length === n,
      expected,
      { timeout: 20_000 },
    );
    await screenshot(page, "sim-gateway-back");
  });
});
