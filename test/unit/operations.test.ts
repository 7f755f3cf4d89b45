// Operations: the per-request timeout, request ids in the logs and responses (fast path and
// yoga), /metrics, configuration by flags and environment variables, graceful shutdown.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ConfigError, envName, helpText, OPTIONS, parseConfig } from "../../src/config.ts";
import { SandboxCluster, seedDemo } from "../../src/sandbox/index.ts";
import { gql, startKgql, startKgqlOn, subscribe } from "../helpers/kgql.ts";
import { captureLog } from "../helpers/log.ts";
import { clientFor, WIDGETS } from "../helpers/sandbox.ts";

async function withSandbox(fn: (sim: SandboxCluster) => Promise<void>): Promise<void> {
  const sim = new SandboxCluster();
  await sim.start();
  try {
    await fn(sim);
  } finally {
    await sim.stop();
  }
}

describe("per-request timeout", () => {
  it("a query waiting for a kind's sync is answered at the request timeout, naming the limit", async () => {
    await withSandbox(async (sim) => {
      sim.faults.failNext({ status: 500, resource: "configmaps", count: 100_000 });
      const kgql = await startKgql(await clientFor(sim), { syncTimeoutMs: 20_000, requestTimeoutMs: 300 });
      try {
        const started = Date.now();
        const r = await gql(kgql.url, "{ configMaps { totalCount } }");
        const took = Date.now() - started;
        assert.equal(r.errors?.[0]?.extensions?.code, "LIMIT_EXCEEDED", r.text);
        assert.equal(r.errors?.[0]?.extensions?.limit, "requestTimeout");
        assert.equal(r.errors?.[0]?.extensions?.max, 300);
        assert.match(
          r.errors![0]!.message,
          /ran past the limit of 0.3 s \(requestTimeout\) while waiting for the first sync of ConfigMap/,
        );
        assert.ok(
          took >= 250 && took < 10_000,
          `answered at the timeout (${took} ms), not the 20 s sync timeout`,
        );
        const ok = await gql(kgql.url, "{ nodes { totalCount } }");
        assert.equal(ok.errors, undefined, "other requests are served");
      } finally {
        await kgql.close();
      }
    });
  });

  it("resources(...) of a resource that cannot sync is bounded by the request timeout too", async () => {
    await withSandbox(async (sim) => {
      sim.registerResource(WIDGETS);
      sim.faults.failNext({ status: 500, resource: "widgets.example.com", count: 100_000 });
      const kgql = await startKgqlOn(sim, { syncTimeoutMs: 20_000, requestTimeoutMs: 300 });
      try {
        const r = await gql(
          kgql.url,
          `{ resources(group: "example.com", version: "v1", resource: "widgets") { totalCount } }`,
        );
        assert.equal(r.errors?.[0]?.extensions?.limit, "requestTimeout", r.text);
        assert.match(r.errors![0]!.message, /waiting for the first sync of widgets/);
      } finally {
        await kgql.close();
      }
    });
  });
});

