// Requests yoga cannot take GraphQL parameters from are answered with an error that says why:
// GET and form parameters (variables, extensions) that are not valid JSON are a 400
// BAD_USER_INPUT naming the parameter (they were a masked 500 "Unexpected error."), and a POST
// in a content type no parser takes is a 415 that lists the accepted ones (its body was empty).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SandboxCluster, seedDemo } from "../../src/sandbox/index.ts";
import type { GatewayServer } from "../../src/server/index.ts";
import { startKgqlOn } from "../helpers/kgql.ts";
import { captureLog } from "../helpers/log.ts";

describe("request parse errors", () => {
  let sim: SandboxCluster;
  let kgql: GatewayServer;
  const { logger, linesOf } = captureLog();

  before(async () => {
    sim = new SandboxCluster();
    await sim.start();
    seedDemo(sim, { namespaces: 1, nodes: 1, deploymentsPerNamespace: 1, replicas: 1 });
    kgql = await startKgqlOn(sim, { logger });
  });
  after(async () => {
    await kgql?.close();
    await sim?.stop();
  });

  const get = (params: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(`${kgql.url}?${new URLSearchParams(params)}`, {
      headers: { accept: "application/json", ...headers },
    });

  it("GET and form parameters that are not valid JSON: 400 BAD_USER_INPUT naming the parameter", async () => {
    const query = "{ namespaces { name } }";
    const cases: [string, () => Promise<Response>, string][] = [
      ["GET variables", () => get({ query, variables: "{bad" }), "variables"],
      ["GET extensions", () => get({ query, extensions: "{bad" }), "extensions"],
      [
        "form POST variables",
        () =>
          fetch(kgql.url, {
            method: "POST",
            headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
            body: new URLSearchParams({ query, variables: "{bad" }).toString(),
          }),
        "variables",
      ],
    ];
    for (const [name, send, param] of cases) {
      const res = await send();
      const text = await res.text();
      assert.equal(res.status, 400, `${name}: ${text}`);
      const body = JSON.parse(text);
      assert.equal(body.errors.length, 1, name);
      assert.match(body.errors[0].message, new RegExp(`"${param}" parameter is not valid JSON`), name);
      assert.deepEqual(body.errors[0].extensions, { code: "BAD_USER_INPUT" }, name);
      const logged = await linesOf(res.headers.get("x-request-id"));
      assert.deepEqual(logged.find((l) => l.msg === "request")?.errors, ["BAD_USER_INPUT"], name);
      assert.equal(logged.filter((l) => l.level === "warn").length, 0, `${name}: not an unexpected error`);
    }
    // A GET subscription over SSE: the same error, in the stream's framing.
    const sse = await get(
      { query: "subscription { podEvents { type } }", variables: "{bad" },
      { accept: "text/event-stream" },
    );
    const frames = await sse.text();
    assert.equal(sse.status, 400, frames);
    assert.match(frames, /"variables\\" parameter is not valid JSON/);
    assert.match(frames, /BAD_USER_INPUT/);
    // Valid JSON still works, on both.
    const ok = await get({
      query: "query($n: String!) { namespace(name: $n) { name } }",
      variables: '{"n":"default"}',
    });
    assert.equal(ok.status, 200);
    assert.deepEqual((await ok.json()).data, { namespace: { name: "default" } });
    const form = await fetch(kgql.url, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded; charset=utf-8",
        accept: "application/json",
      },
      body: new URLSearchParams({ query: "{ namespaces { name } }", operationName: "" }).toString(),
    });
    assert.equal(form.status, 200, await form.clone().text());
    assert.ok((await form.json()).data.namespaces.length > 0);
  });

  it("a content type no parser takes (or none): 415 with an error listing the accepted ones", async () => {
    const body = JSON.stringify({ query: "{ namespaces { name } }" });
    for (const type of ["text/plain", "application/xml", undefined]) {
      const res = await fetch(kgql.url, {
        method: "POST",
        headers: { accept: "application/json", ...(type ? { "content-type": type } : {}) },
        // Bytes: fetch gives no content type of its own.
        body: new TextEncoder().encode(body),
      });
      const text = await res.text();
      assert.equal(res.status, 415, `${type}: ${text}`);
      assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
      const error = JSON.parse(text).errors?.[0];
      assert.match(error?.message ?? "", type ? new RegExp(`"${type}"`) : /no content type/);
      for (const accepted of ["application/json", "application/x-www-form-urlencoded", "application/graphql"])
        assert.ok(error.message.includes(accepted), `${type}: names ${accepted}: ${error.message}`);
      assert.equal(error.extensions?.code, "BAD_REQUEST");
      assert.equal(error.extensions?.http, undefined);
    }
    // Other methods are still yoga's 405.
    const put = await fetch(kgql.url, { method: "PUT", headers: { "content-type": "text/plain" }, body });
    assert.equal(put.status, 405, await put.text());
  });
});
