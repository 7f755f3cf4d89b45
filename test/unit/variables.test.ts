// Variables that do not fit their declared types are refused with graphql-js's messages (where
// the bad value is, what the type allows) and BAD_USER_INPUT, for queries and subscriptions.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SandboxCluster, seedDemo } from "../../src/sandbox/index.ts";
import type { GatewayServer } from "../../src/server/index.ts";
import { gql, startKgqlOn, subscribe } from "../helpers/kgql.ts";
import { eventually } from "../helpers/sandbox.ts";

describe("variables of the wrong type", () => {
  let sim: SandboxCluster;
  let kgql: GatewayServer;
  before(async () => {
    sim = new SandboxCluster();
    await sim.start();
    seedDemo(sim);
    kgql = await startKgqlOn(sim);
  });
  after(async () => {
    await kgql.close();
    await sim.stop();
  });

  it("name the variable and the path inside it, and what the type allows", async () => {
    const orderBy = "query($o: OrderBy) { pods(orderBy: $o) { totalCount } }";
    const field = await gql(kgql.url, orderBy, { o: { field: "X" } });
    assert.equal(field.errors?.length, 1);
    assert.match(
      field.errors![0]!.message,
      /^Variable "\$o" got invalid value "X" at "o\.field"; Value "X" does not exist in "OrderField" enum/,
    );
    assert.equal(field.errors![0]!.extensions?.code, "BAD_USER_INPUT");
    const direction = await gql(kgql.url, orderBy, { o: { field: "NAME", direction: "UP" } });
    assert.match(direction.errors![0]!.message, /^Variable "\$o" got invalid value "UP" at "o\.direction"/);
    const missing = await gql(kgql.url, "query($n: Int!) { pods(first: $n) { totalCount } }", {});
    assert.match(missing.errors![0]!.message, /^Variable "\$n" of required type "Int!" was not provided/);
    assert.equal(missing.errors![0]!.extensions?.code, "BAD_USER_INPUT");
    // Fitting variables are answered.
    const ok = await gql(kgql.url, orderBy, { o: { field: "NAME", direction: "DESC" } });
    assert.equal(ok.errors, undefined);
    assert.equal(ok.data.pods.totalCount, sim.list("pods").length);
  });

  for (const transport of ["sse", "ws"] as const) {
    it(`a subscription's are refused the same way over ${transport}`, async () => {
      const sub = subscribe(
        transport,
        kgql.url,
        "subscription($ns: String) { podEvents(namespace: $ns) { type } }",
        { ns: 5 },
      );
      try {
        await eventually(() => sub.errors.length > 0, "the refusal");
        const raw = sub.errors[0] as unknown;
        const error = (Array.isArray(raw) ? raw[0] : raw) as {
          message: string;
          extensions?: { code?: string };
        };
        assert.match(
          error.message,
          /^Variable "\$ns" got invalid value 5; String cannot represent a non string value/,
        );
        assert.equal(error.extensions?.code, "BAD_USER_INPUT");
      } finally {
        sub.stop();
      }
    });
  }
});
