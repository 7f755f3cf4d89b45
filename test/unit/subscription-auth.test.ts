// With --auth kubernetes a subscription outlives the request that opened it: its periodic
// re-check asks again whether the caller's token is valid, not only what it may see. And a
// request without a valid token is told how to authenticate (401 with WWW-Authenticate).
import assert from "node:assert/strict";
import { test } from "node:test";
import { SandboxCluster, seedDemo } from "../../src/sandbox/index.ts";
import { gql, startKgql, subscribe } from "../helpers/kgql.ts";
import { clientFor, eventually, pod, withReviews } from "../helpers/sandbox.ts";

async function setup() {
  const sim = new SandboxCluster();
  await sim.start();
  seedDemo(sim, { namespaces: 1, nodes: 1, deploymentsPerNamespace: 1, replicas: 1 });
  const valid = new Set(["alice"]);
  const client = withReviews(await clientFor(sim), {
    user: (token) => (valid.has(token) ? { username: token } : undefined),
    allowed: () => true,
  });
  const kgql = await startKgql(client, { auth: "kubernetes", recheckMs: 100, tokenCacheTtlMs: 1 });
  await kgql.gateway.factory.waitForCacheSync(5000);
  return { sim, kgql, valid };
}

for (const transport of ["sse", "ws"] as const) {
  test(`a token revoked while a subscription is open ends it with UNAUTHENTICATED over ${transport}`, async () => {
    const { sim, kgql, valid } = await setup();
    const stream = subscribe(
      transport,
      kgql.url,
      "subscription { podEvents { type pod { name } } }",
      undefined,
      {
        token: "alice",
      },
    );
    try {
      await new Promise((r) => setTimeout(r, 300));
      sim.create("pods", pod("before"));
      await eventually(() => stream.events.length === 1, "an event while the token is valid");
      assert.deepEqual(stream.errors, []);
      valid.delete("alice"); // e.g. its service account deleted
      await eventually(() => stream.errors.length > 0, "the stream to end at the next re-check");
      const raw = stream.errors[0] as unknown;
      const error = (Array.isArray(raw) ? raw[0] : raw) as {
        message: string;
        extensions?: { code?: string };
      };
      assert.equal(error.extensions?.code, "UNAUTHENTICATED", JSON.stringify(error));
      sim.create("pods", pod("after"));
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(stream.events.length, 1, "nothing after the token stopped being valid");
    } finally {
      stream.stop();
      await kgql.close();
      await sim.stop();
    }
  });
}

test("a request without a valid token gets 401 with WWW-Authenticate", async () => {
  const { sim, kgql } = await setup();
  try {
    for (const token of [undefined, "mallory"]) {
      const res = await fetch(kgql.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify({ query: "{ nodes { totalCount } }" }),
      });
      assert.equal(res.status, 401);
      assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="kgql"');
      assert.equal((await res.json()).errors[0].extensions.code, "UNAUTHENTICATED");
    }
    assert.equal(
      (await gql(kgql.url, "{ nodes { totalCount } }", undefined, { token: "alice" })).status,
      200,
    );
  } finally {
    await kgql.close();
    await sim.stop();
  }
});
