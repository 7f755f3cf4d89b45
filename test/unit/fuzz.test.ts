// 1,000+ malformed requests: each gets a 4xx or a GraphQL error, never a 5xx or a hang, and the
// server keeps answering good queries.
import assert from "node:assert/strict";
import { test } from "node:test";
import { SandboxCluster, seedDemo } from "../../src/sandbox/index.ts";
import { startKgqlOn } from "../helpers/kgql.ts";

function rng(seed: number) {
  let s = seed;
  return (n: number) => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s % n;
  };
}

test("fuzz: malformed bodies, huge bodies, deep queries, bad selectors and cursors", {
  timeout: 120_000,
}, async () => {
  const sim = new SandboxCluster();
  await sim.start();
  seedDemo(sim);
  const kgql = await startKgqlOn(sim);
  try {
    const rand = rng(Number(process.env.KGQL_FUZZ_SEED ?? 1234));
    const junk = () => Array.from({ length: 1 + rand(40) }, () => String.fromCharCode(rand(128))).join("");
    const generators: (() => { body: string; headers?: Record<string, string> })[] = [
      () => ({ body: junk() }),
      () => ({ body: `{"query": ${JSON.stringify(junk())}}` }),
      () => ({
        body: JSON.stringify({ query: `{ pods(labelSelector: ${JSON.stringify(junk())}) { totalCount } }` }),
      }),
      () => ({
        body: JSON.stringify({ query: `{ pods(after: ${JSON.stringify(junk())}) { totalCount } }` }),
      }),
      () => ({ body: JSON.stringify({ query: `{ pods(first: ${rand(100000) - 50000}) { totalCount } }` }) }),
      () => ({
        body: JSON.stringify({
          query: `{ pods { nodes { ${"node { pods { ".repeat(3 + rand(20))}name${" } }".repeat(3 + rand(20))} } } }`,
        }),
      }),
      () => ({
        body: JSON.stringify({ query: `{ pod(namespace: ${JSON.stringify(junk())}, name: "x") { name } }` }),
      }),
      () => ({ body: JSON.stringify({ query: "{ pods { totalCount } }", variables: junk() }) }),
      () => ({
        body: JSON.stringify({
          query: `{ resources(group: ${JSON.stringify(junk())}, version: "v1", resource: "x") { totalCount } }`,
        }),
      }),
      () => ({
        body: JSON.stringify({
          query: `query($f: Int) { pods(first: $f) { totalCount } }`,
          variables: { f: junk() },
        }),
      }),
      () => ({ body: "x".repeat(1_100_000) }),
      () => ({
        body: JSON.stringify({ query: "{ pods { totalCount } }" }),
        headers: { "content-type": `application/x-${rand(1e9).toString(36)}` },
      }),
    ];
    const statuses = new Map<number, number>();
    for (let i = 0; i < 1200; i++) {
      const g = generators[i % generators.length]!();
      // Both HTTP paths: plain JSON (the fast path) and what only yoga answers (another accepted
      // media type, GET with the query in the URL).
      const accept = ["application/json", "application/graphql-response+json", "*/*"][i % 3]!;
      const asGet = i % 7 === 0 && g.body.length < 10_000;
      const res = asGet
        ? await fetch(`${kgql.url}?query=${encodeURIComponent(g.body)}`, {
            headers: { accept },
            signal: AbortSignal.timeout(10_000),
          })
        : await fetch(kgql.url, {
            method: "POST",
            headers: { "content-type": "application/json", accept, ...g.headers },
            body: g.body,
            signal: AbortSignal.timeout(10_000),
          });
      assert.ok(res.headers.get("x-request-id"), `request ${i}: a request id`);
      const text = await res.text();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      assert.ok(
        res.status < 500,
        `request ${i} got HTTP ${res.status}: ${g.body.slice(0, 120)} -> ${text.slice(0, 200)}`,
      );
      if (res.status === 200) {
        const json = JSON.parse(text);
        assert.ok(json.errors?.length || json.data, `request ${i}: 200 without data or errors`);
      }
    }
    assert.ok(
      (statuses.get(413) ?? 0) >= 100,
      `huge bodies refused with 413 (${JSON.stringify([...statuses])})`,
    );
    const ok = await fetch(kgql.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "{ pods { totalCount } }" }),
    });
    assert.equal((await ok.json()).data.pods.totalCount, sim.list("pods").length, "still serving");
  } finally {
    await kgql.close();
    await sim.stop();
  }
});
