// Fuzz: SSE misuse, over raw sockets, on the SSE fast path (POST, Accept: text/event-stream) and
// yoga's (GET, an Origin header): subscriptions with bad arguments, queries and mutations asked
// as streams, subscriptions over plain POST, graphql-sse's "single connection" mode (PUT
// reservations, bad tokens, unknown ids) that kgql does not serve, odd Accept values. Each gets
// a well-formed 4xx, a GraphQL error, or a stream whose events are GraphQL results with
// messages on their errors; streams left behind end with their connections (no subscription
// leaks); and the gateway answers correctly and streams a real subscription afterwards.
// Replay a failure: KGQL_FUZZ_SEED=<seed> KGQL_FUZZ_PATH=<path>.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import {
  assertRawAcceptable,
  assertStillServing,
  assertStreamsDeletion,
  type FuzzTarget,
  fuzzParams,
  runs,
} from "./fuzz.ts";
import { RawConnection, rawRequest } from "./raw-http.ts";

const junk = fc.string({ unit: "binary", maxLength: 40 });
const arg = fc.oneof(
  junk.map((s) => JSON.stringify(s)),
  fc.constantFrom('"default"', '"app in ("', '"!!"', "12", "true", "null", '""'),
);

/** Subscriptions (with bad arguments), queries and a mutation, all asked as streams. */
const document = fc.oneof(
  fc
    .tuple(arg, arg, arg)
    .map(
      ([ns, sel, resume]) =>
        `subscription { podEvents(namespace: ${ns}, labelSelector: ${sel}, resumeFrom: ${resume}) { type } }`,
    ),
  fc
    .tuple(arg, arg)
    .map(
      ([ns, sel]) =>
        `subscription { podStream(namespace: ${ns}, labelSelector: ${sel}, initial: true) { type } }`,
    ),
  fc
    .tuple(arg, arg, arg)
    .map(
      ([g, v, r]) => `subscription { resourceEvents(group: ${g}, version: ${v}, resource: ${r}) { type } }`,
    ),
  arg.map((uid) => `subscription { ownerPodEvents(uid: ${uid}) { type } }`),
  arg.map((node) => `subscription { nodePodEvents(node: ${node}) { type } }`),
  fc.constantFrom(
    "subscription { podEvents { type } }",
    "subscription { podEvents { type } } subscription Two { podEvents { type } }",
    "subscription { podEvents { type } podStream { type } }",
    "subscription { noSuchEvents }",
    "subscription { podEvents { type",
    "{ pods { totalCount } }",
    "mutation { deletePods }",
    "",
  ),
  junk,
);

const body = fc.oneof(
  fc
    .record(
      {
        query: document,
        variables: fc.oneof(fc.jsonValue({ maxDepth: 2 }), junk),
        operationName: fc.oneof(fc.constantFrom("Two", "Nope"), fc.jsonValue({ maxDepth: 1 })),
        extensions: fc.jsonValue({ maxDepth: 2 }),
      },
      { requiredKeys: ["query"] },
    )
    .map((p) => JSON.stringify(p)),
  document.map((q) => JSON.stringify({ query: q }).slice(0, -1)),
  junk,
);

const accept = fc.constantFrom(
  "text/event-stream",
  "text/event-stream",
  "TEXT/EVENT-STREAM",
  "text/event-stream; charset=utf-8",
  "text/event-stream;q=0",
  "text/event-stream, application/json",
  "application/json, text/event-stream",
  "multipart/mixed",
  "application/json",
  "application/graphql-response+json",
  "text/event-stream;;;",
);

/** The request: which path and mode it misuses. */
const request = fc.oneof(
  // Distinct connections: POST (the fast path; yoga's with an Origin) and GET.
  fc.record({
    mode: fc.constant("post" as const),
    body,
    accept,
    origin: fc.boolean(),
    token: fc.option(
      junk.map((s) => s.replace(/[\r\n]/g, "")),
      { nil: undefined },
    ),
  }),
  fc.record({
    mode: fc.constant("get" as const),
    query: document,
    accept,
    token: fc.option(junk, { nil: undefined }),
  }),
  // graphql-sse's single-connection mode: a PUT reservation, then GET/POST with the token.
  fc.record({
    mode: fc.constant("single" as const),
    step: fc.constantFrom("PUT", "GET", "POST", "DELETE"),
    token: junk,
    id: fc.option(junk, { nil: undefined }),
    body,
  }),
);
type Req = typeof request extends fc.Arbitrary<infer T> ? T : never;

