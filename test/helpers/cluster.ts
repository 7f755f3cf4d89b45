// Integration tests against the real control plane (test/cluster): a running cluster is reused,
// otherwise one is started (and built first if needed) under a lock so that concurrent test
// files never start two. The cluster is left running for the next run; `npm run cluster:down`
// stops it.
//
//   const cluster = await getCluster();
//   describe("...", { skip: cluster ? false : NO_CLUSTER_REASON }, () => { ... });
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import type { TestContext } from "node:test";
import {
  binariesPresent,
  type ClusterState,
  type Component,
  clusterDir as clusterDirOf,
  hasGo,
  readState,
  restartApiserver as restartApiserverProcess,
  type UserRecord,
  unhealthyReason,
  up,
} from "../cluster/cluster.ts";
import { KubeApi } from "../cluster/kube-api.ts";
import { waitFor } from "../cluster/wait.ts";

export {
  type ApiResponse,
  type Json,
  KubeApi,
  KubeApiError,
  type RequestOptions,
} from "../cluster/kube-api.ts";
export { WaitAbort, type WaitOptions, WaitTimeout, waitFor } from "../cluster/wait.ts";

/** The one line a test file skips with when there is no control plane and no way to build one. */
export const NO_CLUSTER_REASON =
  "no Go toolchain: integration tests need the real control plane (see test/cluster)";

export interface ClusterInfo {
  /** The cluster directory (.cluster or $KGQL_CLUSTER_DIR). */
  dir: string;
  /** https://127.0.0.1:<port> */
  server: string;
  /** PEM of the CA that signed the apiserver's serving certificate, and its file. */
  ca: string;
  caFile: string;
  /** Admin (system:masters) token and kubeconfig. */
  adminToken: string;
  kubeconfig: string;
  /** Restricted users' tokens by name (alice, bob): authenticated, no RBAC bindings of their own. */
  tokens: Record<string, string>;
  users: Record<string, UserRecord>;
  /** http://127.0.0.1:<port> */
  etcd: string;
  /** kwok nodes (Ready): set `spec.nodeName` to one of them to get a Running pod. */
  nodes: string[];
  /** Admin client; `api.as(token)` or `apiAs(user)` for another identity. */
  api: KubeApi;
  apiAs(user: string): KubeApi;
  /** The full recorded state (pids, args, log files). */
  state: ClusterState;
}

let pending: Promise<ClusterInfo | null> | undefined;

/**
 * The running test cluster, started if needed. null when it cannot exist here (no built binaries
 * and no Go toolchain) and CI is not "true"; with CI=true that is an error, as is any failure to
 * build or start it.
 */
export function getCluster(): Promise<ClusterInfo | null> {
  pending ??= loadCluster();
  return pending;
}

async function loadCluster(): Promise<ClusterInfo | null> {
  const ci = process.env.CI === "true";
  const recorded = readState();
  if (recorded && (await unhealthyReason(recorded)) === null) return clusterInfo(recorded);
  if (!binariesPresent() && !hasGo()) {
    if (ci) {
      throw new Error(
        "CI=true and the control plane cannot be built: no Go toolchain on PATH and no cached binaries (see test/cluster/build.sh)",
      );
    }
    return null;
  }
  const { state, reused, ms } = await up();
  if (!reused) process.stderr.write(`[cluster] started for the tests in ${(ms / 1000).toFixed(1)} s\n`);
  return clusterInfo(state);
}

function clusterInfo(state: ClusterState): ClusterInfo {
  const ca = readFileSync(state.caFile, "utf8");
  const api = new KubeApi({ server: state.server, ca, token: state.adminToken });
  const tokens = Object.fromEntries(Object.values(state.users).map((u) => [u.name, u.token]));
  return {
    dir: state.dir,
    server: state.server,
    ca,
    caFile: state.caFile,
    adminToken: state.adminToken,
    kubeconfig: state.kubeconfig,
    tokens,
    users: state.users,
    etcd: state.etcd,
    nodes: state.nodes,
    api,
    apiAs(user: string): KubeApi {
      const token = tokens[user];
      if (!token) throw new Error(`no test user ${user} (have: ${Object.keys(tokens).join(", ")})`);
      return api.as(token);
    },
    state,
  };
}

let pendingSecond: Promise<ClusterInfo | null> | undefined;

