// What the fuzz tests (test/helpers/fuzz-{http,wire,sse,ws}.ts, run on the simulator by
// test/unit/fuzz-*.test.ts and on the real control plane by test/integration/fuzz.test.ts)
// accept as an answer to a malformed request, the gateways they fuzz (FuzzTarget), and the
// checks that a gateway still answers correctly after each family.
//
// An acceptable answer: a 4xx whose body parses as its Content-Type says (JSON errors with
// messages), or a 2xx/3xx that is a well-formed answer (a GraphQL result with data or errors
// that have messages, a page, a redirect); never a 5xx, never silence.
import assert from "node:assert/strict";
import type fc from "fast-check";
import { SandboxCluster, seedDemo } from "../../src/sandbox/index.ts";
import type { GatewayServer } from "../../src/server/index.ts";
import { startKgqlOn, subscribe } from "./kgql.ts";
import { type RawResponse, rawRequest } from "./raw-http.ts";

/** fast-check's settings for a fuzz property: KGQL_FUZZ_SEED replays a reported failure. */
export function fuzzParams(numRuns: number): fc.Parameters<unknown> {
  const seed = process.env.KGQL_FUZZ_SEED;
  const path = process.env.KGQL_FUZZ_PATH;
  return {
    numRuns,
    ...(seed ? { seed: Number(seed) } : {}),
    ...(path ? { path } : {}),
    // Each run is a request to a server: the shrinking stays bounded in time as well.
    interruptAfterTimeLimit: 120_000,
    markInterruptAsFailure: false,
  };
}

const JSON_TYPES = /^application\/(json|graphql-response\+json)\b/i;

interface GraphQLErrorShape {
  message?: unknown;
  extensions?: { code?: unknown };
}

/** A GraphQL result's errors each have a message (and a code, as the README promises for kgql's). */
export function assertErrorsHaveMessages(errors: unknown, what: string): void {
  assert.ok(Array.isArray(errors) && errors.length > 0, `${what}: errors is a non-empty array`);
  for (const e of errors as GraphQLErrorShape[]) {
    assert.equal(typeof e?.message, "string", `${what}: an error without a message: ${JSON.stringify(e)}`);
    assert.ok((e.message as string).length > 0, `${what}: an empty error message`);
  }
}

/** The body as JSON, asserting it parses. */
function parsedJson(body: string, what: string): unknown {
  try {
    return JSON.parse(body);
  } catch (err) {
    assert.fail(
      `${what}: body says JSON but does not parse (${(err as Error).message}): ${body.slice(0, 200)}`,
    );
  }
}

/**
 * One response to a malformed (or odd) request, checked as the module comment says. `what`
 * names the request in the failure message.
 */
export function assertAcceptable(
  r: { status: number; headers: Record<string, string>; body: string },
  what: string,
  opts: { head?: boolean } = {},
) {
  const type = r.headers["content-type"] ?? "";
  const desc = `${what} -> HTTP ${r.status} ${type} ${JSON.stringify(r.body.slice(0, 300))}`;
  assert.ok(r.status >= 200 && r.status < 500, `never a 5xx (or a 1xx as the final answer): ${desc}`);
  // A HEAD answer has the headers a GET would have, and no body.
  if (opts.head) return;
  if (JSON_TYPES.test(type)) {
    const json = parsedJson(r.body, desc) as { data?: unknown; errors?: unknown };
    if (r.status >= 400) {
      // yoga's and kgql's error bodies are GraphQL results: errors with messages.
      assertErrorsHaveMessages(json.errors, desc);
    } else if (r.status === 200) {
      assert.ok(json.data !== undefined || json.errors !== undefined, `200 without data or errors: ${desc}`);
      if (json.errors !== undefined) assertErrorsHaveMessages(json.errors, desc);
    }
  } else if (/^text\/event-stream\b/i.test(type)) {
    // Each complete event's data is a GraphQL result (streams are checked in the SSE tests).
    for (const block of r.body.split("\n\n")) {
      const data = block
        .split("\n")
        .filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).trim())
        .join("\n");
      if (!data || !/^event: next\b/m.test(block)) continue;
      const json = parsedJson(data, desc) as { errors?: unknown };
      if (json.errors !== undefined) assertErrorsHaveMessages(json.errors, desc);
    }
  } else if (/^multipart\/mixed\b/i.test(type)) {
    assert.ok(r.status < 400 || r.body.length > 0, `multipart error without a body: ${desc}`);
  } else if (/^text\//i.test(type) || type === "") {
    // Plain text (Node's own 400/431 have no body and no type; ours say why).
    assert.ok(!r.body.includes("\uFFFD") || type === "", `text body is not valid UTF-8: ${desc}`);
  } else {
    assert.fail(`unexpected content type: ${desc}`);
  }
  if (r.status >= 300 && r.status < 400 && r.status !== 304)
    assert.ok(r.headers.location, `a redirect without Location: ${desc}`);
}

