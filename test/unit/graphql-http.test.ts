// The HTTP side: the fast path for plain JSON POSTs answers exactly as yoga does, body limits
// hold for chunked bodies, CORS is closed unless origins are allowed, unexpected errors stay
// masked, and /healthz, /readyz, /metrics answer.
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import { SandboxCluster, seedDemo } from "../../src/sandbox/index.ts";
import type { GatewayServer } from "../../src/server/index.ts";
import { limitRejections, startKgqlOn } from "../helpers/kgql.ts";
import { RawConnection, rawRequest } from "../helpers/raw-http.ts";

/** POSTs a body; `accept` picks the path: plain JSON is the fast path, the GraphQL media type is yoga's. */
async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

describe("HTTP", () => {
  let sim: SandboxCluster;
  let kgql: GatewayServer;
  before(async () => {
    sim = new SandboxCluster();
    await sim.start();
    seedDemo(sim, { namespaces: 2, nodes: 2, deploymentsPerNamespace: 2, replicas: 2 });
    kgql = await startKgqlOn(sim, { corsOrigins: ["https://portal.example"] });
  });
  after(async () => {
    await kgql.close();
    await sim.stop();
  });

  it("the fast path answers exactly as yoga: data, variables, operationName, errors", async () => {
    const bodies: unknown[] = [
      {
        query: `{ deployments { totalCount nodes { name replicaSets { pods { name phase node { name } } } } } }`,
      },
      {
        query: `query($ns: String!) { pods(namespace: $ns, first: 2) { edges { cursor node { name } } } }`,
        variables: { ns: "team-1" },
      },
      { query: `query A { nodes { totalCount } } query B { namespaces { name } }`, operationName: "B" },
      { query: `{ pods(labelSelector: "app in (a") { totalCount } }` },
      { query: `{ pod(namespace: "nope", name: "x") { name } }` },
      { query: `query($n: Int) { pods(first: $n) { totalCount } }`, variables: { n: "many" } },
      { query: `{ pods { nope } }` },
      { query: `{ pods { ` },
      { query: `mutation { x }` },
      { nope: 1 },
      "not json",
    ];
    for (const body of bodies) {
      const fast = await post(kgql.url, body);
      const yoga = await post(kgql.url, body, { accept: "application/json, text/html" });
      assert.equal(fast.status, yoga.status, JSON.stringify(body));
      assert.ok(fast.status < 500, `${fast.status} for ${JSON.stringify(body)}: ${fast.text}`);
      assert.equal(
        fast.text.replace(/"synced":\w+/, ""),
        yoga.text.replace(/"synced":\w+/, ""),
        JSON.stringify(body),
      );
      assert.equal(fast.headers.get("content-type"), "application/json; charset=utf-8");
    }
    const ok = JSON.parse((await post(kgql.url, bodies[0])).text);
    assert.equal(ok.data.deployments.totalCount, sim.list("deployments").length);
    assert.equal(
      JSON.parse((await post(kgql.url, bodies[3])).text).errors[0].extensions.code,
      "BAD_USER_INPUT",
    );
  });

  it("a syntax error is GRAPHQL_PARSE_FAILED however it arrives, also once its document is cached", async () => {
    const query = "{ pods(first: 1 { totalCount } }";
    const answers = [
      await post(kgql.url, { query }), // the fast path's candidate, answered by yoga
      await post(kgql.url, { query }), // the same text again: the parse cache's error
      await post(kgql.url, { query }, { origin: "https://portal.example" }), // yoga's path only
    ];
    for (const r of answers) {
      const error = JSON.parse(r.text).errors[0];
      assert.match(error.message, /^Syntax Error: Expected Name, found "\{"/);
      assert.equal(error.extensions?.code, "GRAPHQL_PARSE_FAILED", r.text);
    }
  });

  it("a chunked body over the limit gets 413, and the server keeps serving", async () => {
    const url = new URL(kgql.url);
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: "POST",
          headers: { "content-type": "application/json" },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
      const chunk = Buffer.alloc(64 * 1024, " ");
      for (let i = 0; i < 20; i++) req.write(chunk); // 1.3 MB, no content-length
      req.end();
    });
    assert.equal(status, 413);
    assert.equal(await limitRejections(kgql.url, "maxBodyBytes"), 1, "counted as a limit rejection");
    assert.equal((await post(kgql.url, { query: "{ nodes { totalCount } }" })).status, 200);
  });

  it("a body cut short (the client stops sending) is answered 408 within --request-timeout, not after node's 300 s", async () => {
    const short = await startKgqlOn(sim, { requestTimeoutMs: 1000 });
    const conn = await RawConnection.open(short.port);
    try {
      const started = Date.now();
      const head = rawRequest("POST", "/graphql", [
        ["Content-Type", "application/json"],
        ["Content-Length", "100"],
      ]);
      const answer = await conn.exchange([head, '{"query":'], { timeoutMs: 5000 });
      assert.equal(answer.responses[0]?.status, 408, JSON.stringify(answer));
      assert.ok(Date.now() - started < 4000, `answered after ${Date.now() - started} ms`);
      assert.notEqual(await conn.waitForEnd(2000), "open", "the connection is closed");
    } finally {
      conn.close();
      await short.close();
    }
  });

  it("CORS: only the allowed origins get access-control headers", async () => {
    const query = { query: "{ nodes { totalCount } }" };
    const allowed = await post(kgql.url, query, { origin: "https://portal.example" });
    assert.equal(allowed.headers.get("access-control-allow-origin"), "https://portal.example");
    // Another origin is never named (browsers then refuse the page the response).
    const other = await post(kgql.url, query, { origin: "https://evil.example" });
    assert.notEqual(other.headers.get("access-control-allow-origin"), "https://evil.example");
    assert.notEqual(other.headers.get("access-control-allow-origin"), "*");
    const preflight = await fetch(kgql.url, {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
    });
    assert.notEqual(preflight.headers.get("access-control-allow-origin"), "https://evil.example");
  });

  it("unexpected errors are masked on both paths; user errors are not", async () => {
    const lister = kgql.gateway.informer("Pod").lister;
    const original = lister.byIndex;
    lister.byIndex = () => {
      throw new Error("internal detail that must not leak");
    };
    try {
      for (const accept of ["application/json", "application/graphql-response+json"]) {
        const r = await post(
          kgql.url,
          { query: `{ node(name: "node-0") { name pods { name } } }` },
          { accept },
        );
        assert.ok(!r.text.includes("internal detail"), r.text);
        const body = JSON.parse(r.text);
        assert.equal(body.errors[0].message, "Unexpected error.");
        assert.deepEqual(body.errors[0].path, ["node", "pods"]);
      }
    } finally {
      lister.byIndex = original;
    }
  });

  it("/healthz, /readyz and /metrics", async () => {
    const base = kgql.url.replace("/graphql", "");
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    await post(kgql.url, { query: "query Topology { deployments { totalCount } }" });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, new RegExp(`kgql_cache_objects\\{kind="Pod"\\} ${sim.list("pods").length}`));
    assert.match(metrics, /kgql_cache_relists_total\{kind="Pod"\} 0/);
    assert.match(metrics, /kgql_request_duration_seconds_count\{operation="Topology"\} 1/);
  });
});
