// Fuzz: malformed GraphQL-over-HTTP requests (POST and GET, the fast paths and yoga's), sent over
// raw keep-alive sockets. Each gets a well-formed 4xx or a GraphQL error (never a 5xx, a hang or
// a dropped connection), a connection left open still answers a valid query correctly, and after
// each family the gateway answers correctly over POST and GET. fast-check shrinks a failure to
// a minimal request and prints its seed (replay: KGQL_FUZZ_SEED=<seed> KGQL_FUZZ_PATH=<path>).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import {
  assertRawAcceptable,
  assertStillServing,
  type FuzzTarget,
  fuzzParams,
  runs,
  validRequest,
} from "./fuzz.ts";
import { RawConnection, rawRequest } from "./raw-http.ts";

const QUERIES = [
  "{ pods { totalCount } }",
  "query Q { namespaces { nodes { name } } }",
  "query A { pods { totalCount } } query B { nodes { totalCount } }",
  "query($n: Int, $s: String, $l: [String!]) { pods(first: $n, labelSelector: $s) { totalCount } x: deployments(first: $n) { totalCount } }",
  "query($ns: String!) { pods(namespace: $ns) { totalCount } }",
  "subscription { podEvents { type } }",
  "mutation { deletePods }",
  "{ __typename }",
  '{ pods(labelSelector: "app in (") { totalCount } }',
  "{ pods { nodes { noSuchField } } }",
  "{",
  "",
];

const junkText = fc.string({ unit: "binary", maxLength: 80 });
const jsonish = fc.oneof(fc.jsonValue({ maxDepth: 3 }), junkText);

/** {query, variables, operationName, extensions}, each maybe absent, maybe of the wrong type. */
const params = fc.record(
  {
    query: fc.oneof(fc.constantFrom(...QUERIES), jsonish),
    variables: fc.oneof(
      fc.dictionary(fc.constantFrom("n", "s", "l", "ns", "x"), fc.jsonValue({ maxDepth: 2 })),
      jsonish,
    ),
    operationName: fc.oneof(fc.constantFrom("Q", "A", "B", "Nope", ""), jsonish),
    extensions: fc.oneof(
      fc.record({
        persistedQuery: fc.oneof(
          fc.record({ version: fc.oneof(fc.integer(), jsonish), sha256Hash: jsonish }),
          jsonish,
        ),
      }),
      jsonish,
    ),
  },
  { requiredKeys: [] },
);

/** Bodies: parameters (sometimes batched), cut short, junk bytes, other JSON, other charsets. */
const body = fc.oneof(
  params.map((p) => JSON.stringify(p)),
  fc.array(params, { maxLength: 3 }).map((b) => JSON.stringify(b)),
  fc.tuple(params, fc.nat()).map(([p, n]) => {
    const text = JSON.stringify(p);
    return text.slice(0, n % (text.length + 1));
  }),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.uint8Array({ maxLength: 120 }).map((a) => Buffer.from(a)),
  params.map((p) => Buffer.from(JSON.stringify(p), "utf16le")),
  params.map((p) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(p))])),
  fc.tuple(params, fc.nat()).map(([p, n]) => {
    const b = Buffer.from(JSON.stringify(p));
    // A byte that is never valid UTF-8, somewhere in the document.
    if (b.length) b[n % b.length] = 0xff;
    return b;
  }),
  params.map((p) =>
    new URLSearchParams(
      Object.entries(p).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
    ).toString(),
  ),
  fc.constantFrom(
    "",
    "null",
    "[]",
    "{}",
    "0",
    '"query"',
    '{"query":null}',
    "\u0000",
    '{"query":"{ pods { totalCount } }"}garbage',
  ),
);

const contentType = fc.option(
  fc.oneof(
    fc.constantFrom(
      "application/json",
      "application/json; charset=utf-8",
      "application/json; charset=utf-16",
      "application/json; charset=latin1",
      "application/json; charset=no-such-charset",
      "APPLICATION/JSON",
      "application/json;;;",
      "application/json, text/plain",
      "application/graphql",
      "application/graphql+json",
      "application/graphql-response+json",
      "application/x-www-form-urlencoded",
      "multipart/form-data",
      "multipart/form-data; boundary=xyz",
      "text/plain",
      "application/octet-stream",
      "",
    ),
    fc.string({ maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, "")),
  ),
  { nil: undefined },
);