/**
 * A second control plane of its own (etcd, apiserver, controllers, kwok) for multi-cluster
 * tests, in `<cluster dir>-2` (or $KGQL_SECOND_CLUSTER_DIR): started once, reused like the
 * first. null when the first cannot exist here.
 */
export function getSecondCluster(): Promise<ClusterInfo | null> {
  pendingSecond ??= (async () => {
    if (!(await getCluster())) return null;
    const dir = process.env.KGQL_SECOND_CLUSTER_DIR ?? `${clusterDirOf()}-2`;
    const { state, reused, ms } = await up({ dir });
    if (!reused)
      process.stderr.write(`[cluster] second control plane started in ${(ms / 1000).toFixed(1)} s\n`);
    return clusterInfo(state);
  })();
  return pendingSecond;
}

/** Stops a cluster's kube-apiserver (SIGKILL) and leaves it stopped; restartApiserverIn starts it. */
export function killApiserver(cluster: ClusterInfo): void {
  const p = (readState(cluster.dir) ?? cluster.state).processes["kube-apiserver"];
  if (p) process.kill(p.pid, "SIGKILL");
}

/** Starts (or restarts) the kube-apiserver of any test cluster; resolves once it is ready. */
export async function restartApiserverIn(cluster: ClusterInfo): Promise<{ ms: number }> {
  const res = await restartApiserverProcess({ dir: cluster.dir, kill: true });
  const fresh = readState(cluster.dir);
  if (fresh) cluster.state = fresh;
  return res;
}

/** getCluster(), for code that runs only when the file was not skipped. */
export async function requireCluster(): Promise<ClusterInfo> {
  const c = await getCluster();
  if (!c) throw new Error(NO_CLUSTER_REASON);
  return c;
}

/** Restarts kube-apiserver (same port, same etcd); resolves when it is ready again. */
export async function restartApiserver(opts: { kill?: boolean } = {}): Promise<{ ms: number }> {
  const c = await requireCluster();
  let res: { ms: number };
  try {
    res = await restartApiserverProcess({ dir: c.dir, kill: opts.kill });
  } catch (err) {
    // Seen once on a loaded machine: the new apiserver exited right after a clean start, with
    // nothing in its log. One retry keeps a test about kgql from failing on that; a second
    // failure is reported.
    console.error(`[cluster] restart failed, retrying once: ${(err as Error).message.split("\n")[0]}`);
    res = await restartApiserverProcess({ dir: c.dir, kill: true });
  }
  const fresh = readState(c.dir);
  if (fresh) c.state = fresh;
  await waitForControllers(c);
  return res;
}

/**
 * Waits until kube-controller-manager acts again after an apiserver restart: its reflectors
 * back off (up to 30 s each) while the apiserver is down, and after several restarts in a row
 * it can take a minute to catch up. Tests that follow must not pay for that with flaky waits.
 */
