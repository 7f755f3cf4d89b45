// Fuzz: graphql-ws misuse over WebSocket: wrong or missing subprotocols and paths, messages
// before connection_init or its ack, connection_init twice, junk and binary frames, unknown
// message types, duplicate ids, subscribes with bad payloads, huge messages, closing in the
// middle of operations. Each connection ends in an answer the protocol defines: GraphQL errors
// with messages, or a close with a client-error code (4400-4499, 1000/1001, 1002/1007/1009
// for broken frames), never 4500/1011 (internal errors) or a connection dropped without a
// close frame; no subscription outlives its connection; afterwards a real subscription streams
// over WebSocket and queries are answered correctly.
// Replay a failure: KGQL_FUZZ_SEED=<seed> KGQL_FUZZ_PATH=<path>.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import WebSocket from "ws";
import {
  assertErrorsHaveMessages,
  assertStillServing,
  assertStreamsDeletion,
  type FuzzTarget,
  fuzzParams,
  runs,
  within,
} from "./fuzz.ts";

const junk = fc.string({ unit: "binary", maxLength: 40 });
const id = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom("1", "2", "3") },
  { weight: 1, arbitrary: fc.oneof(fc.constant(""), junk, fc.jsonValue({ maxDepth: 1 })) },
);

const QUERIES = [
  "subscription { podEvents { type pod { name } } }",
  'subscription { podStream(namespace: "default", initial: true) { type } }',
  'subscription { podEvents(labelSelector: "app in (") { type } }',
  'subscription { resourceEvents(group: "nope", version: "v1", resource: "x") { type } }',
  "subscription { noSuchEvents }",
  "{ pods { totalCount } }",
  "query($n: Int) { pods(first: $n) { totalCount } }",
  "mutation { deletePods }",
  "subscription { podEvents { type",
  `{ ${"pods { totalCount } ".repeat(3000)}}`,
];
/** Mostly well-shaped subscribe payloads (so that operations start), some of the wrong shape. */
const payload = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record(
      {
        query: fc.oneof(
          { weight: 6, arbitrary: fc.constantFrom(...QUERIES) },
          { weight: 1, arbitrary: junk },
          { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) },
        ),
        variables: fc.oneof(
          { weight: 3, arbitrary: fc.record({ n: fc.oneof(fc.integer(), fc.jsonValue({ maxDepth: 1 })) }) },
          { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
        ),
        operationName: fc.oneof(
          { weight: 3, arbitrary: fc.constant(null) },
          { weight: 1, arbitrary: fc.oneof(junk, fc.jsonValue({ maxDepth: 1 })) },
        ),
        extensions: fc.oneof(
          { weight: 3, arbitrary: fc.constant(null) },
          { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
        ),
      },
      { requiredKeys: ["query"] },
    ),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);

/** One message the client sends. */
const message = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("init" as const),
      payload: fc.option(fc.jsonValue({ maxDepth: 2 })),
    }),
  },
  { weight: 12, arbitrary: fc.record({ kind: fc.constant("subscribe" as const), id, payload }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("complete" as const), id }) },
  { weight: 1, arbitrary: fc.constantFrom({ kind: "ping" as const }, { kind: "pong" as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("type" as const),
      type: fc.oneof(junk, fc.jsonValue({ maxDepth: 1 })),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("text" as const), text: junk }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("binary" as const), bytes: fc.uint8Array({ maxLength: 64 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("huge" as const),
      size: fc.integer({ min: 200_000, max: 1_500_000 }),
    }),
  },
);
type Message = typeof message extends fc.Arbitrary<infer T> ? T : never;

function frameOf(m: Message): string | Buffer {
  switch (m.kind) {
    case "init":
      return JSON.stringify({
        type: "connection_init",
        ...(m.payload === null ? {} : { payload: m.payload }),
      });
    case "subscribe":
      return JSON.stringify({ type: "subscribe", id: m.id, payload: m.payload });
    case "complete":
      return JSON.stringify({ type: "complete", id: m.id });
    case "ping":
    case "pong":
      return JSON.stringify({ type: m.kind });
    case "type":
      return JSON.stringify({ type: m.type, id: "1" });
    case "text":
      return m.text;
    case "binary":
      return Buffer.from(m.bytes);
    case "huge":
      return JSON.stringify({
        type: "subscribe",
        id: "big",
        payload: { query: `{ ${"a ".repeat(m.size / 2)}}` },
      });
  }
}

