// Every field of every kind resolves on the simulator's objects and equals them; owners,
// children and events work across kinds, CRDs included; each distinct index lookup runs once
// per request; ordered pages stay right as objects come and go.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type GraphQLObjectType, getNamedType, isLeafType } from "graphql";
import { SharedInformerFactory } from "../../src/informers/factory.ts";
import { defaultIndexers } from "../../src/informers/indexers.ts";
import { Lister } from "../../src/informers/lister.ts";
import { Store } from "../../src/informers/store.ts";
import type { KubeObject } from "../../src/informers/types.ts";
import { CORE_KINDS } from "../../src/kinds.ts";
import { connectionFrom, sortedKeys } from "../../src/resolvers/connection.ts";
import type { RequestContext } from "../../src/resolvers/context.ts";
import { Gateway } from "../../src/resolvers/gateway.ts";
import { buildSchema } from "../../src/resolvers/index.ts";
import { SandboxCluster, seedDemo } from "../../src/sandbox/index.ts";
import { createApp } from "../../src/server/app.ts";
import type { GatewayServer } from "../../src/server/index.ts";
import { gql, startKgqlOn } from "../helpers/kgql.ts";
import { clientFor, eventually, WIDGETS } from "../helpers/sandbox.ts";

const key = (o: KubeObject) => `${o.metadata.namespace ?? ""}/${o.metadata.name}`;