describe("--auth kubernetes when the apiserver does not answer the reviews", () => {
  it("a failed TokenReview or SubjectAccessReview is a 503 with what failed, on both HTTP paths, never a 500", async () => {
    await withSandbox(async (sim) => {
      seedDemo(sim);
      const real = await clientFor(sim);
      let failTokenReview = true;
      // The sandbox serves no reviews: stand in for an apiserver that answers the TokenReview
      // and refuses the SubjectAccessReview (kgql's role lacks create on it).
      const client = new Proxy(real, {
        get(target, prop, receiver) {
          if (prop !== "postJSON") return Reflect.get(target, prop, receiver);
          return async (path: string) => {
            if (path.includes("tokenreviews")) {
              if (failTokenReview)
                throw Object.assign(new Error("connect ECONNREFUSED 10.96.0.1:443"), {
                  code: "ECONNREFUSED",
                });
              return { status: { authenticated: true, user: { username: "carol", groups: [] } } };
            }
            throw Object.assign(new Error("forbidden"), { status: 403 });
          };
        },
      });
      const kgqlAuth = await startKgql(client, { auth: "kubernetes" });
      try {
        await kgqlAuth.gateway.factory.waitForCacheSync(5000);
        const ask = async (accept: string) => {
          const res = await fetch(kgqlAuth.url, {
            method: "POST",
            // A token per media type: a successful TokenReview is cached.
            headers: {
              "content-type": "application/json",
              accept,
              authorization: `Bearer t${accept.length}`,
            },
            body: JSON.stringify({ query: "{ pods { totalCount } }" }),
          });
          return { status: res.status, body: await res.json() };
        };
        for (const accept of ["application/json", "application/graphql-response+json"]) {
          failTokenReview = true;
          const a = await ask(accept);
          assert.equal(a.status, 503, JSON.stringify(a.body));
          assert.equal(a.body.errors[0].extensions.code, "SERVICE_UNAVAILABLE");
          assert.match(a.body.errors[0].message, /did not answer the TokenReview \(unreachable\)/);
          assert.doesNotMatch(JSON.stringify(a.body), /10\.96\.0\.1|ECONNREFUSED/, "no internal detail");
          failTokenReview = false;
          const b = await ask(accept);
          assert.equal(b.status, 503, JSON.stringify(b.body));
          assert.match(
            b.body.errors[0].message,
            /SubjectAccessReview \(kgql's service account may not create subjectaccessreviews/,
          );
        }
      } finally {
        await kgqlAuth.close();
      }
    });
  });
});

describe("request ids, logs and metrics", () => {
  it("every request gets an id (the caller's when sane) in the response and in its log line, on both paths", async () => {
    await withSandbox(async (sim) => {
      seedDemo(sim);
      const { lines, logger } = captureLog();
      const kgql = await startKgqlOn(sim, { logger });
      try {
        // Fast path (plain JSON POST) with the caller's id.
        const a = await fetch(kgql.url, {
          method: "POST",
          headers: { "content-type": "application/json", "x-request-id": "portal-42" },
          body: JSON.stringify({ query: "query Pods { pods { totalCount } }" }),
        });
        assert.equal(a.headers.get("x-request-id"), "portal-42");
        await a.text();
        // yoga's path (GET) with an id that is not sane (spaces, too long): a new one.
        const b = await fetch(
          `${kgql.url}?query=${encodeURIComponent("query Nodes { nodes { totalCount } }")}`,
          {
            headers: { accept: "application/json", "x-request-id": `bad id ${"x".repeat(200)}` },
          },
        );
        const generated = b.headers.get("x-request-id");
        assert.match(generated ?? "", /^[0-9a-f-]{36}$/);
        await b.text();
        // An error: its code is in the line.
        const c = await fetch(kgql.url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ query: `{ pods(labelSelector: "a in (") { totalCount } }` }),
        });
        const cid = c.headers.get("x-request-id");
        await c.text();
        await new Promise((r) => setTimeout(r, 50));
        const line = (id: string | null) => lines.find((l) => l.reqId === id && l.msg === "request");
        assert.deepEqual(
          { ...line("portal-42"), durationMs: 0 },
          {
            reqId: "portal-42",
            method: "POST",
            path: "/graphql",
            status: 200,
            durationMs: 0,
            operation: "Pods",
            user: undefined,
            errors: undefined,
            msg: "request",
            level: "info",
          },
        );
        assert.equal(line(generated)?.operation, "Nodes");
        assert.equal(line(generated)?.method, "GET");
        assert.equal(line(generated)?.status, 200);
        assert.ok(typeof line(generated)?.durationMs === "number");
        assert.deepEqual(line(cid)?.errors, ["BAD_USER_INPUT"]);
        // An unexpected error (a bug, masked for the caller) is logged with the request id.
        (kgql.gateway.factory.discovery as { resources: unknown }).resources = async () => {
          throw new Error("discovery exploded");
        };
        const d = await fetch(kgql.url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ query: "{ apiResources { resource } }" }),
        });
        const did = d.headers.get("x-request-id");
        const dtext = await d.text();
        assert.doesNotMatch(dtext, /exploded/, "masked for the caller");
        await new Promise((r) => setTimeout(r, 50));
        const warned = lines.find((l) => l.level === "warn" && l.reqId === did);
        assert.match(String(warned?.err), /discovery exploded/);
        assert.deepEqual(line(did)?.errors, ["INTERNAL"]);
        // WebSocket connections get an id and a line when they close.
        const ws = subscribe("ws", kgql.url, "subscription Live { podEvents { type } }");
        await new Promise((r) => setTimeout(r, 300));
        ws.stop();
        const wsUntil = Date.now() + 3000;
        while (!lines.some((l) => l.method === "WEBSOCKET") && Date.now() < wsUntil)
          await new Promise((r) => setTimeout(r, 20));
        const wsLine = lines.find((l) => l.method === "WEBSOCKET");
        assert.equal(wsLine?.operation, "Live");
        assert.match(String(wsLine?.reqId), /^[0-9a-f-]{36}$/);
        // Probes log at debug.
        await (await fetch(kgql.url.replace("/graphql", "/healthz"))).text();
        await new Promise((r) => setTimeout(r, 20));
        assert.equal(lines.find((l) => l.path === "/healthz")?.level, "debug");
      } finally {
        await kgql.close();
      }
    });
  });

  it("/metrics: objects, relists, watch restarts, events (a counter), last-event age, durations, subscriptions", async () => {
    await withSandbox(async (sim) => {
      seedDemo(sim);
      const kgql = await startKgql(await clientFor(sim));
      const sub = subscribe("sse", kgql.url, "subscription { podEvents { type } }");
      try {
        await kgql.gateway.factory.waitForCacheSync(5000);
        await gql(kgql.url, "query Topology { pods { totalCount } }");
        await new Promise((r) => setTimeout(r, 200));
        const text = await (await fetch(kgql.url.replace("/graphql", "/metrics"))).text();
        for (const re of [
          /# TYPE kgql_cache_objects gauge/,
          /kgql_cache_objects\{kind="Pod"\} \d+/,
          /# TYPE kgql_cache_relists_total counter/,
          /# TYPE kgql_cache_watch_restarts_total counter/,
          /# TYPE kgql_cache_events_applied_total counter/,
          /kgql_cache_last_event_age_seconds\{kind="Pod"\}/,
          /kgql_request_duration_seconds_count\{operation="Topology"\} 1/,
          /kgql_active_subscriptions 1/,
          /# TYPE kgql_auth_cache_hits_total counter/,
          /# TYPE kgql_limit_rejections_total counter/,
        ])
          assert.match(text, re);
        // The counters follow the informers: a 410 on the watches makes every kind relist.
        const value = (t: string, name: string) =>
          Number(new RegExp(`${name}\\{kind="Pod"\\} (\\d+)`).exec(t)?.[1]);
        const eventsBefore = value(text, "kgql_cache_events_applied_total");
        sim.faults.sendWatchError410();
        const until = Date.now() + 5000;
        let after = text;
        while (Date.now() < until) {
          after = await (await fetch(kgql.url.replace("/graphql", "/metrics"))).text();
          if (value(after, "kgql_cache_relists_total") >= 1) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.ok(value(after, "kgql_cache_relists_total") >= 1, "relists counted");
        assert.ok(
          value(after, "kgql_cache_events_applied_total") >= eventsBefore,
          "a counter never goes down",
        );
      } finally {
        sub.stop();
        await kgql.close();
      }
    });
  });
});

