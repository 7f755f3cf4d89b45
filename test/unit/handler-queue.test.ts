import assert from "node:assert/strict";
import { test } from "node:test";
import { HandlerRegistration } from "../../src/informers/handler-queue.ts";
import type { KubeObject } from "../../src/informers/types.ts";

const obj = (name: string, rv: string): KubeObject => ({
  metadata: { name, uid: name, resourceVersion: rv },
});
const tick = () => new Promise((r) => setImmediate(r));
async function until(cond: () => boolean, what: string) {
  for (let i = 0; i < 1000 && !cond(); i++) await tick();
  assert.ok(cond(), `timed out waiting for ${what}`);
}

test("events are delivered in order, off the caller's stack", async () => {
  const seen: string[] = [];
  const reg = new HandlerRegistration(
    {
      onAdd: (o) => seen.push(`add ${o.metadata.name}`),
      onUpdate: (a, b) => seen.push(`update ${a.metadata.resourceVersion}->${b.metadata.resourceVersion}`),
      onDelete: (o, t) => seen.push(`delete ${o.metadata.name} ${t}`),
    },
    10,
    () => {},
  );
  reg.enqueue({ type: "ADDED", object: obj("a", "1"), initial: false });
  reg.enqueue({ type: "MODIFIED", oldObject: obj("a", "1"), object: obj("a", "2") });
  reg.enqueue({ type: "DELETED", object: obj("a", "3"), tombstone: true });
  assert.deepEqual(seen, [], "nothing runs synchronously inside enqueue");
  await until(() => seen.length === 3, "3 events");
  assert.deepEqual(seen, ["add a", "update 1->2", "delete a true"]);
});

test("overflow drops the queue and asks the handler to resync once, then continues", async () => {
  const seen: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const reg = new HandlerRegistration(
    {
      onAdd: async (o) => {
        seen.push(o.metadata.name);
        if (o.metadata.name === "first") await gate;
      },
      onResyncRequired: () => seen.push("RESYNC"),
    },
    5,
    () => {},
  );
  reg.enqueue({ type: "ADDED", object: obj("first", "1"), initial: false });
  await until(() => seen.length === 1, "the first event to block the handler");
  for (let i = 0; i < 20; i++)
    reg.enqueue({ type: "ADDED", object: obj(`o${i}`, String(i)), initial: false });
  assert.ok(reg.depth <= 6, `queue stays bounded (depth ${reg.depth})`);
  assert.equal(reg.stats.overflows, 4, "limit 5: overflows at the 6th, 10th, 14th and 18th queued event");
  release();
  await until(() => seen.includes("RESYNC"), "the resync marker");
  reg.enqueue({ type: "ADDED", object: obj("after", "99"), initial: false });
  await until(() => seen.includes("after"), "an event after the resync");
  // Events already reflected in the store when the handler re-read it are not re-delivered.
  assert.deepEqual(seen, ["first", "RESYNC", "after"]);
});

test("replayed objects do not count against the queue limit; hasSynced waits for the SYNCED marker", async () => {
  const seen: string[] = [];
  const reg = new HandlerRegistration(
    { onAdd: (o, initial) => seen.push(`${o.metadata.name}:${initial}`) },
    2,
    () => {},
  );
  reg.enqueueReplay([obj("a", "1"), obj("b", "2"), obj("c", "3"), obj("d", "4")]);
  reg.enqueue({ type: "SYNCED" });
  reg.enqueue({ type: "ADDED", object: obj("e", "5"), initial: false });
  assert.equal(reg.stats.overflows, 0);
  assert.equal(reg.hasSynced(), false);
  await until(() => seen.length === 5, "replay and live event");
  assert.equal(reg.hasSynced(), true);
  assert.deepEqual(seen, ["a:true", "b:true", "c:true", "d:true", "e:false"]);
});

test("a throwing or rejecting handler is reported and does not stop delivery", async () => {
  const errors: unknown[] = [];
  const seen: string[] = [];
  const reg = new HandlerRegistration(
    {
      onAdd: (o) => {
        seen.push(o.metadata.name);
        if (o.metadata.name === "boom") throw new Error("boom");
        if (o.metadata.name === "reject") return Promise.reject(new Error("reject"));
      },
    },
    10,
    (err) => errors.push(err),
  );
  for (const n of ["boom", "reject", "ok"])
    reg.enqueue({ type: "ADDED", object: obj(n, "1"), initial: false });
  await until(() => seen.length === 3, "all events");
  assert.deepEqual(seen, ["boom", "reject", "ok"]);
  assert.equal(errors.length, 2);
  assert.equal(reg.stats.errors, 2);
});
