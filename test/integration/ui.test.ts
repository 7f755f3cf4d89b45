// The topology page (/ui) in headless Chromium against kgql on the real control plane with
// --auth kubernetes: a bad token gets a clear message, a restricted caller sees only what its
// RBAC allows, a Deployment's scale-up and rolling update (done by the real
// kube-controller-manager, pods run by kwok) are followed live, and the page comes back by
// itself after kgql restarts.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { KubeClient } from "../../src/informers/client.ts";
import type { GatewayServer } from "../../src/server/index.ts";
import {
  type BrowserSession,
  ensureUiBuilt,
  noBrowserReason,
  openBrowser,
  type Page,
  screenshot,
} from "../browser/chromium.ts";
import { drawn, waitLive } from "../browser/page.ts";
import {
  type ClusterInfo,
  getCluster,
  kwokPodSpec,
  NO_CLUSTER_REASON,
  type TestNamespace,
  waitFor,
  withNamespace,
} from "../helpers/cluster.ts";
import { startKgql } from "../helpers/kgql.ts";

const browserMissing = noBrowserReason();
if (browserMissing && process.env.CI) throw new Error(browserMissing);
const cluster = browserMissing ? null : await getCluster();

describe("topology page on the real control plane (--auth kubernetes)", {
  skip: browserMissing ?? (cluster ? false : NO_CLUSTER_REASON),
}, () => {
  const c = cluster as ClusterInfo;
  let mine: TestNamespace;
  let other: TestNamespace;
  let kgql: GatewayServer;
  let session: BrowserSession;
  let page: Page;
  let base: string;
  const rbac = "rbac.authorization.k8s.io";

  const deploymentPath = () => `/apis/apps/v1/namespaces/${mine.name}/deployments/web`;
  /** The pods the apiserver has for the Deployment (not being deleted). */
  const podNames = async () => {
    const res = await c.api.get(`/api/v1/namespaces/${mine.name}/pods?labelSelector=app%3Dweb`);
    return (res.body.items as { metadata: { name: string; deletionTimestamp?: string } }[])
      .filter((p) => !p.metadata.deletionTimestamp)
      .map((p) => p.metadata.name)
      .sort();
  };
  const drawnPods = async () =>
    (await drawn(page))
      .filter((n) => n.kind === "Pod")
      .map((n) => n.name)
      .sort();
  /** Until the page draws exactly the Deployment's pods (both read again each round). */
  const samePodsAsApiserver = async (message: string, until?: (pods: string[]) => boolean) => {
    await waitFor(
      async () => {
        const [api, shown] = await Promise.all([podNames(), drawnPods()]);
        return api.join() === shown.join() && (!until || until(api)) ? shown : undefined;
      },
      { message, until: Boolean, timeoutMs: 60_000, intervalMs: 250 },
    );
  };

  before(async () => {
    ensureUiBuilt();
    mine = await withNamespace("ui-mine");
    other = await withNamespace("ui-other");
    const spec = await kwokPodSpec(c);
    for (const ns of [mine.name, other.name]) {
      await c.api.post(`/apis/apps/v1/namespaces/${ns}/deployments`, {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "web" },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: "web" } },
          strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "100%", maxUnavailable: 0 } },
          template: { metadata: { labels: { app: "web" } }, spec },
        },
      });
      await c.api.post(`/api/v1/namespaces/${ns}/services`, {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "web" },
        spec: { selector: { app: "web" }, ports: [{ port: 80 }] },
      });
    }
    // alice may read the topology of her namespace only, and nothing cluster-scoped.
    await c.api.post(`/apis/${rbac}/v1/namespaces/${mine.name}/roles`, {
      apiVersion: `${rbac}/v1`,
      kind: "Role",
      metadata: { name: "topology-reader" },
      rules: [
        { apiGroups: [""], resources: ["pods", "services", "events"], verbs: ["get", "list", "watch"] },
        { apiGroups: ["apps"], resources: ["deployments", "replicasets"], verbs: ["get", "list", "watch"] },
      ],
    });
    await c.api.post(`/apis/${rbac}/v1/namespaces/${mine.name}/rolebindings`, {
      apiVersion: `${rbac}/v1`,
      kind: "RoleBinding",
      metadata: { name: "alice-topology" },
      roleRef: { apiGroup: rbac, kind: "Role", name: "topology-reader" },
      subjects: [{ kind: "User", name: "alice", apiGroup: rbac }],
    });
    kgql = await startKgql(await KubeClient.fromFile(c.kubeconfig), { auth: "kubernetes" });
    await kgql.gateway.factory.waitForCacheSync(20_000);
    base = kgql.url.replace(/\/graphql$/, "/ui");
    session = await openBrowser();
    page = session.page;
    page.on("pageerror", (e) => console.error("page error:", e.message));
    await samePodsAsApiserverReady();
  });
  /** Both Deployments' pods exist before the page is opened (the controllers are quick). */
  const samePodsAsApiserverReady = () =>
    waitFor(podNames, {
      message: "the Deployment's 2 pods",
      until: (p) => p.length === 2,
      timeoutMs: 60_000,
    });
  after(async () => {
    await session?.close();
    await kgql?.close();
    await mine?.delete();
    await other?.delete();
  });

  it("asks for a token, and says clearly when kgql rejects one", async () => {
    await page.goto(`${base}#namespace=${mine.name}`);
    await page.locator("#login").waitFor({ state: "visible" });
    await page.fill("#token", "not-a-valid-token");
    await page.click("#login button[type=submit]");
    const error = page.locator("#login-error");
    await error.waitFor({ state: "visible" });
    assert.match((await error.textContent()) ?? "", /kgql rejected this token: .*invalid bearer token/);
    await screenshot(page, "cluster-bad-token");
  });

  it("a restricted caller sees its namespace's topology and is told what it may not see", async () => {
    await page.fill("#token", c.tokens.alice!);
    await page.click("#login button[type=submit]");
    await page.locator("#login").waitFor({ state: "hidden" });
    await waitLive(page, 30_000);
    await samePodsAsApiserver("alice's page to draw the Deployment's pods");
    const shown = await drawn(page);
    assert.deepEqual(
      shown
        .filter((n) => n.kind === "Deployment" || n.kind === "Service")
        .map((n) => `${n.kind} ${n.name}`)
        .sort(),
      ["Deployment web", "Service web"],
    );
    assert.ok(
      shown.every((n) => n.namespace === undefined || n.namespace === mine.name),
      JSON.stringify(shown),
    );
    // Nodes are cluster-scoped, statefulsets not granted: refused, and said so.
    const problems = (await page.locator("#problems").textContent()) ?? "";
    assert.match(problems, /Node: .*alice.*nodes/);
    assert.match(problems, /StatefulSet: .*alice.*statefulsets/);
    await screenshot(page, "cluster-alice");
    // Another namespace: nothing of it is drawn, and the refusal names it.
    await page.fill("#namespace", other.name);
    await page.press("#namespace", "Enter");
    await page.locator("#problems", { hasText: `Pod: ` }).waitFor({ timeout: 15_000 });
    assert.match(
      (await page.locator("#problems").textContent()) ?? "",
      new RegExp(`pods in namespace "${other.name}"`),
    );
    assert.equal((await drawn(page)).filter((n) => n.namespace === other.name).length, 0);
    await screenshot(page, "cluster-alice-other-namespace");
  });

  it("follows a scale-up and a rolling update live", async () => {
    await page.fill("#namespace", mine.name);
    await page.press("#namespace", "Enter");
    await waitLive(page, 30_000);
    await c.api.patch(deploymentPath(), { spec: { replicas: 3 } });
    await samePodsAsApiserver("the scaled-up pods drawn", (pods) => pods.length === 3);
    await screenshot(page, "cluster-scaled-up");
    const before = await podNames();
    await c.api.patch(deploymentPath(), {
      spec: { template: { metadata: { annotations: { "kgql.test/rollout": String(Date.now()) } } } },
    });
    // Seen as it happens: at some point two ReplicaSets of the Deployment are drawn at once.
    await page.waitForFunction(
      () => document.querySelectorAll('g[data-kind="ReplicaSet"]').length >= 2,
      null,
      { timeout: 60_000 },
    );
    await screenshot(page, "cluster-rollout-midway");
    await samePodsAsApiserver(
      "the rolled-out pods drawn",
      (pods) => pods.length === 3 && pods.every((p) => !before.includes(p)),
    );
    const rs = (await drawn(page)).filter((n) => n.kind === "ReplicaSet");
    assert.equal(rs.length, 1, "the old ReplicaSet, at zero, is no longer drawn");
    await screenshot(page, "cluster-rollout-done");
  });

  it("survives kgql restarting: reconnects with the same token, resumes, and shows what changed meanwhile", async () => {
    await waitLive(page, 30_000);
    const port = kgql.port;
    await kgql.close();
    await page.locator("#connection", { hasText: "reconnecting" }).waitFor({ timeout: 15_000 });
    // Changed while no gateway was there: the page can only learn it by resuming.
    await c.api.patch(deploymentPath(), { spec: { replicas: 1 } });
    kgql = await startKgql(await KubeClient.fromFile(c.kubeconfig), { auth: "kubernetes", port });
    await kgql.gateway.factory.waitForCacheSync(20_000);
    await samePodsAsApiserver("the scaled-down pods drawn after the restart", (pods) => pods.length === 1);
    await waitLive(page, 30_000);
    assert.equal(await page.isVisible("#login"), false, "the tab's token is used again, no new sign-in");
    await screenshot(page, "cluster-gateway-back");
  });
});