async function waitForControllers(c: ClusterInfo): Promise<void> {
  const name = `kgql-probe-${randomBytes(3).toString("hex")}`;
  await c.api.post("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name } });
  try {
    await waitFor(
      () => c.api.get(`/api/v1/namespaces/${name}/serviceaccounts/default`, { allowError: true }),
      {
        message: "kube-controller-manager to create a service account after the apiserver restart",
        until: (r) => r.status === 200,
        timeoutMs: 120_000,
        intervalMs: 250,
      },
    );
  } finally {
    await c.api.delete(`/api/v1/namespaces/${name}`, undefined, { allowError: true });
  }
}

/** The pid of a running component (e.g. to check it is alive); from the recorded state. */
export function componentPid(cluster: ClusterInfo, name: Component): number | undefined {
  return (readState(cluster.dir) ?? cluster.state).processes[name]?.pid;
}

// ---------------------------------------------------------------------------------------------
// Namespaces

export interface TestNamespace {
  name: string;
  /** Deletes the namespace (idempotent); `wait` also waits until it is gone. */
  delete(opts?: { wait?: boolean }): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const toDelete = new Set<TestNamespace>();
let exitHookInstalled = false;

function slug(s: string): string {
  return (
    s
      .toLowerCase()
      .replace(/\.test\.[cm]?[jt]s$/, "")
      .replace(/[^a-z0-9-]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 40)
      .replace(/-+$/, "") || "test"
  );
}

/**
 * Creates a fresh, uniquely named namespace (kgql-<prefix>-<random>, labelled kgql.test=true)
 * and waits until its default service account exists (pods need it).
 *
 * - With a TestContext, it is deleted when that test ends (`t.after`).
 * - With a prefix string, call `ns.delete()` in your `after` hook (or `await using`); any namespace
 *   still undeleted when the process is about to exit is deleted then.
 */
export async function withNamespace(
  owner: TestContext | string,
  opts: { cluster?: ClusterInfo; labels?: Record<string, string> } = {},
): Promise<TestNamespace> {
  const cluster = opts.cluster ?? (await requireCluster());
  const prefix = typeof owner === "string" ? owner : owner.filePath ? basename(owner.filePath) : owner.name;
  const name = `kgql-${slug(prefix)}-${randomBytes(3).toString("hex")}`;
  await cluster.api.post("/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name, labels: { "kgql.test": "true", ...opts.labels } },
  });
  let deleted = false;
  const ns: TestNamespace = {
    name,
    async delete({ wait = false } = {}) {
      toDelete.delete(ns);
      if (!deleted) {
        deleted = true;
        await cluster.api.delete(
          `/api/v1/namespaces/${name}`,
          { apiVersion: "v1", kind: "DeleteOptions", propagationPolicy: "Background" },
          { expect: [200, 202, 404] },
        );
      }
      if (wait) {
        await waitFor(
          async () => (await cluster.api.get(`/api/v1/namespaces/${name}`, { allowError: true })).status,
          {
            message: `namespace ${name} to be deleted`,
            until: (s) => s === 404,
            timeoutMs: 120_000,
            intervalMs: 250,
          },
        );
      }
    },
    [Symbol.asyncDispose]() {
      return ns.delete();
    },
  };
  toDelete.add(ns);
  if (typeof owner !== "string") owner.after(() => ns.delete());
  else if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on("beforeExit", () => {
      for (const leftover of toDelete) void leftover.delete().catch(() => {});
    });
  }
  await waitFor(
    async () =>
      (await cluster.api.get(`/api/v1/namespaces/${name}/serviceaccounts/default`, { allowError: true }))
        .status,
    {
      message: `the default service account in namespace ${name}`,
      until: (s) => s === 200,
      timeoutMs: 30_000,
    },
  );
  return ns;
}

// ---------------------------------------------------------------------------------------------
// Pods on kwok nodes

/**
 * A pod spec that kwok turns Running: bound to a kwok node (no scheduler runs) and tolerating
 * that node's taints, if it has any.
 */
export async function kwokPodSpec(
  cluster: ClusterInfo,
  opts: { node?: string; image?: string; containerName?: string } = {},
): Promise<Record<string, unknown>> {
  const node = opts.node ?? cluster.nodes[0] ?? "kwok-node-0";
  const res = await cluster.api.get(`/api/v1/nodes/${node}`);
  const taints = (res.body.spec?.taints ?? []) as { key: string; effect: string }[];
  return {
    nodeName: node,
    containers: [{ name: opts.containerName ?? "app", image: opts.image ?? "registry.invalid/kgql-test:1" }],
    ...(taints.length > 0
      ? { tolerations: taints.map((t) => ({ key: t.key, operator: "Exists", effect: t.effect })) }
      : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Custom resources

/**
 * Installs a namespaced CustomResourceDefinition (v1, any fields allowed) and waits until the
 * apiserver serves it in `namespace`. Returns the CRD's name, for deleting it afterwards.
 */
export async function installCrd(
  cluster: ClusterInfo,
  crd: { group: string; kind: string; plural: string; namespace: string },
): Promise<string> {
  const name = `${crd.plural}.${crd.group}`;
  await cluster.api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name },
    spec: {
      group: crd.group,
      scope: "Namespaced",
      names: {
        plural: crd.plural,
        singular: crd.kind.toLowerCase(),
        kind: crd.kind,
        listKind: `${crd.kind}List`,
      },
      versions: [
        {
          name: "v1",
          served: true,
          storage: true,
          schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
        },
      ],
    },
  });
  const path = `/apis/${crd.group}/v1/namespaces/${crd.namespace}/${crd.plural}`;
  await waitFor(async () => (await cluster.api.get(path, { allowError: true })).status, {
    message: `the CRD ${name} to be served`,
    until: (s) => s === 200,
    timeoutMs: 30_000,
  });
  return name;
}
