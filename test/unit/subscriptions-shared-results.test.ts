// Shared subscription results (subscriptions/shared-results.ts) at the level of one executor:
// a hub fed by a stand-in informer (changes applied synchronously, in a known order), a schema
// whose payload depends on the caller's visibility, and sharedSubscribe with a cache of its own.
// The end-to-end version, through both transports and real RBAC answers, is
// subscription-sharing.test.ts.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type ExecutionResult,
  GraphQLBoolean,
  GraphQLList,
  GraphQLObjectType,
  GraphQLSchema,
  GraphQLString,
  parse,
} from "graphql";
import { RbacVisibility } from "../../src/auth/visibility.ts";
import type { SharedInformer } from "../../src/informers/shared-informer.ts";
import { RequestContext, SEE_EVERYTHING, type Visibility } from "../../src/resolvers/context.ts";
import type { Gateway } from "../../src/resolvers/gateway.ts";
import { ResourceEventHub } from "../../src/subscriptions/hub.ts";
import { SharedResults, sharedSubscribe, visibilityKey } from "../../src/subscriptions/shared-results.ts";
import { frameOf } from "../../src/subscriptions/sse-frames.ts";
import type { StreamEvent } from "../../src/subscriptions/types.ts";
import { StandInInformer } from "../helpers/stand-in-informer.ts";

type Allowed = "all" | Set<string>;
const rbac = (pods: Allowed, username = "u") =>
  new RbacVisibility({ username, groups: [] }, new Map<string, Allowed>([["Pod", pods]]));
const POD = { group: "", resource: "pods", kind: "Pod" };

/**
 * podStream-like: every change to a pod, with the namespaces of ["ns-a", "ns-b"] the caller may
 * see pods in (an answer that depends on the visibility, as a traversal's would).
 */
function schemaOver(hub: ResourceEventHub): GraphQLSchema {
  const Event = new GraphQLObjectType({
    name: "Event",
    fields: {
      type: { type: GraphQLString },
      resourceVersion: { type: GraphQLString },
      name: {
        type: GraphQLString,
        resolve: (e: StreamEvent) => ("object" in e ? e.object.metadata.name : null),
      },
      visibleNamespaces: {
        type: new GraphQLList(GraphQLString),
        resolve: (_e: StreamEvent, _a: unknown, ctx: RequestContext) =>
          ["ns-a", "ns-b"].filter((ns) => ctx.visible("Pod", ns)),
      },
    },
  });
  return new GraphQLSchema({
    query: new GraphQLObjectType({ name: "Query", fields: { ok: { type: GraphQLString } } }),
    subscription: new GraphQLObjectType({
      name: "Subscription",
      fields: {
        pods: {
          type: Event,
          args: { initial: { type: GraphQLBoolean }, resumeFrom: { type: GraphQLString } },
          subscribe: (
            _: unknown,
            args: { initial?: boolean | null; resumeFrom?: string | null },
            ctx: RequestContext,
          ) =>
            hub.subscribe({
              filter: (o) => ctx.visible("Pod", o.metadata.namespace),
              initial: args.initial ?? false,
              resumeFrom: args.resumeFrom ?? undefined,
            }),
          resolve: (e: unknown) => e,
        },
      },
    }),
  });
}

/** A result's payload as plain objects (graphql-js builds them without prototypes). */
const payload = (r: ExecutionResult) => JSON.parse(JSON.stringify(r.data)).pods;

const DOCUMENT = parse(`subscription ($initial: Boolean, $from: String) {
  pods(initial: $initial, resumeFrom: $from) { type resourceVersion name visibleNamespaces }
}`);