describe("GraphQL fields and traversals over the simulated cluster", () => {
  let sim: SandboxCluster;
  let kgql: GatewayServer;
  before(async () => {
    sim = new SandboxCluster();
    await sim.start();
    sim.registerResource(WIDGETS);
    seedDemo(sim, { namespaces: 2, nodes: 2, deploymentsPerNamespace: 2, replicas: 2 });
    kgql = await startKgqlOn(sim);
  });
  after(async () => {
    await kgql.close();
    await sim.stop();
  });
  const q = (query: string, variables?: Record<string, unknown>) => gql(kgql.url, query, variables);

  it("every field of every kind resolves, and the objects equal the cluster's", async () => {
    const schema = buildSchema();
    for (const k of CORE_KINDS) {
      const type = schema.getType(k.typeName) as GraphQLObjectType;
      // Scalars as they are, objects and lists by __typename: every field is exercised.
      const selection = Object.values(type.getFields())
        .map((f) => (isLeafType(getNamedType(f.type)) ? f.name : `${f.name} { __typename }`))
        .join(" ");
      const expected = sim.list(k.resource).sort((a, b) => (key(a) < key(b) ? -1 : 1));
      const query =
        k.kind === "Namespace"
          ? `{ namespaces { ${selection} } }`
          : `{ ${k.listField}(first: 1000) { totalCount nodes { ${selection} } } }`;
      const r = await q(query);
      assert.equal(r.errors, undefined, `${k.kind}: ${JSON.stringify(r.errors)}`);
      const nodes = k.kind === "Namespace" ? r.data.namespaces : r.data[k.listField].nodes;
      if (k.kind !== "Namespace") assert.equal(r.data[k.listField].totalCount, expected.length, k.kind);
      assert.deepEqual(
        nodes.map((n: { uid: string; namespace: string | null; name: string; resourceVersion: string }) => [
          n.uid,
          n.namespace,
          n.name,
          n.resourceVersion,
        ]),
        expected.map((o) => [
          o.metadata.uid,
          o.metadata.namespace ?? null,
          o.metadata.name,
          o.metadata.resourceVersion,
        ]),
        k.kind,
      );
      for (const n of nodes) {
        assert.equal(n.kind, k.kind);
        assert.equal(n.apiVersion, k.group ? `${k.group}/${k.version}` : k.version);
      }
    }
  });

  it("portal fields: pod readiness and restarts, container statuses, node readiness, rollout", async () => {
    const r = await q(`{ deployments(first: 1) { nodes { replicas readyReplicas rollout { state message }
      pods { name phase ready restartCount containerStatuses { name image ready restartCount state } node { name ready capacity } } } } }`);
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    const d = r.data.deployments.nodes[0];
    assert.ok(["COMPLETE", "PROGRESSING", "FAILED", "PAUSED"].includes(d.rollout.state));
    for (const p of d.pods) {
      const pod = sim.list("pods").find((x) => x.metadata.name === p.name)!;
      const statuses = (pod.status as { containerStatuses?: { restartCount: number; name: string }[] })
        .containerStatuses;
      assert.equal(
        p.restartCount,
        (statuses ?? []).reduce((n, c) => n + c.restartCount, 0),
      );
      assert.deepEqual(
        p.containerStatuses.map((c: { name: string }) => c.name),
        (statuses ?? []).map((c) => c.name),
      );
      const ready = (pod.status as { conditions?: { type: string; status: string }[] }).conditions?.find(
        (c) => c.type === "Ready",
      );
      assert.equal(p.ready, ready?.status === "True");
      assert.equal(typeof p.node.capacity, "object");
    }
  });

  it("pods -> configMaps/secrets/PVCs and back (ConfigMap.pods, ...) agree with the pod specs", async () => {
    // Names under the given keys anywhere in a pod spec: an independent reading of the references.
    const refs = (spec: unknown, keys: string[], nameKeys: string[]): Set<string> => {
      const out = new Set<string>();
      const walk = (v: unknown, under: boolean) => {
        if (Array.isArray(v)) for (const x of v) walk(x, false);
        else if (v && typeof v === "object") {
          for (const [k, x] of Object.entries(v)) {
            if (under && nameKeys.includes(k) && typeof x === "string") out.add(x);
            walk(x, keys.includes(k));
          }
        }
      };
      walk(spec, false);
      return out;
    };
    const kinds = [
      ["configMaps", "configMap", ["configMap", "configMapKeyRef", "configMapRef"], ["name"]],
      [
        "secrets",
        "secret",
        ["secret", "secretKeyRef", "secretRef", "imagePullSecrets"],
        ["name", "secretName"],
      ],
      ["persistentVolumeClaims", "persistentVolumeClaim", ["persistentVolumeClaim"], ["claimName"]],
    ] as const;
    let checked = 0;
    for (const [listField, refField, keys, nameKeys] of kinds) {
      const r = await q(
        // The root list and the Pod field that references the kind have the same name.
        `{ ${listField}(first: 1000) { nodes { namespace name pods { namespace name ${listField} { name } } } } }`,
      );
      assert.equal(r.errors, undefined, JSON.stringify(r.errors));
      for (const obj of r.data[listField].nodes) {
        const expected = sim
          .list("pods", obj.namespace)
          .filter((p) => {
            const all = refs(p.spec, [...keys], [...nameKeys]);
            // imagePullSecrets entries are {name} objects in an array
            for (const s of (p.spec as { imagePullSecrets?: { name: string }[] }).imagePullSecrets ?? [])
              if (refField === "secret") all.add(s.name);
            return all.has(obj.name);
          })
          .map((p) => p.metadata.name)
          .sort();
        const got = obj.pods.map((p: { name: string }) => p.name).sort();
        assert.deepEqual(got, expected, `${listField} ${obj.namespace}/${obj.name}`);
        checked += got.length;
        // And back: each of those pods lists this object among its references.
        for (const p of obj.pods) {
          const back = Object.values(p).find(Array.isArray) as { name: string }[];
          assert.ok(
            back.some((x) => x.name === obj.name),
            `${p.name} -> ${obj.name}`,
          );
        }
      }
    }
    assert.ok(checked > 0, "some references were checked");
  });

  it("owners, children and events across kinds, custom resources included", async () => {
    const cm = sim.list("configmaps", "team-1")[0]!;
    const widget = sim.create("widgets.example.com", {
      apiVersion: "example.com/v1",
      kind: "Widget",
      metadata: { name: "w1", namespace: "team-1", uid: "", resourceVersion: "" },
    });
    // A ConfigMap owned by the Widget; the Widget owned by the ConfigMap's namespace's first Deployment.
    const dep = sim.list("deployments", "team-1")[0]!;
    sim.update("widgets.example.com", {
      ...widget,
      metadata: {
        ...widget.metadata,
        ownerReferences: [
          { apiVersion: "apps/v1", kind: "Deployment", name: dep.metadata.name, uid: dep.metadata.uid },
        ],
      },
    });
    sim.update("configmaps", {
      ...cm,
      metadata: {
        ...cm.metadata,
        ownerReferences: [
          { apiVersion: "example.com/v1", kind: "Widget", name: "w1", uid: widget.metadata.uid },
        ],
      },
    });
    // The first generic query starts the Widget cache; owners and children use it from then on.
    const w =
      await q(`{ resources(group: "example.com", version: "v1", resource: "widgets", namespace: "team-1") {
      nodes { __typename kind apiVersion name owners { __typename kind name } children { __typename kind name } } } }`);
    assert.equal(w.errors, undefined, JSON.stringify(w.errors));
    await eventually(
      () =>
        kgql.gateway.informer("ConfigMap").lister.get("team-1", cm.metadata.name)?.metadata
          .ownerReferences !== undefined,
      "the ConfigMap update",
    );
    const again =
      await q(`{ resources(group: "example.com", version: "v1", resource: "widgets", namespace: "team-1") {
      nodes { __typename kind apiVersion name owners { __typename kind name } children { __typename kind name } } } }`);
    const node = again.data.resources.nodes[0];
    assert.deepEqual(
      { ...node, owners: node.owners, children: node.children },
      {
        __typename: "GenericResource",
        kind: "Widget",
        apiVersion: "example.com/v1",
        name: "w1",
        owners: [{ __typename: "Deployment", kind: "Deployment", name: dep.metadata.name }],
        children: [{ __typename: "ConfigMap", kind: "ConfigMap", name: cm.metadata.name }],
      },
    );
    const r = await q(
      `query($ns: String!, $cm: String!, $dep: String!) {
        configMap(namespace: $ns, name: $cm) { owners { __typename kind name ... on GenericResource { apiVersion } } }
        deployment(namespace: $ns, name: $dep) { children { __typename kind name } events { reason involvedObject { __typename name } } } }`,
      { ns: "team-1", cm: cm.metadata.name, dep: dep.metadata.name },
    );
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    assert.deepEqual(r.data.configMap.owners, [
      { __typename: "GenericResource", kind: "Widget", name: "w1", apiVersion: "example.com/v1" },
    ]);
    const childKinds = r.data.deployment.children.map((c: { kind: string }) => c.kind).sort();
    assert.deepEqual(childKinds, ["ReplicaSet", "Widget"]);
    for (const e of r.data.deployment.events) assert.equal(e.involvedObject.name, dep.metadata.name);
  });

  it("pages in creation order stay right as objects are added (the cached order is invalidated)", async () => {
    const first = await q(
      `{ configMaps(first: 1, orderBy: {field: CREATION_TIMESTAMP, direction: DESC}) { nodes { name } } }`,
    );
    const newest = sim.create("configmaps", {
      metadata: {
        name: "zz-newest",
        namespace: "default",
        uid: "",
        resourceVersion: "",
        creationTimestamp: "2099-01-01T00:00:00Z",
      },
    });
    await eventually(
      () => kgql.gateway.informer("ConfigMap").lister.get("default", "zz-newest") !== undefined,
      "the new ConfigMap",
    );
    const second = await q(
      `{ configMaps(first: 1, orderBy: {field: CREATION_TIMESTAMP, direction: DESC}) { nodes { name creationTimestamp } } }`,
    );
    assert.notEqual(first.data.configMaps.nodes[0].name, "zz-newest");
    assert.equal(second.data.configMaps.nodes[0].name, "zz-newest");
    assert.equal(second.data.configMaps.nodes[0].creationTimestamp, newest.metadata.creationTimestamp);
    // resources(...) takes orderBy too, and pages through every object exactly once.
    const names: string[] = [];
    let after: string | null = null;
    do {
      const r: Awaited<ReturnType<typeof q>> = await q(
        `query($after: String) { resources(group: "", version: "v1", resource: "configmaps", first: 3, after: $after, orderBy: {field: NAME}) {
          pageInfo { hasNextPage endCursor } nodes { name } } }`,
        { after },
      );
      assert.equal(r.errors, undefined, JSON.stringify(r.errors));
      names.push(...r.data.resources.nodes.map((n: { name: string }) => n.name));
      after = r.data.resources.pageInfo.hasNextPage ? r.data.resources.pageInfo.endCursor : null;
    } while (after);
    assert.deepEqual(
      names,
      sim
        .list("configmaps")
        .map((c) => c.metadata.name)
        .sort(),
    );
    const scoped = await q(
      `{ resources(group: "", version: "v1", resource: "nodes", namespace: "default") { totalCount } }`,
    );
    assert.equal(scoped.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
    assert.match(scoped.errors![0]!.message, /nodes is cluster-scoped: leave out the namespace argument/);
  });
});

describe("one lookup per distinct index value per request", () => {
  it("a traversal over N parents costs N lookups; repeating it in the same request costs none", async () => {
    const sim = new SandboxCluster();
    await sim.start();
    seedDemo(sim, { namespaces: 2, nodes: 2, deploymentsPerNamespace: 3, replicas: 2 });
    const gateway = new Gateway(new SharedInformerFactory(await clientFor(sim)));
    gateway.start();
    try {
      await gateway.factory.waitForCacheSync(5000);
      const yoga = createApp(gateway);
      const run = async (query: string) => {
        const { parse, validate, contextFactory, execute, schema } = yoga.getEnveloped({});
        const document = parse(query);
        assert.deepEqual(validate(schema, document), []);
        const contextValue = (await contextFactory()) as unknown as RequestContext;
        const result = (await execute({ schema, document, contextValue })) as { errors?: unknown[] };
        assert.equal(result.errors, undefined, JSON.stringify(result.errors));
        return contextValue.stats.lookups;
      };
      const deployments = sim.list("deployments").length;
      const replicaSets = sim.list("replicasets").filter((rs) => rs.metadata.ownerReferences?.length).length;
      const topology = `deployments(first: 1000) { nodes { replicaSets { pods { name } } } }`;
      assert.equal(await run(`{ ${topology} }`), deployments + replicaSets);
      assert.equal(await run(`{ a: ${topology} b: ${topology} }`), deployments + replicaSets);
      // Deployment.pods reads the same ReplicaSet and Pod buckets: nothing more to look up.
      assert.equal(
        await run(`{ a: ${topology} b: deployments(first: 1000) { nodes { pods { name } } } }`),
        deployments + replicaSets,
      );
    } finally {
      await gateway.stop();
      await sim.stop();
    }
  });
});

describe("cached orders", () => {
  const cm = (name: string, created: string, rv: string): KubeObject => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name,
      namespace: "default",
      uid: `${name}-${rv}`,
      resourceVersion: rv,
      creationTimestamp: created,
    },
  });
  /** A store of "a" (older) and "b"; the names of the newest `first` (all by default). */
  function twoConfigMaps() {
    const store = new Store(defaultIndexers("configmaps"));
    store.upsert(cm("a", "2026-01-01T00:00:00Z", "1"));
    store.upsert(cm("b", "2026-01-02T00:00:00Z", "2"));
    const lister = new Lister(store);
    const newest = (first?: number): string[] =>
      connectionFrom(lister, sortedKeys(store), true, {
        first,
        orderBy: { field: "CREATION_TIMESTAMP", direction: "DESC" },
      }).nodes.map((o) => o.metadata.name);
    return { store, newest };
  }

  it("an object recreated under the same key (a relist's update) is reordered, not served stale", () => {
    const { store, newest } = twoConfigMaps();
    assert.deepEqual(newest(), ["b", "a"]);
    // Same key, same set of keys, a newer creationTimestamp: an update as far as the store knows.
    assert.equal(store.upsert(cm("a", "2026-01-03T00:00:00Z", "3"))?.type, "MODIFIED");
    assert.deepEqual(newest(), ["a", "b"]);
  });

  it("a recreated object outside the page asked for still moves into it", () => {
    const { store, newest } = twoConfigMaps();
    assert.deepEqual(newest(1), ["b"]);
    // "a" is recreated as the newest: the page ["b"] itself is unchanged, but it is no longer first.
    store.upsert(cm("a", "2026-01-03T00:00:00Z", "3"));
    assert.deepEqual(newest(1), ["a"]);
  });
});
