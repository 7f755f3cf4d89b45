// Subscriptions over SSE on node's response (server/sse-fast-path.ts): the same frames as the
// path browsers take (an Origin header: yoga's request handling, with kgql's shared-frame SSE
// processor, subscriptions/sse-frames.ts), errors before the stream starts answered by yoga,
// and the stream ended when the client goes away.
import assert from "node:assert/strict";
import { test } from "node:test";
import { SandboxCluster } from "../../src/sandbox/index.ts";
import { useCleanups } from "../helpers/cleanups.ts";
import { startKgqlOn } from "../helpers/kgql.ts";
import { eventually, pod } from "../helpers/sandbox.ts";

const defer = useCleanups();

async function setup() {
  const sim = new SandboxCluster();
  await sim.start();
  defer(() => sim.stop());
  sim.create("pods", pod("p0", "default", { app: "web" }));
  const kgql = await startKgqlOn(sim, { corsOrigins: ["https://portal.example"] });
  defer(() => kgql.close());
  return { sim, kgql };
}

/** A raw SSE request; `text()` is everything received so far. */
async function open(url: string, query: string, headers: Record<string, string> = {}) {
  const abort = new AbortController();
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream", ...headers },
    body: JSON.stringify({ query }),
    signal: abort.signal,
  });
  let text = "";
  const decoder = new TextDecoder();
  const reading = (async () => {
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>)
        text += decoder.decode(chunk, { stream: true });
    } catch {
      // aborted
    }
  })();
  defer(() => abort.abort());
  return { res, text: () => text, abort: () => abort.abort(), done: reading };
}

/** The data lines of the `next` events. */
const nexts = (text: string) =>
  text
    .split("\n\n")
    .filter((e) => e.startsWith("event: next\n"))
    .map((e) => JSON.parse(e.slice("event: next\ndata: ".length)));

const Q = 'subscription { podStream(namespace: "default", initial: true) { type pod { name labels } } }';

test("the same frames as the path browsers take through yoga", async () => {
  const { sim, kgql } = await setup();
  const direct = await open(kgql.url, Q);
  const browser = await open(kgql.url, Q, { origin: "https://portal.example" });
  for (const s of [direct, browser]) {
    assert.equal(s.res.status, 200);
    assert.match(s.res.headers.get("content-type") ?? "", /^text\/event-stream/);
  }
  await eventually(() => nexts(direct.text()).length === 2 && nexts(browser.text()).length === 2, "SYNCED");
  sim.patch("pods", "default", "p0", { metadata: { labels: { app: "web", v: "2" } } });
  await eventually(
    () => nexts(direct.text()).length === 3 && nexts(browser.text()).length === 3,
    "the change",
  );
  assert.ok(direct.text().startsWith(":\n\n"), "a first comment flushes the headers");
  assert.deepEqual(nexts(direct.text()), nexts(browser.text()));
  assert.deepEqual(nexts(direct.text())[2], {
    data: { podStream: { type: "MODIFIED", pod: { name: "p0", labels: { app: "web", v: "2" } } } },
  });
  // Each took its own path: the direct request kgql's SSE fast path (counted once it has
  // ended), the browser's yoga.
  direct.abort();
  const metrics = async () => (await fetch(kgql.url.replace("/graphql", "/metrics"))).text();
  let text = await metrics();
  for (let i = 0; i < 50 && !/handler="sse-fast"\} 1\n/.test(text); i++) {
    await new Promise((r) => setTimeout(r, 100));
    text = await metrics();
  }
  assert.match(text, /kgql_http_requests_total\{handler="sse-fast"\} 1\n/);
  assert.match(text, /kgql_http_requests_total\{handler="yoga"\} 1\n/);
});

test("a subscription refused before its stream starts gets yoga's error answer", async () => {
  const { kgql } = await setup();
  const s = await open(kgql.url, 'subscription { podStream(labelSelector: "app in (") { type } }');
  await s.done;
  const [first] = nexts(s.text());
  assert.match(JSON.stringify(first.errors), /BAD_USER_INPUT/);
  assert.match(s.text(), /event: complete/);
  assert.equal(kgql.gateway.subscriberCount(), 0);
});

test("a client that goes away ends its subscription", async () => {
  const { kgql } = await setup();
  const s = await open(kgql.url, Q);
  await eventually(() => kgql.gateway.subscriberCount() === 1, "the subscription");
  s.abort();
  await eventually(() => kgql.gateway.subscriberCount() === 0, "the subscription to end");
});
