// The hooks that need a request's operation (request log, metrics, cost limit) share one lookup
// (src/server/operation.ts) instead of each walking the document with getOperationAST.
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { test } from "node:test";
import { type DocumentNode, parse } from "graphql";
import { SharedInformerFactory } from "../../src/informers/factory.ts";
import { Gateway } from "../../src/resolvers/gateway.ts";
import { SandboxCluster, seedDemo } from "../../src/sandbox/index.ts";
import { createApp } from "../../src/server/app.ts";
import { Metrics } from "../../src/server/metrics.ts";
import { startRecord } from "../../src/server/request-log.ts";
import { clientFor } from "../helpers/sandbox.ts";

/** The document, counting how often getOperationAST reads its definitions. */
function counted(document: DocumentNode): { document: DocumentNode; lookups: () => number } {
  let n = 0;
  const definitions = document.definitions;
  const wrapped = {
    ...document,
    get definitions() {
      if (new Error().stack?.includes("getOperationAST")) n++;
      return definitions;
    },
  };
  return { document: wrapped, lookups: () => n };
}

test("one operation lookup per request with the request log, metrics and the cost limit all on", async () => {
  const sim = new SandboxCluster();
  await sim.start();
  seedDemo(sim, { namespaces: 1, nodes: 1, deploymentsPerNamespace: 1, replicas: 1 });
  const gateway = new Gateway(new SharedInformerFactory(await clientFor(sim)));
  gateway.start();
  try {
    await gateway.factory.waitForCacheSync(5000);
    const quiet = { info() {}, warn() {}, debug() {} };
    const yoga = createApp(gateway, { log: quiet, metrics: new Metrics(gateway) });
    const req = { headers: {} } as IncomingMessage;
    const record = startRecord(req);
    const { schema, execute, contextFactory } = yoga.getEnveloped({ req });
    const { document, lookups } = counted(
      parse(`query Nodes($n: Int = 5) { nodes(first: $n) { totalCount } }`),
    );
    const result = (await execute({ schema, document, contextValue: await contextFactory() })) as {
      errors?: unknown[];
    };
    assert.equal(result.errors, undefined, JSON.stringify(result.errors));
    assert.equal(record.operation, "Nodes", "the request log has the operation");
    assert.equal(lookups(), 1, "getOperationAST calls");
  } finally {
    await gateway.stop();
    await sim.stop();
  }
});