function setup(opts: { pods?: number } = {}) {
  const informer = new StandInInformer();
  for (let i = 0; i < (opts.pods ?? 0); i++) informer.apply(`p${i}`, "ns-a");
  const hub = new ResourceEventHub(informer as unknown as SharedInformer);
  const schema = schemaOver(hub);
  const cache = new SharedResults();
  /** One subscriber with its own request context (as each request has). */
  const subscribe = async (visibility: Visibility, variables: { initial?: boolean; from?: string } = {}) => {
    const ctx = new RequestContext({} as Gateway, visibility);
    const stream = (await sharedSubscribe(cache, {
      schema,
      document: DOCUMENT,
      contextValue: ctx,
      variableValues: variables,
    })) as AsyncGenerator<ExecutionResult>;
    const next = async () => (await stream.next()).value as ExecutionResult;
    /** The next n results' payloads. */
    const take = async (n: number) => {
      const out = [];
      for (let i = 0; i < n; i++) out.push(payload(await next()));
      return out;
    };
    return { ctx, next, take, close: () => stream.return(undefined) };
  };
  return { informer, hub, cache, subscribe };
}

test("sharing keys: equal only for identical permissions, whoever the user; a new decision changes it", () => {
  const a = new RbacVisibility(
    { username: "alice", groups: [] },
    new Map<string, Allowed>([
      ["Pod", new Set(["x", "y"])],
      ["Node", "all"],
    ]),
  );
  const b = new RbacVisibility(
    { username: "bob", groups: [] },
    new Map<string, Allowed>([
      ["Node", "all"],
      ["Pod", new Set(["y", "x"])],
    ]),
  );
  assert.equal(a.sharingKey(), b.sharingKey());
  assert.notEqual(a.sharingKey(), rbac(new Set(["x"])).sharingKey());
  assert.notEqual(rbac("all").sharingKey(), SEE_EVERYTHING.sharingKey!(), "RBAC 'all' is not 'everything'");
  const before = a.sharingKey();
  a.add({ group: "example.com", resource: "widgets", kind: "Widget" }, new Set(["x"]));
  assert.notEqual(a.sharingKey(), before, "the cached key is dropped when a decision is added");
  assert.notEqual(a.sharingKey(), b.sharingKey());
  b.add({ group: "example.com", resource: "widgets", kind: "Widget" }, new Set(["x"]));
  assert.equal(a.sharingKey(), b.sharingKey());
});

test("visibilityKey is the visibility's own sharing key; without one, a key no other visibility has", () => {
  const custom = (key?: string): Visibility => ({
    allows: () => true,
    allowsAll: () => true,
    ...(key === undefined ? {} : { sharingKey: () => key }),
  });
  assert.equal(visibilityKey(custom("k")), visibilityKey(custom("k")));
  assert.notEqual(visibilityKey(custom("k")), visibilityKey(custom("other")));
  const anonymous = custom();
  assert.equal(visibilityKey(anonymous), visibilityKey(anonymous));
  assert.notEqual(visibilityKey(anonymous), visibilityKey(custom()));
  assert.equal(visibilityKey(SEE_EVERYTHING), SEE_EVERYTHING.sharingKey!());
});

test("equal visibilities share one execution; one widened mid-stream gets its own, right answer", async () => {
  const { informer, cache, subscribe } = setup();
  const alice = rbac(new Set(["ns-a"]), "alice");
  const carol = rbac(new Set(["ns-a"]), "carol");
  const a = await subscribe(alice);
  const c = await subscribe(carol);

  informer.apply("p0", "ns-a");
  const [a1, c1] = await Promise.all([a.next(), c.next()]);
  assert.deepEqual(payload(a1), {
    type: "ADDED",
    resourceVersion: "2",
    name: "p0",
    visibleNamespaces: ["ns-a"],
  });
  assert.equal(c1, a1, "carol got alice's result object: executed once");
  assert.deepEqual(cache.stats, { executed: 1, shared: 1 });

  // carol may now list pods everywhere (the same visibility object, a new decision in it).
  carol.add(POD, "all");
  informer.apply("p0", "ns-a", { v: "2" });
  const [a2, c2] = await Promise.all([a.next(), c.next()]);
  assert.deepEqual(payload(a2), {
    type: "MODIFIED",
    resourceVersion: "3",
    name: "p0",
    visibleNamespaces: ["ns-a"],
  });
  assert.deepEqual(payload(c2), {
    type: "MODIFIED",
    resourceVersion: "3",
    name: "p0",
    visibleNamespaces: ["ns-a", "ns-b"],
  });
  assert.equal(cache.stats.executed, 3);
});