describe("configuration by flags and environment variables", () => {
  it("every flag has a KGQL_ variable; a flag given wins over it; defaults otherwise", () => {
    const env = {
      KGQL_PORT: "8080",
      KGQL_AUTH: "kubernetes",
      KGQL_INSECURE: "true",
      KGQL_MAX_COST: "5000",
      KGQL_REQUEST_TIMEOUT: "5",
      KGQL_CORS_ORIGIN: "https://a.example, https://b.example",
      KGQL_DISABLE_GRAPHIQL: "1",
    };
    const fromEnv = parseConfig([], env);
    assert.equal(fromEnv.port, "8080");
    assert.equal(fromEnv.auth, "kubernetes");
    assert.equal(fromEnv.insecure, true);
    assert.equal(fromEnv["max-cost"], "5000");
    assert.equal(fromEnv["request-timeout"], "5");
    assert.deepEqual(fromEnv["cors-origin"], ["https://a.example", "https://b.example"]);
    assert.equal(fromEnv["disable-graphiql"], true);
    assert.equal(fromEnv["disable-introspection"], false);
    assert.equal(fromEnv.host, "127.0.0.1");
    const flagsWin = parseConfig(
      ["--port", "9090", "--cors-origin", "https://c.example", "--max-cost", "7"],
      env,
    );
    assert.equal(flagsWin.port, "9090");
    assert.deepEqual(flagsWin["cors-origin"], ["https://c.example"]);
    assert.equal(flagsWin["max-cost"], "7");
    assert.equal(flagsWin.auth, "kubernetes", "variables still fill the flags not given");
    assert.throws(() => parseConfig([], { KGQL_DEMO: "maybe" }), ConfigError);
    assert.throws(() => parseConfig(["--nope"], {}), /see kgql --help/);
    // A value starting with a dash: one line saying how to pass it, not parseArgs' three.
    assert.throws(
      () => parseConfig(["--max-cost", "-1"], {}),
      (err: Error) =>
        err.message ===
        '--max-cost is followed by "-1", which starts with a dash: write --max-cost=-1 if it is the value (see kgql --help)',
    );
    for (const name of Object.keys(OPTIONS).filter((n) => n !== "help"))
      assert.ok(helpText().includes(envName(name)), `--help names ${envName(name)}`);
  });
});