const connection = fc.record({
  protocol: fc.oneof(
    { weight: 8, arbitrary: fc.constant<string[] | undefined>(["graphql-transport-ws"]) },
    {
      weight: 1,
      arbitrary: fc.constantFrom<string[] | undefined>(
        ["graphql-ws"],
        ["junk"],
        ["junk", "graphql-transport-ws"],
        undefined,
      ),
    },
  ),
  path: fc.oneof(
    { weight: 8, arbitrary: fc.constant("/graphql") },
    {
      weight: 1,
      arbitrary: fc.constantFrom("/graphql/", "/GRAPHQL", "/other", "/graphql?x=%zz", "//graphql"),
    },
  ),
  // Most connections start properly (waiting for the ack), so that the messages after it reach
  // the operations; some send their messages before the ack, or with no connection_init.
  start: fc.constantFrom("init", "init", "init", "init-no-wait", "none"),
  messages: fc.array(message, { maxLength: 6 }),
  // How the client ends: closing (maybe mid-operation), dropping the socket, or waiting.
  end: fc.constantFrom("close", "terminate", "wait"),
});
type Connection = typeof connection extends fc.Arbitrary<infer T> ? T : never;

/** A well-behaved connection: init, one query, then waiting for its answer and complete. */
const COMPLETED_QUERY = {
  protocol: ["graphql-transport-ws"],
  path: "/graphql",
  start: "init",
  messages: [{ kind: "subscribe", id: "q", payload: { query: "{ pods { totalCount } }" } }],
  end: "wait",
} as Connection;

/** Close codes that answer a client's mistake (or end normally); anything else fails the run. */
const CLIENT_CLOSE = (code: number) =>
  code === 1000 ||
  code === 1001 ||
  code === 1002 ||
  code === 1007 ||
  code === 1009 ||
  (code >= 4400 && code < 4500);

/**
 * The family's tests against a gateway `makeTarget` starts (the simulator, or the real control
 * plane), with `scale` times the simulator's runs.
 */
