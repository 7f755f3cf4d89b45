// Fuzz: broken HTTP framing and odd headers over raw sockets, to /graphql (both fast paths and
// yoga's) and the other endpoints. Per HTTP, each gets a status line with a well-formed body:
// a body cut short (then our side half-closed) or broken chunked encoding gets a 4xx and a
// clean close, never silence or a reset; a handled error on a kept-alive connection leaves the
// connection answering; and the gateway answers correctly after each family.
// Replay a failure: KGQL_FUZZ_SEED=<seed> KGQL_FUZZ_PATH=<path>.
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

const GOOD_BODY = JSON.stringify({ query: "{ pods { totalCount } }" });
const SSE_BODY = JSON.stringify({ query: "subscription { podEvents { type } }" });

/** Where the request goes and which handler takes it. */
const destination = fc.constantFrom(
  // The fast path (plain JSON), the SSE fast path, yoga (a browser's Origin; a GET; a form).
  { path: "/graphql", headers: [["Content-Type", "application/json"]] as [string, string][] },
  {
    path: "/graphql",
    headers: [
      ["Content-Type", "application/json"],
      ["Accept", "text/event-stream"],
    ] as [string, string][],
  },
  {
    path: "/graphql",
    headers: [
      ["Content-Type", "application/json"],
      ["Origin", "http://127.0.0.2:1"],
    ] as [string, string][],
  },
  {
    path: "/graphql",
    headers: [["Content-Type", "application/x-www-form-urlencoded"]] as [string, string][],
  },
  { path: "/graphql", headers: [["Content-Type", "text/plain"]] as [string, string][] },
  { path: "/healthz", headers: [] as [string, string][] },
  { path: "/ui/", headers: [] as [string, string][] },
);
const method = fc.constantFrom("POST", "POST", "GET", "PUT");
const body = fc.constantFrom(GOOD_BODY, SSE_BODY, "query=%7Bpods%7BtotalCount%7D%7D", '{"query": "{ pod');

/**
 * The family's tests against a gateway `makeTarget` starts (the simulator, or the real control
 * plane), with `scale` times the simulator's runs.
 */
