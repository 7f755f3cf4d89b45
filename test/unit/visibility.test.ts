// RbacVisibility: decisions per resource (a core kind's name, or "<resource>.<group>"), so a
// custom resource named like a core kind never shows with the core kind's RBAC, or vice versa.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Plugin } from "graphql-yoga";
import { AccessReviewer } from "../../src/auth/access-reviewer.ts";
import { TokenAuthenticator } from "../../src/auth/authenticator.ts";
import { RbacVisibility } from "../../src/auth/visibility.ts";
import { SharedInformerFactory } from "../../src/informers/factory.ts";
import { accessKey } from "../../src/kinds.ts";
import { children, owners } from "../../src/resolvers/common.ts";
import { RequestContext } from "../../src/resolvers/context.ts";
import { Gateway } from "../../src/resolvers/gateway.ts";
import { checkAllowed } from "../../src/resolvers/query.ts";
import { SandboxCluster } from "../../src/sandbox/index.ts";
import { createApp } from "../../src/server/app.ts";
import { clientFor, pod, withReviews } from "../helpers/sandbox.ts";

const user = { username: "alice", groups: [] };

test("namespaced and cluster-wide decisions; nothing for kinds not decided", () => {
  const v = new RbacVisibility(
    user,
    new Map<string, "all" | Set<string>>([
      ["Pod", new Set(["a"])],
      ["Node", "all"],
    ]),
  );
  assert.equal(v.allows("Pod", "a"), true);
  assert.equal(v.allows("Pod", "b"), false);
  assert.equal(v.allowsAll("Node"), true);
  assert.equal(v.allows("Deployment", "a"), false, "undecided kinds are denied");
  assert.equal(v.allowsNothing("Deployment"), true);
});

test("decisions are per resource: a custom resource never borrows a core kind's of the same kind name", () => {
  const v = new RbacVisibility(user, new Map<string, "all" | Set<string>>([["Job", "all"]]));
  const volcanoJobs = { group: "batch.volcano.sh", resource: "jobs", kind: "Job" };
  assert.equal(accessKey(volcanoJobs), "jobs.batch.volcano.sh");
  assert.equal(accessKey({ group: "batch", resource: "jobs", kind: "Job" }), "Job");
  assert.equal(v.allows(accessKey(volcanoJobs), "a"), false, "batch Job's decision does not apply");
  v.add(volcanoJobs, new Set(["a"]));
  assert.equal(v.allows(accessKey(volcanoJobs), "a"), true);
  assert.equal(v.allows(accessKey(volcanoJobs), "b"), false);
  assert.equal(v.allowsAll("Job"), true, "and the custom resource's does not narrow batch Job's");
  // Re-deciding the same resource replaces its decision (a subscription's re-check).
  v.add(volcanoJobs, new Set());
  assert.equal(v.allowsNothing(accessKey(volcanoJobs)), true);
});

test("traversal: a pod's owner of a custom resource named like a core kind is hidden without RBAC on it", async () => {
  const sim = new SandboxCluster();
  await sim.start();
  const jobs = { group: "example.com", version: "v1", resource: "jobs", kind: "Job", namespaced: true };
  sim.registerResource(jobs);
  const owner = sim.create("jobs.example.com", {
    apiVersion: "example.com/v1",
    kind: "Job",
    metadata: { name: "train", namespace: "a" },
  } as never);
  const p = pod("worker", "a");
  p.metadata.ownerReferences = [
    { apiVersion: "example.com/v1", kind: "Job", name: "train", uid: owner.metadata.uid, controller: true },
  ];
  sim.create("pods", p);
  const gateway = new Gateway(new SharedInformerFactory(await clientFor(sim)));
  gateway.start();
  try {
    await gateway.factory.waitForCacheSync(5000);
    await gateway.genericInformer({ group: "example.com", version: "v1", resource: "jobs" });
    const cached = gateway.get("Pod", "a", "worker")!;
    // The caller may list pods and batch Jobs everywhere, but has no decision on jobs.example.com.
    const allowed = new Map<string, "all" | Set<string>>([
      ["Pod", "all"],
      ["Job", "all"],
    ]);
    const denied = new RequestContext(gateway, new RbacVisibility(user, allowed));
    assert.deepEqual(owners(cached, denied), []);
    assert.deepEqual(children(owner.metadata.uid!, denied).length, 1, "the pod itself stays visible");
    const granted = new RbacVisibility(user, new Map(allowed));
    granted.add(jobs, new Set(["a"]));
    const names = owners(cached, new RequestContext(gateway, granted)).map((o) => o.metadata.name);
    assert.deepEqual(names, ["train"]);
  } finally {
    await gateway.stop();
    await sim.stop();
  }
});

test("with --auth a request's context sees nothing until the authorization plugin has decided", async () => {
  const sim = new SandboxCluster();
  await sim.start();
  sim.create("pods", pod("p", "a"));
  const client = withReviews(await clientFor(sim), {
    user: (token) => (token === "alice" ? { username: "alice" } : undefined),
    allowed: () => true,
  });
  const gateway = new Gateway(new SharedInformerFactory(client));
  gateway.start();
  try {
    await gateway.factory.waitForCacheSync(5000);
    // A plugin that sees the context as yoga built it, before any execution hook.
    const seen: { beforeAuthorization?: boolean; atExecution?: boolean } = {};
    const probe: Plugin = {
      onContextBuilding:
        () =>
        ({ context }) => {
          seen.beforeAuthorization = (context as unknown as RequestContext).visible("Pod", "a");
        },
      onExecute: ({ args }) => {
        seen.atExecution = (args.contextValue as unknown as RequestContext).visible("Pod", "a");
      },
    };
    const yoga = createApp(gateway, {
      auth: { authenticator: new TokenAuthenticator(client), reviewer: new AccessReviewer(client) },
      extraPlugins: [probe],
    });
    const res = await yoga.fetch("http://kgql/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer alice" },
      body: JSON.stringify({ query: "{ pods { nodes { name } } }" }),
    });
    const body = (await res.json()) as { data?: { pods: { nodes: { name: string }[] } } };
    assert.deepEqual(body.data?.pods.nodes, [{ name: "p" }], "authorized: alice sees the pod");
    assert.equal(seen.beforeAuthorization, false, "fails closed before authorization");
    assert.equal(seen.atExecution, true, "the plugin's decision applies at execution");
  } finally {
    await gateway.factory.stop();
    await sim.stop();
  }
});

test("a refusal names what was asked: the namespace given, no namespace for a cluster-scoped kind", () => {
  const nothing = new RbacVisibility({ username: "bob", groups: [] }, new Map());
  const ctx = { access: { visibility: nothing } } as unknown as RequestContext;
  assert.throws(() => checkAllowed(ctx, "Pod", "qa-b"), {
    message: 'forbidden: user "bob" cannot list pods in namespace "qa-b" (Kubernetes RBAC)',
  });
  assert.throws(() => checkAllowed(ctx, "Pod", undefined), {
    message: 'forbidden: user "bob" cannot list pods in any namespace (Kubernetes RBAC)',
  });
  assert.throws(() => checkAllowed(ctx, "Node", undefined), {
    message: 'forbidden: user "bob" cannot list nodes (Kubernetes RBAC)',
  });
});