export function fuzzWs(makeTarget: () => Promise<FuzzTarget>, scale = 1): void {
  describe("fuzz: WebSocket (graphql-ws) misuse", () => {
    let target: FuzzTarget;
    let kgql: FuzzTarget["kgql"];
    let wsBase: string;

    before(async () => {
      target = await makeTarget();
      kgql = target.kgql;
      wsBase = kgql.url.replace(/^http/, "ws").replace(/\/graphql$/, "");
    });
    after(async () => {
      await target?.close();
    });

    const outcomes = new Map<string, number>();
    /** Runs one connection; throws (an assertion) on an answer outside the protocol. */
    async function runOne(c: Connection, what: string): Promise<void> {
      const socket = new WebSocket(`${wsBase}${c.path}`, c.protocol);
      const received: { type?: string; id?: unknown; payload?: unknown }[] = [];
      let closed: { code: number; reason: string } | undefined;
      let rejected: number | undefined;
      let clientError: string | undefined;
      const done = new Promise<void>((resolve) => {
        socket.on("message", (data, isBinary) => {
          assert.ok(!isBinary, `${what}: the server sends text frames`);
          received.push(JSON.parse(data.toString()));
        });
        socket.on("close", (code, reason) => {
          closed = { code, reason: reason.toString() };
          resolve();
        });
        // A refused handshake is an HTTP answer: its status is checked below.
        socket.on("unexpected-response", (_req, res) => {
          rejected = res.statusCode;
          res.resume();
          socket.terminate();
        });
        socket.on("error", (err) => {
          clientError = err.message;
        });
      });
      const opened = await Promise.race([
        new Promise<boolean>((resolve) => socket.once("open", () => resolve(true))),
        done.then(() => false),
      ]);
      if (!opened) {
        // A subprotocol graphql-ws does not speak: it accepts the upgrade choosing none (then
        // closes with 4406), and the client gives up at once, as RFC 6455 has it.
        if (clientError === "Server sent no subprotocol" && !c.protocol?.includes("graphql-transport-ws"))
          return;
        assert.ok(
          rejected !== undefined && rejected >= 400 && rejected < 500,
          `${what}: the handshake refused with a 4xx (${rejected}, ${JSON.stringify(closed)})`,
        );
        return;
      }
      if (c.start !== "none") socket.send(JSON.stringify({ type: "connection_init" }));
      if (c.start === "init") {
        const until = Date.now() + 2000;
        while (!received.some((m) => m.type === "connection_ack") && !closed && Date.now() < until)
          await new Promise((r) => setTimeout(r, 2));
        if (c.protocol?.includes("graphql-transport-ws"))
          assert.ok(received[0]?.type === "connection_ack", `${what}: connection_init is acknowledged`);
      }
      const frames = c.messages.map(frameOf);
      for (const frame of frames) {
        if (socket.readyState !== WebSocket.OPEN) break;
        socket.send(frame);
      }
      // Long enough for the answers to the messages (and a first event) to arrive.
      await within(done, 100);
      if (!closed) {
        if (c.end === "close") socket.close(1000);
        else if (c.end === "terminate") socket.terminate();
        else {
          await within(done, 50);
          socket.close(1000);
        }
        await within(done, 3000);
      }
      assert.ok(closed, `${what}: the connection ends`);
      // A close we did not start: a code that names the client's mistake, never an internal one,
      // and a close frame (1006 is a connection dropped without one).
      if (closed.code !== 1000 || c.end === "wait")
        assert.ok(
          CLIENT_CLOSE(closed.code) ||
            (closed.code === 1005 && c.end !== "wait") ||
            (closed.code === 1006 && c.end === "terminate"),
          `${what}: closed with ${closed.code} ${closed.reason}`,
        );
      outcomes.set(`close ${closed.code}`, (outcomes.get(`close ${closed.code}`) ?? 0) + 1);
      for (const m of received) outcomes.set(`${m.type}`, (outcomes.get(`${m.type}`) ?? 0) + 1);
      for (const m of received) {
        if (m.type === "next") {
          const errors = (m.payload as { errors?: unknown }).errors;
          if (errors !== undefined)
            assertErrorsHaveMessages(errors, `${what}: next ${JSON.stringify(m).slice(0, 300)}`);
        } else if (m.type === "error") {
          assertErrorsHaveMessages(m.payload, `${what}: error ${JSON.stringify(m).slice(0, 300)}`);
        } else {
          assert.ok(
            ["connection_ack", "complete", "ping", "pong"].includes(m.type as string),
            `${what}: message ${JSON.stringify(m).slice(0, 200)}`,
          );
        }
      }
    }

    it(`misused graphql-ws connections (${runs(scale, 250)} runs)`, { timeout: 90_000 }, async () => {
      let answered = 0;
      await fc.assert(
        fc.asyncProperty(connection, async (c) => {
          const what = JSON.stringify(c, (_k, v) =>
            typeof v === "string" && v.length > 200 ? `${v.slice(0, 200)}...` : v,
          );
          const baseline = kgql.gateway.subscriberCount();
          await runOne(c, what);
          answered++;
          const until = Date.now() + 3000;
          while (kgql.gateway.subscriberCount() > baseline && Date.now() < until)
            await new Promise((r) => setTimeout(r, 10));
          assert.equal(
            kgql.gateway.subscriberCount(),
            baseline,
            `${what}: no subscription outlives its connection`,
          );
        }),
        // Run first, whatever the seed: a proper query, answered and completed, so the coverage
        // check below never depends on whether random runs happened to wait for a complete.
        { ...fuzzParams(runs(scale, 250)), examples: [[COMPLETED_QUERY]] },
      );
      assert.equal(answered, runs(scale, 250), "every run completed");
      // The generators reach every kind of answer: events, errors, and each protocol refusal.
      if (scale >= 1)
        for (const outcome of [
          "next",
          "error",
          "complete",
          "close 4400",
          "close 4401",
          "close 4409",
          "close 4429",
        ])
          assert.ok(
            outcomes.has(outcome),
            `some connection got ${outcome}: ${JSON.stringify([...outcomes])}`,
          );
      await assertStillServing(target, "after WebSocket misuse");
      // And a real subscription still streams: a pod deleted in the cluster arrives as DELETED.
      await assertStreamsDeletion("ws", target);
    });

    it(`a message over maxBodyBytes (1 MB) closes the connection with 1009 (${runs(scale, 12)} runs)`, {
      timeout: 60_000,
    }, async () => {
      const huge = fc.record({
        size: fc.integer({ min: 1_000_001, max: 1_500_000 }),
        kind: fc.constantFrom("subscribe", "junk", "binary"),
      });
      await fc.assert(
        fc.asyncProperty(huge, async ({ size, kind }) => {
          const what = `${kind} message of ${size} bytes`;
          const socket = new WebSocket(wsBase + "/graphql", "graphql-transport-ws");
          try {
            const closed = new Promise<number>((resolve) => socket.on("close", (code) => resolve(code)));
            const acked = new Promise<void>((resolve) =>
              socket.on("message", (d) => {
                if (JSON.parse(d.toString()).type === "connection_ack") resolve();
              }),
            );
            socket.on("error", () => {});
            await new Promise((resolve) => socket.once("open", resolve));
            socket.send(JSON.stringify({ type: "connection_init" }));
            assert.ok(
              await within(
                acked.then(() => true),
                5000,
              ),
              `${what}: acknowledged`,
            );
            const query = `{ ${"a ".repeat(Math.ceil(size / 2))}}`;
            const frame =
              kind === "subscribe"
                ? JSON.stringify({ type: "subscribe", id: "1", payload: { query } })
                : kind === "junk"
                  ? "x".repeat(size)
                  : Buffer.alloc(size, 1);
            socket.send(frame);
            assert.equal(await within(closed, 10_000), 1009, `${what}: closed with 1009 (message too big)`);
          } finally {
            socket.terminate();
          }
        }),
        fuzzParams(runs(scale, 12)),
      );
      await assertStillServing(target, "after huge WebSocket messages");
    });
  });
}