export function assertRawAcceptable(r: RawResponse, what: string, opts: { head?: boolean } = {}): void {
  assertAcceptable({ status: r.status, headers: r.headers, body: r.body.toString("utf8") }, what, opts);
}

/**
 * The gateway still answers a real query correctly: the pod count the cluster holds, over plain
 * JSON POST (the fast path) and over GET (yoga).
 */
export async function assertStillServing(target: FuzzTarget, what: string): Promise<void> {
  const url = target.kgql.url;
  const expected = await target.pods();
  const post = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ query: target.countQuery }),
    signal: AbortSignal.timeout(10_000),
  });
  const viaPost = (await post.json()) as { data?: { pods: { totalCount: number } } };
  assert.equal(post.status, 200, `${what}: a valid POST still gets 200`);
  assert.equal(viaPost.data?.pods.totalCount, expected, `${what}: the right pod count over POST`);
  const get = await fetch(`${url}?query=${encodeURIComponent(target.countQuery)}`, {
    headers: { accept: "application/graphql-response+json" },
    signal: AbortSignal.timeout(10_000),
  });
  const viaGet = (await get.json()) as { data?: { pods: { totalCount: number } } };
  assert.equal(get.status, 200, `${what}: a valid GET still gets 200`);
  assert.equal(viaGet.data?.pods.totalCount, expected, `${what}: the right pod count over GET`);
}

/** A podEvents subscription over `transport` gets the DELETED event of a pod deleted in the cluster. */
export async function assertStreamsDeletion(transport: "sse" | "ws", target: FuzzTarget): Promise<void> {
  const { gateway } = target.kgql;
  const before = gateway.subscriberCount();
  const s = subscribe(transport, target.kgql.url, "subscription { podEvents { type pod { name } } }");
  try {
    const until = Date.now() + 10_000;
    while (gateway.subscriberCount() === before && Date.now() < until)
      await new Promise((r) => setTimeout(r, 20));
    assert.ok(
      gateway.subscriberCount() > before,
      `the ${transport} subscription starts (${JSON.stringify(s.errors)})`,
    );
    const name = await target.deletePod();
    const deleted = () =>
      s.events.some(
        (e: { type?: string; pod?: { name?: string } }) => e.type === "DELETED" && e.pod?.name === name,
      );
    const until2 = Date.now() + 30_000;
    while (!deleted() && Date.now() < until2) await new Promise((r) => setTimeout(r, 20));
    assert.ok(deleted(), `the deletion of ${name} streams over ${transport} (${JSON.stringify(s.errors)})`);
  } finally {
    s.stop();
  }
}

/** `promise`, or undefined after `ms`; leaves no timer behind (one would hold the test process). */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<undefined>((r) => {
        timer = setTimeout(() => r(undefined), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A gateway to fuzz, and the source of truth its answers are checked against. */
export interface FuzzTarget {
  kgql: GatewayServer;
  port: number;
  /** A query whose `pods.totalCount` is checked after each family. */
  countQuery: string;
  /** What `countQuery` must answer: the cluster's own count. */
  pods(): Promise<number>;
  /** Deletes a pod in the cluster (at the end of a family); its name. */
  deletePod(): Promise<string>;
  close(): Promise<void>;
}

/** A property's number of runs at `scale` (1 on the simulator; less for a shorter pass). */
export const runs = (scale: number, n: number): number => Math.max(5, Math.round(n * scale));

/** A valid POST of the target's count query, as raw bytes. */
export function validRequest(target: FuzzTarget): Buffer {
  return rawRequest(
    "POST",
    "/graphql",
    [["Content-Type", "application/json"]],
    JSON.stringify({ query: target.countQuery }),
  );
}

/** The simulator, seeded, with a gateway on it: the deterministic target of the unit tests. */
export async function simTarget(): Promise<FuzzTarget> {
  const sim = new SandboxCluster();
  await sim.start();
  seedDemo(sim, { namespaces: 2, nodes: 2, deploymentsPerNamespace: 2, replicas: 2 });
  const kgql = await startKgqlOn(sim);
  return {
    kgql,
    port: Number(new URL(kgql.url).port),
    countQuery: "{ pods { totalCount } }",
    pods: async () => sim.list("pods").length,
    deletePod: async () => {
      const victim = sim.list("pods")[0] as { metadata: { namespace: string; name: string } };
      sim.delete("pods", victim.metadata.namespace, victim.metadata.name);
      return victim.metadata.name;
    },
    close: async () => {
      await kgql.close();
      await sim.stop();
    },
  };
}