const accept = fc.option(
  fc.constantFrom(
    "application/json",
    "application/graphql-response+json",
    "text/event-stream",
    "multipart/mixed",
    'multipart/mixed; deferSpec="20220824"',
    "text/html",
    "*/*",
    "application/xml",
    "text/event-stream, application/json",
    "application/graphql-response+json;q=0.9, application/json;q=0.8",
    "application/json;q=0",
    "",
    ";;;,,,",
  ),
  { nil: undefined },
);

const method = fc.constantFrom(
  "GET",
  "POST",
  "POST",
  "POST",
  "PUT",
  "DELETE",
  "PATCH",
  "OPTIONS",
  "HEAD",
  "TRACE",
  "PROPFIND",
  "FOO",
);

const path = fc.constantFrom(
  "/graphql",
  "/graphql",
  "/graphql",
  "/graphql/",
  "/GRAPHQL",
  "//graphql",
  "/graphql?",
  "/graphql?&&&==&",
  "/graphql?%zz",
  "/graphql?query=%E0%A4%A",
  "/graphql?query=%7B%20pods%20%7B%20totalCount%20%7D%20%7D&variables=%7B",
  "/graphql?query={pods{totalCount}}&operationName=%00",
  "/graphql?query=subscription%7BpodEvents%7Btype%7D%7D",
  "/graphql%2F",
  "/graphql#fragment",
  "/ui/../graphql",
  "/ui/..%2f..%2fetc%2fpasswd",
  "/ui/%00",
  "/ui",
  "/ui/",
  "/ui/index.html",
  "/healthz?x=1",
  "/readyz",
  "/metrics",
  "/",
  "*",
  "http://127.0.0.1/graphql",
  `/graphql?${"a=1&".repeat(2000)}`,
  `/${"x".repeat(8000)}`,
  "/graphql?query=%7B%20pods%20%7B%20totalCount%20%7D%20%7D",
);

const origin = fc.option(fc.constantFrom("http://127.0.0.2:1", "null", ""), { nil: undefined });

const request = fc.record({
  method,
  path,
  contentType,
  accept,
  origin,
  body: fc.option(body, { nil: undefined }),
  // A client may half-close once its request is sent: per HTTP that does not end the request,
  // it is still answered.
  halfClose: fc.boolean(),
});
type Req = typeof request extends fc.Arbitrary<infer T> ? T : never;

function bytesOf(r: Req): Buffer {
  const headers: [string, string][] = [];
  if (r.contentType !== undefined) headers.push(["Content-Type", r.contentType]);
  if (r.accept !== undefined) headers.push(["Accept", r.accept]);
  if (r.origin !== undefined) headers.push(["Origin", r.origin]);
  return rawRequest(r.method, r.path, headers, r.body);
}

/**
 * The family's tests against a gateway `makeTarget` starts (the simulator, or the real control
 * plane), with `scale` times the simulator's runs.
 */
