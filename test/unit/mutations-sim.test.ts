// Mutations on the simulator, for what needs exact timing: a watch that stalls after the write
// (the answer is CACHE_TIMEOUT, saying the write is done, within the request timeout), and a
// mutation waiting that long does not hold up big queries (it never takes their lane).
// Everything else is tested on the real control plane (test/integration/mutations.test.ts).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { DocumentNode } from "graphql";
import { SharedInformerFactory } from "../../src/informers/factory.ts";
import type { KubeObject } from "../../src/informers/types.ts";
import { Gateway } from "../../src/resolvers/gateway.ts";
import { SandboxCluster, seedDemo } from "../../src/sandbox/index.ts";
import { createApp } from "../../src/server/app.ts";
import type { GatewayServer } from "../../src/server/index.ts";
import { gql, startKgqlOn, startKgqlOnClusters } from "../helpers/kgql.ts";
import { captureLog } from "../helpers/log.ts";
import { clientFor, startSandbox } from "../helpers/sandbox.ts";

describe("mutations on the simulator (--auth none)", () => {
  let sim: SandboxCluster;
  let gateway: Gateway;
  let target: KubeObject;
  const log = captureLog();
  before(async () => {
    sim = new SandboxCluster();
    await sim.start();
    seedDemo(sim, { namespaces: 2, nodes: 2, deploymentsPerNamespace: 2, replicas: 2 });
    gateway = new Gateway(new SharedInformerFactory(await clientFor(sim)));
    gateway.start();
    await gateway.factory.waitForCacheSync(5000);
    target = [...gateway.informer("Deployment").store.values()][0]!;
  });
  after(async () => {
    sim.faults.reset();
    await gateway.stop();
    await sim.stop();
  });

  function app() {
    // bigQueryMs 0: every document run before counts as big, so no timing is needed to be "big".
    const yoga = createApp(gateway, {
      bigQueryMs: 0,
      requestTimeoutMs: 800,
      mutations: true,
      log: log.logger,
    });
    const { parse, execute, schema, contextFactory } = yoga.getEnveloped({});
    const run = async (document: DocumentNode, variableValues?: Record<string, unknown>) =>
      // biome-ignore lint/suspicious/noExplicitAny: results are inspected freely
      (await execute({ schema, document, variableValues, contextValue: await contextFactory() })) as any;
    return { parse, run };
  }
  const SCALE = `mutation($ns: String!, $n: String!, $r: Int!) { scaleDeployment(namespace: $ns, name: $n, replicas: $r) { replicas resourceVersion } }`;

  it("answers from the cache once it holds the write, with the kubeconfig's credentials and an audit line", async () => {
    const { parse, run } = app();
    const vars = { ns: target.metadata.namespace, n: target.metadata.name, r: 4 };
    const r = await run(parse(SCALE), vars);
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    const cached = gateway.get("Deployment", target.metadata.namespace, target.metadata.name)!;
    assert.deepEqual(r.data.scaleDeployment, {
      replicas: 4,
      resourceVersion: cached.metadata.resourceVersion,
    });
    assert.equal((cached.spec as { replicas: number }).replicas, 4);
    const line = log.lines.findLast((l) => l.audit === "mutation")!;
    assert.equal(line.user, null);
    assert.equal(line.as, "kubeconfig");
    assert.equal(line.result, "ok");
  });

  it("applyManifest works on the demo cluster: creates what is missing, then merges into it", async () => {
    const { parse, run } = app();
    const APPLY = `mutation($y: String!, $dry: Boolean) { applyManifest(yaml: $y, dryRun: $dry) { ... on Resource { name resourceVersion } } }`;
    const manifest = (value: string) =>
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  namespace: default\ndata:\n  key: ${value}\n`;
    const dry = await run(parse(APPLY), { y: manifest("one"), dry: true });
    assert.equal(dry.errors, undefined, JSON.stringify(dry.errors));
    assert.equal(sim.get("configmaps", "default", "applied"), undefined, "a dry run stores nothing");
    const created = await run(parse(APPLY), { y: manifest("one") });
    assert.equal(created.errors, undefined, JSON.stringify(created.errors));
    assert.equal((sim.get("configmaps", "default", "applied")!.data as Record<string, string>).key, "one");
    const updated = await run(parse(APPLY), { y: manifest("two") });
    assert.equal(updated.errors, undefined, JSON.stringify(updated.errors));
    const stored = sim.get("configmaps", "default", "applied")!;
    assert.equal((stored.data as Record<string, string>).key, "two");
    assert.equal(updated.data.applyManifest.resourceVersion, stored.metadata.resourceVersion);
  });

  it("what a mutation selects counts against --max-cost, refused before anything is written", async () => {
    const yoga = createApp(gateway, { maxCost: 50, mutations: true });
    const { parse, execute, schema, contextFactory } = yoga.getEnveloped({});
    const before = sim.get("deployments", target.metadata.namespace, target.metadata.name)!;
    const document = parse(
      `mutation($ns: String!, $n: String!) { scaleDeployment(namespace: $ns, name: $n, replicas: 9) { pods { node { pods { node { pods { name } } } } } } }`,
    );
    const variableValues = { ns: target.metadata.namespace, n: target.metadata.name };
    const r = (await execute({
      schema,
      document,
      variableValues,
      contextValue: await contextFactory(),
    })) as { errors?: { extensions: Record<string, unknown> }[] };
    assert.equal(r.errors?.[0]?.extensions.code, "LIMIT_EXCEEDED", JSON.stringify(r.errors));
    assert.equal(r.errors?.[0]?.extensions.limit, "maxCost");
    const after = sim.get("deployments", target.metadata.namespace, target.metadata.name)!;
    assert.equal(after.metadata.resourceVersion, before.metadata.resourceVersion, "nothing written");
  });

  it("a watch stalled after the write: CACHE_TIMEOUT saying it was written; big queries are not held up meanwhile", async () => {
    const { parse, run } = app();
    const mutation = parse(SCALE);
    const big = parse(`{ deployments { nodes { name replicaSets { name pods { name } } } } }`);
    const vars = { ns: target.metadata.namespace, n: target.metadata.name };
    await run(mutation, { ...vars, r: 5 }); // known to the lane (as big) from now on
    await run(big);
    sim.faults.stallWatches(true);
    try {
      const order: string[] = [];
      const started = Date.now();
      const waiting = run(mutation, { ...vars, r: 6 }).then((r) => {
        order.push("mutation");
        return r;
      });
      await new Promise((r) => setTimeout(r, 50)); // the mutation is waiting for the cache
      const query = run(big).then((r) => {
        order.push("query");
        return r;
      });
      const [m, q] = await Promise.all([waiting, query]);
      assert.equal(q.errors, undefined);
      assert.deepEqual(order, ["query", "mutation"], "the big query did not wait for the mutation");
      const err = m.errors?.[0];
      assert.equal(err?.extensions?.code, "CACHE_TIMEOUT", JSON.stringify(m.errors));
      assert.equal(err.extensions.written, true);
      assert.match(err.message, /was written \(resourceVersion \d+\).*do not repeat it/);
      assert.ok(Date.now() - started < 3000, "bounded by the request timeout");
      const stored = sim.get("deployments", target.metadata.namespace, target.metadata.name)!;
      assert.equal((stored.spec as { replicas: number }).replicas, 6, "the write itself happened");
      assert.equal(log.lines.findLast((l) => l.audit === "mutation")!.result, "CACHE_TIMEOUT");
    } finally {
      sim.faults.stallWatches(false);
    }
  });
});

describe("mutations on several clusters (simulated)", () => {
  let east: SandboxCluster;
  let west: SandboxCluster;
  let kgql: GatewayServer;
  before(async () => {
    east = await startSandbox();
    west = await startSandbox();
    // The same names in both: only the cluster argument tells them apart.
    seedDemo(east, { namespaces: 1, nodes: 1, deploymentsPerNamespace: 1, replicas: 1, seed: 1 });
    seedDemo(west, { namespaces: 1, nodes: 1, deploymentsPerNamespace: 1, replicas: 1, seed: 1 });
    kgql = await startKgqlOnClusters({ east, west }, { enableMutations: true });
  });
  after(async () => {
    await kgql?.close();
    await east?.stop();
    await west?.stop();
  });

  it("writes to the cluster named, and answers from that cluster's cache", async () => {
    const d = [...kgql.clusters.require("west").informer("Deployment").store.values()][0]!;
    const { namespace, name } = d.metadata;
    const r = await gql(
      kgql.url,
      `mutation($ns: String!, $n: String!) { scaleDeployment(cluster: "west", namespace: $ns, name: $n, replicas: 5) { cluster replicas replicaSets { cluster } } }`,
      { ns: namespace, n: name },
    );
    assert.equal(r.errors, undefined, r.text);
    assert.equal(r.data.scaleDeployment.cluster, "west");
    assert.equal(r.data.scaleDeployment.replicas, 5);
    assert.ok(r.data.scaleDeployment.replicaSets.every((rs: { cluster: string }) => rs.cluster === "west"));
    const replicas = (sim: SandboxCluster) =>
      (sim.get("deployments", namespace, name)!.spec as { replicas: number }).replicas;
    assert.equal(replicas(west), 5);
    assert.equal(replicas(east), 1, "the default cluster is untouched");
  });
});

describe("mutations in scoped mode (--namespaces)", () => {
  let sim: SandboxCluster;
  let kgql: GatewayServer;
  before(async () => {
    sim = await startSandbox();
    seedDemo(sim, { namespaces: 2, nodes: 1, deploymentsPerNamespace: 1, replicas: 1 });
    kgql = await startKgqlOn(sim, { namespaces: ["default"], enableMutations: true });
  });
  after(async () => {
    await kgql?.close();
    await sim?.stop();
  });

  it("a write outside the scope is refused naming it, and nothing is written; inside, answered from the cache", async () => {
    const other = sim.list("deployments").find((d) => d.metadata.namespace !== "default")!;
    const before = other.metadata.resourceVersion;
    const scale = (d: KubeObject, r: number) =>
      `mutation { scaleDeployment(namespace: "${d.metadata.namespace}", name: "${d.metadata.name}", replicas: ${r}) { replicas } }`;
    const refused = await gql(kgql.url, scale(other, 5));
    assert.equal(refused.errors?.[0]?.extensions?.code, "BAD_USER_INPUT", JSON.stringify(refused.errors));
    assert.match(refused.errors![0]!.message, /outside this gateway's scope.*"default"/);
    const stored = sim.get("deployments", other.metadata.namespace, other.metadata.name)!;
    assert.equal(stored.metadata.resourceVersion, before, "nothing written");
    const mine = sim.list("deployments", "default")[0]!;
    const ok = await gql(kgql.url, scale(mine, 2));
    assert.equal(ok.errors, undefined, JSON.stringify(ok.errors));
    assert.equal(ok.data.scaleDeployment.replicas, 2);
  });
});