function bytesOf(r: Req): { bytes: Buffer; what: string } {
  const sseHeaders = (a: string): [string, string][] => [["Accept", a]];
  if (r.mode === "post") {
    const headers: [string, string][] = [["Content-Type", "application/json"], ...sseHeaders(r.accept)];
    if (r.origin) headers.push(["Origin", "http://127.0.0.2:1"]);
    if (r.token !== undefined) headers.push(["X-GraphQL-Event-Stream-Token", r.token]);
    return {
      bytes: rawRequest("POST", "/graphql", headers, r.body),
      what: `POST ${JSON.stringify(headers)} ${r.body}`,
    };
  }
  if (r.mode === "get") {
    const params = new URLSearchParams({
      query: r.query,
      ...(r.token === undefined ? {} : { token: r.token }),
    });
    return {
      bytes: rawRequest("GET", `/graphql?${params}`, sseHeaders(r.accept)),
      what: `GET ?${params} Accept ${r.accept}`,
    };
  }
  const params = new URLSearchParams({
    token: r.token,
    ...(r.id === undefined ? {} : { operationId: r.id }),
  });
  const headers: [string, string][] = [
    ["Accept", "text/event-stream"],
    ["X-GraphQL-Event-Stream-Token", r.token.replace(/[\r\n]/g, "")],
    ["Content-Type", "application/json"],
  ];
  const withBody = r.step === "POST" || r.step === "PUT";
  return {
    bytes: rawRequest(r.step, `/graphql/stream?${params}`, headers, withBody ? r.body : undefined),
    what: `${r.step} /graphql/stream?${params} ${withBody ? r.body : ""}`,
  };
}

/**
 * The family's tests against a gateway `makeTarget` starts (the simulator, or the real control
 * plane), with `scale` times the simulator's runs.
 */
export function fuzzSse(makeTarget: () => Promise<FuzzTarget>, scale = 1): void {
  describe("fuzz: SSE misuse", () => {
    let target: FuzzTarget;
    let kgql: FuzzTarget["kgql"];
    let port: number;

    before(async () => {
      target = await makeTarget();
      kgql = target.kgql;
      port = target.port;
    });
    after(async () => {
      await target?.close();
    });

    it(`misused SSE requests, distinct and single-connection modes, also to /graphql/stream (${runs(scale, 250)} runs)`, {
      timeout: 60_000,
    }, async () => {
      let streams = 0;
      await fc.assert(
        fc.asyncProperty(request, fc.boolean(), async (r, toStreamPath) => {
          const { bytes, what } = bytesOf(r);
          // graphql-sse serves single-connection mode on its own path; kgql serves /graphql only.
          const sent = toStreamPath
            ? bytes
            : Buffer.from(bytes.toString("latin1").replace("/graphql/stream", "/graphql"), "latin1");
          // Relative: a leak already found (being shrunk) does not fail the cases tried after it.
          const baseline = kgql.gateway.subscriberCount();
          const conn = await RawConnection.open(port);
          try {
            const ex = await conn.exchange([sent], { timeoutMs: 10_000 });
            const res = ex.responses[0];
            assert.ok(res, `${what}: no response (connection ${ex.ending})`);
            assertRawAcceptable(res, what);
            if (ex.streaming) streams++;
            if (!ex.streaming && r.mode === "single" && r.step === "PUT")
              assert.ok(res.status >= 400, `${what}: no reservations are made (${res.status})`);
          } finally {
            // Closing mid-stream: the subscription must end with the connection.
            conn.close();
          }
          const until = Date.now() + 3000;
          while (kgql.gateway.subscriberCount() > baseline && Date.now() < until)
            await new Promise((r) => setTimeout(r, 10));
          assert.equal(
            kgql.gateway.subscriberCount(),
            baseline,
            `${what}: its subscription ended with its connection`,
          );
        }),
        fuzzParams(runs(scale, 250)),
      );
      if (scale >= 1) assert.ok(streams > 0, "some requests started a stream");
      // Every stream left behind ended with its connection.
      const until = Date.now() + 10_000;
      while (kgql.gateway.subscriberCount() > 0 && Date.now() < until)
        await new Promise((r) => setTimeout(r, 50));
      assert.equal(kgql.gateway.subscriberCount(), 0, "no subscription outlives its connection");
      await assertStillServing(target, "after SSE misuse");
      // And a real subscription still streams: a pod deleted in the cluster arrives as DELETED.
      await assertStreamsDeletion("sse", target);
    });
  });
}