export function fuzzWire(makeTarget: () => Promise<FuzzTarget>, scale = 1): void {
  describe("fuzz: broken framing and odd headers", () => {
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
     * Sends `parts` (half-closing after them when asked) and checks the answer: a response, then
     * either a clean close or (kept alive) a correct answer to a valid query on the same
     * connection. A half-closed request must be answered and its connection closed cleanly.
     */
    async function checkOne(parts: Buffer[], what: string, halfClose: boolean): Promise<void> {
      const conn = await RawConnection.open(port);
      try {
        const ex = await conn.exchange(parts, { halfClose, timeoutMs: 10_000 });
        const r = ex.responses[0];
        assert.ok(
          r,
          `${what}: no response (connection ${ex.ending}: ${JSON.stringify(ex.leftover.toString().slice(0, 200))})`,
        );
        assertRawAcceptable(r, what);
        // A stream (a subscription) goes on after a half-close, as any answer does.
        if (ex.streaming) return;
        if (halfClose) {
          // Having answered, the server closes its side too (cleanly: FIN, not RST).
          const ending = ex.ending === "open" ? await conn.waitForEnd(5000) : ex.ending;
          assert.equal(ending, "closed", `${what}: the connection is closed cleanly after the answer`);
          return;
        }
        if (ex.streaming || ex.ending !== "open" || /close/i.test(r.headers.connection ?? "")) {
          assert.notEqual(ex.ending, "reset", `${what}: the connection is not reset`);
          return;
        }
        const next = await conn.exchange([validRequest(target)], { timeoutMs: 10_000 });
        assert.ok(
          next.responses[0],
          `${what}: the kept-alive connection answers the next request (${next.ending})`,
        );
        assert.equal(next.responses[0].status, 200, `${what}: the next query on the connection`);
        assert.equal(
          JSON.parse(next.responses[0].body.toString()).data?.pods?.totalCount,
          await target.pods(),
          `${what}: the next query's answer`,
        );
      } finally {
        conn.close();
      }
    }

    it(`bodies cut short: Content-Length larger than what is sent, then half-closed (${runs(scale, 120)} runs)`, {
      timeout: 60_000,
    }, async () => {
      const cut = fc.record({
        target: destination,
        method,
        body,
        missing: fc.integer({ min: 1, max: 2_000_000 }),
        sentOf: fc.nat(),
      });
      await fc.assert(
        fc.asyncProperty(cut, async ({ target: t, method: m, body: b, missing, sentOf }) => {
          const sent = b.slice(0, sentOf % (b.length + 1));
          const length = Buffer.byteLength(b) + missing;
          const head = rawRequest(m, t.path, [...t.headers, ["Content-Length", String(length)]]);
          await checkOne(
            [head, Buffer.from(sent)],
            `${m} ${t.path} ${JSON.stringify(t.headers)} Content-Length ${length}, sent ${JSON.stringify(sent)}`,
            true,
          );
        }),
        fuzzParams(runs(scale, 120)),
      );
      await assertStillServing(target, "after cut bodies");
    });

    it(`broken chunked encoding (${runs(scale, 120)} runs)`, { timeout: 60_000 }, async () => {
      const chunked = fc.record({
        target: destination,
        method,
        body,
        breakage: fc.constantFrom(
          "bad size",
          "size larger than data",
          "no last chunk",
          "last chunk without CRLF",
          "junk extension",
          "negative size",
          "huge size",
          "missing CRLF after data",
        ),
      });
      await fc.assert(
        fc.asyncProperty(chunked, async ({ target: t, method: m, body: b, breakage }) => {
          const hex = Buffer.byteLength(b).toString(16);
          const framed = {
            "bad size": `zz\r\n${b}\r\n0\r\n\r\n`,
            "size larger than data": `${(Buffer.byteLength(b) + 50).toString(16)}\r\n${b}\r\n`,
            "no last chunk": `${hex}\r\n${b}\r\n`,
            "last chunk without CRLF": `${hex}\r\n${b}\r\n0\r\n`,
            "junk extension": `${hex};${"x".repeat(20)}=\u0001\r\n${b}\r\n0\r\n\r\n`,
            "negative size": `-5\r\n${b}\r\n0\r\n\r\n`,
            "huge size": `ffffffffffffffffff\r\n${b}\r\n0\r\n\r\n`,
            "missing CRLF after data": `${hex}\r\n${b}0\r\n\r\n`,
          }[breakage];
          const head = rawRequest(m, t.path, [...t.headers, ["Transfer-Encoding", "chunked"]]);
          await checkOne(
            [head, Buffer.from(framed)],
            `${m} ${t.path} ${JSON.stringify(t.headers)} chunked, ${breakage}`,
            true,
          );
        }),
        fuzzParams(runs(scale, 120)),
      );
      await assertStillServing(target, "after broken chunked bodies");
    });

    it(`huge and odd headers, odd request lines (${runs(scale, 200)} runs)`, {
      timeout: 60_000,
    }, async () => {
      const nonAscii = fc
        .uint8Array({ minLength: 1, maxLength: 30 })
        .map((a) => Buffer.from(a.map((x) => 0x80 | x)).toString("latin1"));
      const oddHeaders = fc.oneof(
        fc.integer({ min: 50, max: 3000 }).map((n) => Array.from({ length: n }, (_, i) => [`X-H${i}`, "v"])),
        fc.integer({ min: 100, max: 40_000 }).map((n) => [["X-Long", "v".repeat(n)]]),
        fc.integer({ min: 100, max: 40_000 }).map((n) => [["Authorization", `Bearer ${"t".repeat(n)}`]]),
        nonAscii.map((v) => [["X-Odd", v]]),
        nonAscii.map((v) => [["Content-Type", `application/json; charset=${v}`]]),
        nonAscii.map((v) => [["Accept", v]]),
        fc.constantFrom(
          [["X-Nul", "a\u0000b"]],
          [["X-Del", "a\u007fb"]],
          [["Content-Type", "application/json"]],
          [["Content-Type", "text/plain"]],
          [["Content-Length", "5"]],
          [["Content-Length", "-1"]],
          [["Content-Length", "abc"]],
          [["Content-Length", "1e3"]],
          [["Content-Length", "100000000000000000000"]],
          [["Content-Length", " 9 "]],
          [["Transfer-Encoding", "gzip"]],
          [["Transfer-Encoding", "chunked, identity"]],
          [["Expect", "100-continue"]],
          [["Expect", "something-else"]],
          [["Connection", "close"]],
          [
            ["Connection", "upgrade"],
            ["Upgrade", "websocket"],
          ],
          [
            ["Connection", "Upgrade, HTTP2-Settings"],
            ["Upgrade", "h2c"],
            ["HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA"],
          ],
          [["Host", ""]],
          [
            ["Host", "a"],
            ["Host", "b"],
          ],
          [["Accept-Encoding", "gzip;q=abc, *;q=-1"]],
          [["Authorization", "Bearer"]],
          [["Authorization", "Basic %%%"]],
          [["X-Request-Id", "\u00ff".repeat(100)]],
          [["Content-Encoding", "gzip"]],
          [["Content-Encoding", "br, deflate, junk"]],
        ),
      ) as fc.Arbitrary<[string, string][]>;
      const duplicates = fc.constantFrom<[string, string][]>(
        [],
        [["Content-Length", "0"]],
        [["Content-Length", "9999"]],
        [["Content-Type", "text/plain"]],
        [["Content-Type", "application/json"]],
        [["Transfer-Encoding", "chunked"]],
      );
      const requestLine = fc.constantFrom(
        (m: string, p: string) => `${m} ${p} HTTP/1.1`,
        (m: string, p: string) => `${m} ${p} HTTP/1.0`,
        (m: string, p: string) => `${m} ${p} HTTP/2.0`,
        (m: string, p: string) => `${m} ${p} HTTP/9.9`,
        (m: string, p: string) => `${m.toLowerCase()} ${p} HTTP/1.1`,
        (m: string, p: string) => `${m}  ${p}  HTTP/1.1`,
        (m: string, p: string) => `${m} ${p}`,
        (m: string, p: string) => `${m} ${p} JUNK/1.1`,
        (m: string, p: string) => `${m} ${p}\u0000 HTTP/1.1`,
      );
      const odd = fc.record({
        target: destination,
        method,
        body,
        oddHeaders,
        duplicates,
        requestLine,
        lineEnd: fc.constantFrom("\r\n", "\r\n", "\n"),
      });
      await fc.assert(
        fc.asyncProperty(
          odd,
          async ({
            target: t,
            method: m,
            body: b,
            oddHeaders: h,
            duplicates: d,
            requestLine: line,
            lineEnd,
          }) => {
            const headers: [string, string][] = [
              ["Host", "127.0.0.1"],
              ...t.headers,
              ...h,
              ["Content-Length", String(Buffer.byteLength(b))],
              ...d,
            ];
            const headerNames = new Set(h.map(([n]) => n.toLowerCase()));
            if (headerNames.has("host")) headers.shift();
            const head =
              [line(m, t.path), ...headers.map(([n, v]) => `${n}: ${v}`)].join(lineEnd) + lineEnd + lineEnd;
            const what = `${line(m, t.path)} ${JSON.stringify(t.headers)} ${JSON.stringify(h).slice(0, 300)} + ${JSON.stringify(d)}, lines end ${JSON.stringify(lineEnd)}`;
            // Half-closed: a request whose framing leaves the server waiting for more still ends.
            await checkOne([Buffer.from(head, "latin1"), Buffer.from(b)], what, true);
          },
        ),
        fuzzParams(runs(scale, 200)),
      );
      await assertStillServing(target, "after odd headers");
    });

    it(`bodies over maxBodyBytes (1 MB): 413 LIMIT_EXCEEDED for every handler and framing (${runs(scale, 40)} runs)`, {
      timeout: 60_000,
    }, async () => {
      const graphqlTarget = destination.filter((t) => t.path === "/graphql");
      const huge = fc.record({
        target: graphqlTarget,
        size: fc.integer({ min: 1_000_001, max: 1_300_000 }),
        framing: fc.constantFrom("Content-Length", "one chunk", "many chunks"),
      });
      await fc.assert(
        fc.asyncProperty(huge, async ({ target: t, size, framing }) => {
          const b = Buffer.alloc(size, "a");
          const parts =
            framing === "Content-Length"
              ? [rawRequest("POST", t.path, t.headers, b)]
              : [
                  rawRequest("POST", t.path, [...t.headers, ["Transfer-Encoding", "chunked"]]),
                  ...(framing === "one chunk"
                    ? [Buffer.from(`${size.toString(16)}\r\n`), b, Buffer.from("\r\n0\r\n\r\n")]
                    : Array.from({ length: Math.ceil(size / 65_536) }, (_, i) => {
                        const chunk = b.subarray(i * 65_536, (i + 1) * 65_536);
                        return Buffer.concat([
                          Buffer.from(`${chunk.length.toString(16)}\r\n`),
                          chunk,
                          Buffer.from("\r\n"),
                        ]);
                      }).concat([Buffer.from("0\r\n\r\n")])),
                ];
          const what = `POST ${JSON.stringify(t.headers)} ${size} bytes, ${framing}`;
          const conn = await RawConnection.open(port);
          try {
            const ex = await conn.exchange(parts, { timeoutMs: 10_000 });
            const r = ex.responses[0];
            assert.ok(r, `${what}: no response (connection ${ex.ending})`);
            assertRawAcceptable(r, what);
            assert.equal(r.status, 413, `${what}: 413 (${r.body.toString().slice(0, 200)})`);
            assert.equal(JSON.parse(r.body.toString()).errors[0].extensions.limit, "maxBodyBytes", what);
            assert.notEqual(ex.ending === "open" ? await conn.waitForEnd(2000) : ex.ending, "reset", what);
          } finally {
            conn.close();
          }
        }),
        fuzzParams(runs(scale, 40)),
      );
      await assertStillServing(target, "after huge bodies");
    });

    it(`a handled error leaves a keep-alive connection answering (${runs(scale, 60)} runs)`, {
      timeout: 30_000,
    }, async () => {
      // Not half-closed: the connection is reused after each refused request.
      const refused = fc.record({
        method: fc.constantFrom("POST", "GET", "PUT", "DELETE", "OPTIONS", "TRACE"),
        contentType: fc.constantFrom("application/json", "text/plain", "application/graphql+json"),
        body: fc.constantFrom("{", "[]", '{"query": 1}', "", GOOD_BODY),
        path: fc.constantFrom("/graphql", "/graphql?x=%zz", "/nope", "/ui/nope", "/graphql/"),
      });
      await fc.assert(
        fc.asyncProperty(refused, async (r) => {
          await checkOne(
            [rawRequest(r.method, r.path, [["Content-Type", r.contentType]], r.body)],
            JSON.stringify(r),
            false,
          );
        }),
        fuzzParams(runs(scale, 60)),
      );
    });
  });
}