describe("graceful shutdown", () => {
  it("stops accepting, completes open subscriptions (SSE and WebSocket), stops the watches", async () => {
    await withSandbox(async (sim) => {
      seedDemo(sim);
      const kgql = await startKgqlOn(sim);
      const sse = subscribe("sse", kgql.url, "subscription { podStream(initial: true) { type } }");
      const ws = subscribe("ws", kgql.url, "subscription { podStream(initial: true) { type } }");
      try {
        const until = Date.now() + 5000;
        while (
          !(sse.events.some((e) => e.type === "SYNCED") && ws.events.some((e) => e.type === "SYNCED")) &&
          Date.now() < until
        )
          await new Promise((r) => setTimeout(r, 20));
        assert.equal(kgql.gateway.subscriberCount(), 2);
        await kgql.close();
        const ended = Date.now() + 2000;
        while (!(sse.done && ws.done) && Date.now() < ended) await new Promise((r) => setTimeout(r, 20));
        assert.ok(sse.done && ws.done, "both streams ended");
        assert.deepEqual(sse.errors, [], "the SSE stream completed, not failed");
        assert.deepEqual(ws.errors, [], "the WebSocket stream completed, not failed");
        // The watches are stopped: a change in the cluster no longer reaches the cache.
        const cached = kgql.gateway.informer("ConfigMap").store.size;
        sim.create("configmaps", {
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: "after-shutdown", namespace: "default" },
        } as never);
        await new Promise((r) => setTimeout(r, 200));
        assert.equal(kgql.gateway.informer("ConfigMap").store.size, cached, "the watches stopped");
        await assert.rejects(fetch(kgql.url.replace("/graphql", "/healthz")), "no longer accepting");
      } finally {
        sse.stop();
        ws.stop();
      }
    });
  });
});

describe("the kgql process", () => {
  it("reads KGQL_* variables, serves, and on SIGTERM shuts down cleanly with exit code 0", async () => {
    const bin = fileURLToPath(new URL("../../bin/kgql.js", import.meta.url));
    const child = spawn(process.execPath, [bin, "--demo"], {
      env: { ...process.env, KGQL_PORT: "0", KGQL_LOG_LEVEL: "info", KGQL_MAX_COST: "10" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      const until = Date.now() + 20_000;
      let url: string | undefined;
      while (!url && Date.now() < until) {
        url = /at (http:\/\/\S+\/graphql)/.exec(stderr)?.[1];
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(url, `kgql started: ${stderr}`);
      // KGQL_MAX_COST=10 took effect: a page of 100 pods is refused.
      const r = await gql(url, "{ pods { nodes { name } } }");
      assert.equal(r.errors?.[0]?.extensions?.limit, "maxCost", r.text);
      assert.equal(r.errors?.[0]?.extensions?.max, 10);
      child.kill("SIGTERM");
      assert.equal(await exited, 0, stderr);
      assert.match(stderr, /"msg":"shutting down"/);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
