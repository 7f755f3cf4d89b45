// Errors sent over WebSocket (graphql-ws) carry no yoga internals: yoga strips extensions.http
// (the status it would answer with) and extensions.unexpected from HTTP responses; graphql-ws
// sent them as they were (a mutation's validation error showed {http: {spec: true, status: 400}}).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Client, createClient } from "graphql-ws";
import WebSocket from "ws";
import { SandboxCluster, seedDemo } from "../../src/sandbox/index.ts";
import type { GatewayServer } from "../../src/server/index.ts";
import { startKgqlOn } from "../helpers/kgql.ts";

describe("errors over WebSocket", () => {
  let sim: SandboxCluster;
  let kgql: GatewayServer;
  before(async () => {
    sim = new SandboxCluster();
    await sim.start();
    seedDemo(sim, { namespaces: 1, nodes: 1, deploymentsPerNamespace: 1, replicas: 1 });
    kgql = await startKgqlOn(sim);
  });
  after(async () => {
    await kgql?.close();
    await sim?.stop();
  });

  const wsClient = (): Client =>
    createClient({ url: kgql.url.replace(/^http/, "ws"), webSocketImpl: WebSocket, retryAttempts: 0 });

  it("errors over WebSocket carry no yoga internals (extensions.http)", async () => {
    const client = wsClient();
    try {
      for (const query of [
        "mutation { deleteEverything }",
        "{ noSuchField }",
        "subscription { noSuchEvents }",
      ]) {
        const errors = await new Promise<unknown>((resolve, reject) => {
          client.subscribe(
            { query },
            { next: () => {}, error: resolve, complete: () => reject(new Error(`${query}: no error`)) },
          );
        });
        assert.ok(Array.isArray(errors) && errors.length > 0, `${query}: ${JSON.stringify(errors)}`);
        for (const error of errors as { message: string; extensions?: Record<string, unknown> }[]) {
          assert.ok(error.message, query);
          assert.equal(error.extensions?.http, undefined, `${query}: ${JSON.stringify(error)}`);
          assert.equal(error.extensions?.unexpected, undefined, query);
        }
      }
      // A mutation's error says why.
      const mutation = await new Promise<{ message: string }[]>((resolve, reject) => {
        client.subscribe(
          { query: "mutation { deleteEverything }" },
          {
            next: () => {},
            error: (e) => resolve(e as never),
            complete: () => reject(new Error("no error")),
          },
        );
      });
      assert.match(mutation[0]!.message, /kgql has no mutations/);
      // A result's errors (next messages) too: an unexpected error, masked by yoga, is marked
      // extensions.unexpected for yoga's own use.
      const discovery = kgql.gateway.factory.discovery as unknown as { resources: unknown };
      const resources = discovery.resources;
      discovery.resources = async () => {
        throw new Error("discovery exploded");
      };
      try {
        const result = await new Promise<{ errors?: { message: string; extensions?: object }[] }>(
          (resolve, reject) => {
            let last: unknown;
            client.subscribe(
              { query: "{ apiResources { resource } }" },
              { next: (v) => (last = v), error: reject, complete: () => resolve(last as never) },
            );
          },
        );
        assert.equal(result.errors?.length, 1, JSON.stringify(result));
        assert.deepEqual(
          result.errors?.map((e) => [e.message, e.extensions]),
          [["Unexpected error.", { code: "INTERNAL_SERVER_ERROR" }]],
        );
      } finally {
        discovery.resources = resources;
      }
    } finally {
      await client.dispose();
    }
  });

  it("a syntax error or a document limit is that operation's error; the connection stays open", async () => {
    const closes: number[] = [];
    const client = createClient({
      url: kgql.url.replace(/^http/, "ws"),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      on: { closed: (event) => closes.push((event as { code: number }).code) },
    });
    const outcome = (query: string) =>
      new Promise<{ errors?: { message: string; extensions?: Record<string, unknown> }[]; data?: unknown }>(
        (resolve) => {
          let data: unknown;
          client.subscribe(
            { query },
            {
              next: (v) => (data = v.data),
              error: (e) => resolve({ errors: e as never }),
              complete: () => resolve({ data }),
            },
          );
        },
      );
    try {
      const syntax = await outcome("subscription { podEvents { type }");
      assert.match(syntax.errors?.[0]?.message ?? "", /^Syntax Error/, JSON.stringify(syntax));
      const tooLong = await outcome(`{ ${"pods { totalCount } ".repeat(1300)} }`);
      assert.equal(tooLong.errors?.[0]?.extensions?.limit, "maxTokens", JSON.stringify(tooLong));
      assert.deepEqual(closes, [], "the connection was not closed");
      const ok = await outcome("{ nodes { totalCount } }");
      assert.deepEqual(ok.data, { nodes: { totalCount: sim.list("nodes").length } });
    } finally {
      await client.dispose();
    }
  });

  it("a client breaking the protocol (a message over the size limit) gets 1009, and nothing is printed to the console", async () => {
    const printed: unknown[][] = [];
    const error = console.error;
    console.error = (...args: unknown[]) => {
      printed.push(args);
    };
    try {
      const ws = new WebSocket(kgql.url.replace(/^http/, "ws"), "graphql-transport-ws");
      await new Promise((resolve, reject) => {
        ws.once("open", resolve);
        ws.once("error", reject);
      });
      const closed = new Promise<number>((resolve) => ws.once("close", resolve));
      ws.send("x".repeat(1_100_000));
      assert.equal(await closed, 1009);
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(printed, []);
    } finally {
      console.error = error;
    }
  });
});
