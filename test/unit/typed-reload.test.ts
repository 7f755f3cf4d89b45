// The schema swap behind typed resources (--resources), on the simulator through real HTTP: a
// query re-run with the same text after the typed schema changed runs against the new schema
// (compiled queries are kept per schema, not per document), a removed resource's field gets a
// validation error saying why, and a subscription opened before the changes keeps streaming.
// The typed schemas are built from OpenAPI documents given here (the simulator publishes none).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ApiResource } from "../../src/informers/discovery.ts";
import { SharedInformerFactory } from "../../src/informers/factory.ts";
import type { KubeObject } from "../../src/informers/types.ts";
import { Gateway } from "../../src/resolvers/gateway.ts";
import type { SandboxCluster } from "../../src/sandbox/index.ts";
import { schemaNames } from "../../src/schema/index.ts";
import { createApp } from "../../src/server/app.ts";
import { startServer } from "../../src/server/http.ts";
import type { OpenApiSchema } from "../../src/typed/openapi.ts";
import type { TypedResources } from "../../src/typed/registry.ts";
import { type TypedSchema, typedSchema } from "../../src/typed/types.ts";
import { type Collected, gql, subscribe } from "../helpers/kgql.ts";
import { clientFor, eventually, startSandbox, WIDGETS } from "../helpers/sandbox.ts";

const widgets: ApiResource = {
  ...WIDGETS,
  verbs: ["list", "watch"],
  shortNames: [],
  singularName: "widget",
  preferred: true,
};

/** The typed schema of widgets with this spec schema (none: widgets not served). */
function typed(spec?: OpenApiSchema): TypedSchema {
  if (!spec) return typedSchema([], new Map(), schemaNames());
  const doc = {
    components: {
      schemas: {
        "com.example.v1.Widget": {
          type: "object",
          properties: { spec },
          "x-kubernetes-group-version-kind": [{ group: "example.com", version: "v1", kind: "Widget" }],
        },
      },
    },
  };
  return typedSchema([widgets], new Map([["apis/example.com/v1", doc]]), schemaNames());
}

/** What the app reads of TypedResources, driven by the test. */
class Typed {
  schema: TypedSchema;
  private readonly listeners = new Set<(s: TypedSchema) => void>();
  private gone: string | undefined;
  constructor(schema: TypedSchema) {
    this.schema = schema;
  }
  current = () => this.schema;
  onChange = (l: (s: TypedSchema) => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };
  removedField = (name: string) => (this.gone && name === "widgets" ? this.gone : undefined);
  set(next: TypedSchema, gone?: string) {
    this.schema = next;
    this.gone = gone;
    for (const l of this.listeners) l(next);
  }
}

describe("typed resources: the schema follows changes without a restart", () => {
  let sim: SandboxCluster;
  let gateway: Gateway;
  let server: Awaited<ReturnType<typeof startServer>>;
  const fake = new Typed(
    typed({ type: "object", properties: { size: { "x-kubernetes-int-or-string": true } } }),
  );
  const query = `{ widgets(namespace: "team-1") { nodes { name spec { size } } } }`;

  before(async () => {
    sim = await startSandbox();
    sim.registerResource(WIDGETS);
    sim.create("namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "team-1", uid: "", resourceVersion: "" },
    });
    sim.create("widgets.example.com", {
      apiVersion: "example.com/v1",
      kind: "Widget",
      metadata: { name: "w1", namespace: "team-1", uid: "", resourceVersion: "" },
      spec: { size: 3 },
    } as KubeObject);
    gateway = new Gateway(new SharedInformerFactory(await clientFor(sim)));
    gateway.start();
    const yoga = createApp(gateway, { typed: fake as unknown as TypedResources });
    server = await startServer(yoga, gateway, undefined, { host: "127.0.0.1", port: 0 });
  });
  after(async () => {
    await server.close({ endStreams: () => gateway.stop() });
    await sim.stop();
  });

  let stream: Collected;
  it("typed fields are served, and a typed subscription streams", async () => {
    const r = await gql(server.url, query);
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    assert.deepEqual(r.data.widgets.nodes, [{ name: "w1", spec: { size: 3 } }]);
    const fleet = await gql(
      server.url,
      `{ widgets(cluster: "*", namespace: "team-1") { nodes { cluster name } unsyncedClusters } }`,
    );
    assert.equal(fleet.errors, undefined, JSON.stringify(fleet.errors));
    assert.deepEqual(fleet.data.widgets, {
      nodes: [{ cluster: "default", name: "w1" }],
      unsyncedClusters: [],
    });
    stream = subscribe(
      "sse",
      server.url,
      `subscription { widgetEvents(namespace: "team-1") { type object { name spec { size } } } }`,
    );
    await eventually(() => gateway.subscriberCount() === 1, "the subscription to start");
  });

  it("after a change, the same query text runs against the new schema", async () => {
    // size becomes a string: a plan compiled for the old schema would still answer 3.
    fake.set(typed({ type: "object", properties: { size: { type: "string" } } }));
    const r = await gql(server.url, query);
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    assert.deepEqual(r.data.widgets.nodes, [{ name: "w1", spec: { size: "3" } }]);
  });

  it("a removed resource's field gets a clear validation error; the open stream goes on", async () => {
    fake.set(
      typed(),
      "widgets.example.com is no longer served by the cluster (its CustomResourceDefinition was removed or changed)",
    );
    const r = await gql(server.url, query);
    assert.equal(r.errors?.[0]?.extensions?.code, "GRAPHQL_VALIDATION_FAILED", JSON.stringify(r));
    assert.ok(
      r.errors!.some((e) => /^widgets: widgets\.example\.com is no longer served/.test(e.message)),
      JSON.stringify(r.errors),
    );
    const w = sim.list("widgets.example.com", "team-1")[0]!;
    sim.update("widgets.example.com", { ...w, spec: { size: 4 } } as KubeObject);
    await eventually(() => stream.events.some((e) => e.type === "MODIFIED"), "the change on the open stream");
    assert.deepEqual(stream.events.find((e) => e.type === "MODIFIED").object, {
      name: "w1",
      spec: { size: 4 },
    });
    assert.deepEqual(stream.errors, []);
    assert.equal(stream.done, false);
    stream.stop();
  });
});
