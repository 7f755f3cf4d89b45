// Big queries take turns and let small ones through in between (src/server/big-query-lane.ts).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { DocumentNode } from "graphql";
import { SharedInformerFactory } from "../../src/informers/factory.ts";
import { Gateway } from "../../src/resolvers/gateway.ts";
import { SandboxCluster, seedDemo } from "../../src/sandbox/index.ts";
import { createApp } from "../../src/server/app.ts";
import { Lane } from "../../src/server/big-query-lane.ts";
import { clientFor } from "../helpers/sandbox.ts";

describe("big query lane", () => {
  it("one holder at a time, in arrival order; work queued meanwhile runs before the next holder", async () => {
    const lane = new Lane();
    const order: string[] = [];
    await lane.acquire();
    order.push("A");
    const b = lane.acquire().then(() => order.push("B"));
    const c = lane.acquire().then(() => order.push("C"));
    assert.equal(lane.queued, 2);
    await Promise.resolve();
    assert.deepEqual(order, ["A"], "B and C wait while A holds the lane");
    // Stands for a small request that arrived while A ran: it is handled before B starts.
    setImmediate(() => order.push("small"));
    lane.release();
    await b;
    lane.release();
    await c;
    lane.release();
    assert.deepEqual(order, ["A", "small", "B", "C"]);
    await new Promise((r) => setImmediate(r));
    await lane.acquire(); // free again: immediate
    assert.equal(lane.queued, 0);
  });

  describe("in the GraphQL app", () => {
    let sim: SandboxCluster;
    let gateway: Gateway;
    before(async () => {
      sim = new SandboxCluster();
      await sim.start();
      seedDemo(sim, { namespaces: 2, nodes: 2, deploymentsPerNamespace: 2, replicas: 3 });
      gateway = new Gateway(new SharedInformerFactory(await clientFor(sim)));
      gateway.start();
      await gateway.factory.waitForCacheSync(5000);
    });
    after(async () => {
      await gateway.stop();
      await sim.stop();
    });

    /**
     * Starts four executions of a known big document, then one of a new small document, all in
     * the same turn, and returns the order they finished in.
     */
    async function finishOrder(bigQueryMs: number): Promise<string[]> {
      const yoga = createApp(gateway, { bigQueryMs });
      const { parse, validate, contextFactory, execute, schema } = yoga.getEnveloped({});
      const big = parse(`{ deployments { nodes { name replicaSets { name pods { name phase } } } } }`);
      const small = parse(`{ nodes { totalCount } }`);
      assert.deepEqual([...validate(schema, big), ...validate(schema, small)], []);
      const run = async (document: DocumentNode) => {
        const result = (await execute({ schema, document, contextValue: await contextFactory() })) as {
          errors?: unknown[];
        };
        assert.equal(result.errors, undefined, JSON.stringify(result.errors));
      };
      await run(big); // the lane learns how long it takes
      await run(small); // starts the node cache
      const order: string[] = [];
      const bigs = [1, 2, 3, 4].map((i) => run(big).then(() => order.push(`big${i}`)));
      // Another text: a new document to the lane (parse results are cached per text).
      const newSmall = parse(`{ nodes { totalCount __typename } }`);
      const smallDone = run(newSmall).then(() => order.push("small"));
      await Promise.all([...bigs, smallDone]);
      return order;
    }

    it("a small query started after four big ones finishes first; the big ones keep their order", async () => {
      // bigQueryMs 0: every document run before counts as big, so the test needs no timing.
      assert.deepEqual(await finishOrder(0), ["small", "big1", "big2", "big3", "big4"]);
    });

    it("waiting for a turn counts against the request timeout, and a timed-out wait hands the lane on", async () => {
      const yoga = createApp(gateway, { bigQueryMs: 0, requestTimeoutMs: 1 });
      const { parse, contextFactory, execute, schema } = yoga.getEnveloped({});
      const big = parse(`{ deployments { nodes { name } } }`);
      const run = async (deadline: "spent" | "none") => {
        const contextValue = (await contextFactory()) as { deadline?: unknown };
        if (deadline === "none") contextValue.deadline = undefined;
        else await new Promise((r) => setTimeout(r, 10)); // the 1 ms limit is spent
        return (await execute({ schema, document: big, contextValue })) as {
          data?: unknown;
          errors?: { message: string; extensions?: Record<string, unknown> }[];
        };
      };
      assert.equal((await run("none")).errors, undefined); // learned: big from now on
      const late = await run("spent");
      assert.equal(late.errors?.[0]?.extensions?.limit, "requestTimeout", JSON.stringify(late));
      assert.match(late.errors![0]!.message, /waiting for its turn among big queries/);
      // The lane was not left taken: the next big query runs.
      const next = await run("none");
      assert.equal(next.errors, undefined, JSON.stringify(next.errors));
      assert.ok(next.data);
    });

    it("without the lane (threshold never reached) they finish in the order they started", async () => {
      // The control for the test above: it shows the order is the lane's doing.
      assert.deepEqual(await finishOrder(Number.POSITIVE_INFINITY), [
        "big1",
        "big2",
        "big3",
        "big4",
        "small",
      ]);
    });
  });
});
