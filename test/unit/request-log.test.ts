// The request log plugin fills request records for the log lines only a logger writes: without
// a logger it is not installed, and nothing is recorded.
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { test } from "node:test";
import { parse } from "graphql";
import { SharedInformerFactory } from "../../src/informers/factory.ts";
import { Gateway } from "../../src/resolvers/gateway.ts";
import { SandboxCluster } from "../../src/sandbox/index.ts";
import { type AppOptions, createApp } from "../../src/server/app.ts";
import { type RequestRecord, startRecord } from "../../src/server/request-log.ts";
import { clientFor } from "../helpers/sandbox.ts";

test("request records are filled only when there is a logger", async () => {
  const sim = new SandboxCluster();
  await sim.start();
  // Validation needs the schema only: the gateway is never started.
  const gateway = new Gateway(new SharedInformerFactory(await clientFor(sim)));
  /** The record of a request whose document fails validation. */
  const recordOfInvalid = (opts: AppOptions): RequestRecord => {
    const req = { headers: {} } as IncomingMessage;
    const record = startRecord(req);
    const { schema, validate } = createApp(gateway, opts).getEnveloped({ req });
    assert.notDeepEqual(validate(schema, parse("{ noSuchField }")), []);
    return record;
  };
  try {
    const quiet = { info() {}, warn() {}, debug() {} };
    assert.deepEqual(recordOfInvalid({ log: quiet }).errors, ["GRAPHQL_VALIDATION_FAILED"]);
    assert.equal(recordOfInvalid({}).errors, undefined, "nothing recorded without a logger");
  } finally {
    await gateway.stop();
    await sim.stop();
  }
});