export function fuzzHttp(makeTarget: () => Promise<FuzzTarget>, scale = 1): void {
  describe("fuzz: malformed GraphQL over HTTP", () => {
    let target: FuzzTarget;
    let port: number;

    before(async () => {
      target = await makeTarget();
      port = target.port;
    });
    after(async () => {
      await target?.close();
    });

    /**
     * Sends one request on a fresh connection and checks its answer; a connection the server keeps
     * open must then answer a valid query correctly.
     */
    const statuses = new Map<string, number>();
    async function checkOne(bytes: Buffer, what: string, head: boolean, halfClose = false): Promise<void> {
      const conn = await RawConnection.open(port);
      try {
        const ex = await conn.exchange([bytes], { head, halfClose, timeoutMs: 10_000 });
        const r = ex.responses[0];
        assert.ok(
          r,
          `${what}: no response (connection ${ex.ending}, ${ex.leftover.length} bytes of a cut one)`,
        );
        const key = `${r.status}${ex.streaming ? " stream" : ""}`;
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
        assertRawAcceptable(r, what, { head });
        if (ex.streaming) return;
        if (halfClose) {
          // Answered, the server closes its side too (cleanly: FIN, not RST).
          const ending = ex.ending === "open" ? await conn.waitForEnd(5000) : ex.ending;
          assert.equal(ending, "closed", `${what}: the connection is closed cleanly after the answer`);
          return;
        }
        if (ex.ending !== "open" || /close/i.test(r.headers.connection ?? "")) return;
        const next = await conn.exchange([validRequest(target)], { timeoutMs: 10_000 });
        assert.ok(
          next.responses[0],
          `${what}: the kept-alive connection answered no valid query after it (${next.ending})`,
        );
        assert.equal(next.responses[0].status, 200, `${what}: the next query on the connection`);
        const json = JSON.parse(next.responses[0].body.toString());
        assert.equal(json.data?.pods?.totalCount, await target.pods(), `${what}: the next query's answer`);
      } finally {
        conn.close();
      }
    }

    it(`random requests: methods, paths, content types, Accept, bodies (${runs(scale, 500)} runs)`, {
      timeout: 60_000,
    }, async () => {
      await fc.assert(
        fc.asyncProperty(request, async (r) => {
          await checkOne(
            bytesOf(r),
            JSON.stringify({ ...r, body: r.body?.toString().slice(0, 300) }),
            r.method === "HEAD",
            r.halfClose,
          );
        }),
        fuzzParams(runs(scale, 500)),
      );
      // The generators reach every kind of answer, not only one refusal.
      // (A shorter pass, on the real control plane, may miss some.)
      if (scale >= 1)
        for (const status of ["200", "400", "404", "405", "406", "415"])
          assert.ok(statuses.has(status), `some request got ${status}: ${JSON.stringify([...statuses])}`);
      await assertStillServing(target, "after random requests");
    });

    it(`a complete request, then half-closed, is still answered on every path (${runs(scale, 80)} runs)`, {
      timeout: 30_000,
    }, async () => {
      const QUERY = "{ pods { totalCount nodes { name namespace phase } } }";
      const complete = fc.record({
        handler: fc.constantFrom(
          { method: "POST", headers: [["Content-Type", "application/json"]] as [string, string][] },
          {
            method: "POST",
            headers: [
              ["Content-Type", "application/json"],
              ["Origin", "http://127.0.0.2:1"],
            ] as [string, string][],
          },
          {
            method: "POST",
            headers: [
              ["Content-Type", "application/json"],
              ["Accept", "application/graphql-response+json"],
            ] as [string, string][],
          },
          { method: "GET", headers: [["Accept", "application/json"]] as [string, string][] },
        ),
        query: fc.constantFrom(QUERY, "{ pods { totalCount } }", "{ nope }"),
      });
      await fc.assert(
        fc.asyncProperty(complete, async ({ handler, query }) => {
          const bytes =
            handler.method === "GET"
              ? rawRequest("GET", `/graphql?query=${encodeURIComponent(query)}`, handler.headers)
              : rawRequest("POST", "/graphql", handler.headers, JSON.stringify({ query }));
          await checkOne(bytes, `${JSON.stringify(handler)} ${query}, half-closed`, false, true);
        }),
        fuzzParams(runs(scale, 80)),
      );
    });

    it(`GET with fuzzed query-string parameters (${runs(scale, 200)} runs)`, {
      timeout: 30_000,
    }, async () => {
      const encode = fc.constantFrom(
        (s: string) => encodeURIComponent(s),
        // Raw: spaces, braces, stray % signs go as they are (node takes them; URL parsing varies).
        (s: string) => s.replace(/[\s#]/g, "+"),
        (s: string) => `${encodeURIComponent(s)}%`,
      );
      const getRequest = fc.record({ p: params, encode, accept });
      await fc.assert(
        fc.asyncProperty(getRequest, async ({ p, encode: enc, accept: a }) => {
          const query = Object.entries(p)
            .map(([k, v]) => `${k}=${enc(typeof v === "string" ? v : (JSON.stringify(v) ?? ""))}`)
            .join("&");
          const headers: [string, string][] = a === undefined ? [] : [["Accept", a]];
          await checkOne(
            rawRequest("GET", `/graphql?${query}`, headers),
            `GET ?${query.slice(0, 300)} accept ${a}`,
            false,
          );
        }),
        fuzzParams(runs(scale, 200)),
      );
      await assertStillServing(target, "after GET parameters");
    });
  });
}