test("events only one subscriber was handed (initial state, SYNCED, history replay) never enter the cache", async () => {
  const { informer, cache, subscribe } = setup({ pods: 3 });
  const first = await subscribe(SEE_EVERYTHING, { initial: true });
  const initial = await first.take(4);
  assert.deepEqual(
    initial.map((e) => `${e.type} ${e.name}`),
    ["ADDED p0", "ADDED p1", "ADDED p2", "SYNCED null"],
  );
  assert.equal(cache.size, 0, "a lone initial state and its SYNCED are not cached");
  informer.apply("p0", "ns-a", { v: "1" });
  await first.take(1);
  assert.equal(cache.size, 0, "nor a live change only one subscriber sees");

  // A client resuming from the SYNCED it saw: the change it missed, replayed for it alone.
  const resumed = await subscribe(SEE_EVERYTHING, { from: initial[3].resourceVersion });
  assert.deepEqual(
    (await resumed.take(2)).map((e) => `${e.type} ${e.name}`),
    ["MODIFIED p0", "SYNCED null"],
  );
  assert.equal(cache.size, 0, "nor a history replay");
  await resumed.close();

  // A second live subscriber with the same operation: the next change is executed once, cached.
  const second = await subscribe(SEE_EVERYTHING, { initial: true });
  await second.take(4);
  assert.equal(cache.size, 0, "an initial state at a new position is that subscriber's alone");
  informer.apply("p1", "ns-a", { v: "1" });
  const [a, b] = await Promise.all([first.next(), second.next()]);
  assert.equal(a, b);
  assert.equal(cache.size, 1);
  assert.deepEqual(cache.stats, { executed: 4 + 1 + 2 + 4 + 1, shared: 1 });
});

test("initial states taken at one position are shared from the second subscriber on", async () => {
  const { cache, subscribe } = setup({ pods: 3 });
  const names = async (s: { take(n: number): Promise<{ type: string; name: string }[]> }) =>
    (await s.take(4)).map((e) => `${e.type} ${e.name}`);
  const expected = ["ADDED p0", "ADDED p1", "ADDED p2", "SYNCED null"];
  // One after the other, each reading its whole initial state before the next subscribes.
  assert.deepEqual(await names(await subscribe(SEE_EVERYTHING, { initial: true })), expected);
  assert.equal(cache.size, 0, "the first one's events were its alone when it ran them");
  assert.deepEqual(await names(await subscribe(SEE_EVERYTHING, { initial: true })), expected);
  assert.equal(cache.size, 3, "the second got the same ADDED events: their results are cached");
  assert.deepEqual(await names(await subscribe(SEE_EVERYTHING, { initial: true })), expected);
  // SYNCED is each subscriber's own: executed three times, never cached.
  assert.equal(cache.size, 3);
  assert.deepEqual(cache.stats, { executed: 4 + 4 + 1, shared: 3 });
});

test("a shared result keeps no serialized copy but its SSE frame, built once when first sent", async () => {
  const { informer, subscribe } = setup();
  const [a, b] = [await subscribe(SEE_EVERYTHING), await subscribe(SEE_EVERYTHING)];
  informer.apply("p0", "ns-a");
  const [ra, rb] = await Promise.all([a.next(), b.next()]);
  assert.equal(ra, rb, "one result object for both (graphql-ws sends it as it is)");
  assert.deepEqual(Object.getOwnPropertyNames(ra), ["data"], "no memoized JSON beside the data");
  const frame = frameOf(ra);
  assert.equal(frameOf(rb), frame, "the same bytes for every SSE subscriber");
  assert.equal(new TextDecoder().decode(frame), `event: next\ndata: ${JSON.stringify(ra)}\n\n`);
  // A result nobody shares gets its frame, and nothing is kept for it.
  const lone: ExecutionResult = { data: { n: 1 } };
  assert.notEqual(frameOf(lone), frameOf(lone));
});
