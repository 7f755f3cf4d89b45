// The cost limit's plan cache holds one plan per operation of a document, whatever operation
// names clients send: made-up names compile nothing and keep nothing, real ones hit.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "graphql";
import type { Gateway } from "../../src/resolvers/gateway.ts";
import { buildSchema } from "../../src/resolvers/index.ts";
import { estimateCost, planStats } from "../../src/server/cost.ts";

const schema = buildSchema();

/** A gateway whose caches hold 50 objects of every kind asked for. */
const gateway = {
  informer: (kind: string) => ({
    resource: { kind, group: "", version: "v1", resource: kind.toLowerCase() },
    store: { size: 50, hasIndex: () => false, indexKeys: () => ({ size: 50 }) },
  }),
  factory: { informers: () => [] },
} as unknown as Gateway;

describe("cost plan cache", () => {
  it("10,000 made-up operation names add no plan; repeated queries hit", () => {
    const document = parse(`
      query Pods { pods(first: 10) { nodes { name } } }
      query Nodes { nodes { nodes { name } } }
    `);
    const before = planStats.compiled;
    const pods = () => estimateCost(gateway, schema, document, undefined, "Pods").cost;
    assert.equal(pods(), 10);
    assert.equal(estimateCost(gateway, schema, document, undefined, "Nodes").cost, 50);
    assert.equal(planStats.compiled - before, 2, "one plan per operation");

    for (let i = 0; i < 10_000; i++) {
      assert.equal(estimateCost(gateway, schema, document, undefined, `made-up-${i}`).cost, 0);
    }
    assert.equal(planStats.compiled - before, 2, "plans (cache entries) after 10,000 made-up names");

    for (let i = 0; i < 100; i++) assert.equal(pods(), 10);
    assert.equal(planStats.compiled - before, 2, "repeated queries compile nothing: they hit");
  });

  it("a single anonymous operation is planned once, with or without the name it does not have", () => {
    const document = parse("{ pods(first: 7) { nodes { name } } }");
    const before = planStats.compiled;
    for (let i = 0; i < 10; i++) assert.equal(estimateCost(gateway, schema, document, undefined).cost, 7);
    assert.equal(estimateCost(gateway, schema, document, undefined, "Other").cost, 0);
    assert.equal(planStats.compiled - before, 1);
  });
});
