// How objects are decoded on their way into the cache: managedFields cut from the JSON text
// before parsing, the default transform, and string and sub-object sharing. All must be lossless apart from
// the two stripped fields.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  EVENT_MANAGED_FIELDS_PATH,
  findMemberCut,
  MANAGED_FIELDS_PATH,
  parseWithout,
} from "../../src/informers/json-cut.ts";
import { ListStreamParser } from "../../src/informers/list-parser.ts";
import { ValueSharer } from "../../src/informers/share.ts";
import { LAST_APPLIED_ANNOTATION, stripBulkyMetadata } from "../../src/informers/transform.ts";
import type { KubeObject } from "../../src/informers/types.ts";
import { WatchLineParser } from "../../src/informers/watch-parser.ts";
import { eventually, informerFor, pod, startSandbox } from "../helpers/sandbox.ts";

const managedFields = [
  {
    manager: 'kube"controller]}',
    operation: "Update",
    fieldsV1: { "f:metadata": { "f:labels": { ".": {}, "f:app": {} } }, 'k:{"uid":"x"}': {} },
  },
];

/** JSON.parse, then managedFields removed: what the cut must be equivalent to. */
function reference(text: string, inEvent: boolean): unknown {
  const v = JSON.parse(text);
  const obj = inEvent ? v.object : v;
  if (obj?.metadata && typeof obj.metadata === "object") delete obj.metadata.managedFields;
  return v;
}

function variants(): { name: string; value: Record<string, unknown> }[] {
  const meta = { name: "a", namespace: "ns", labels: { "managedFields]": '"managedFields":[' } };
  return [
    { name: "last in metadata", value: { kind: "Pod", metadata: { ...meta, managedFields } } },
    { name: "first in metadata", value: { metadata: { managedFields, ...meta }, spec: {} } },
    { name: "middle", value: { metadata: { name: "a", managedFields, uid: "u" } } },
    { name: "only member", value: { metadata: { managedFields } } },
    { name: "null value", value: { metadata: { ...meta, managedFields: null } } },
    { name: "absent", value: { metadata: meta, status: { phase: "Running" } } },
    {
      name: "nested elsewhere only",
      value: { metadata: meta, spec: { managedFields: [1], metadata: { managedFields: [2] } } },
    },
    {
      name: "metadata after spec, unicode",
      value: { spec: { note: "ü ✓ \\ \u2028", managedFields: [3] }, metadata: { managedFields, name: "é" } },
    },
  ];
}

test("cutting managedFields from the text equals parsing and deleting it, for objects and events", () => {
  for (const { name, value } of variants()) {
    for (const indent of [undefined, 2]) {
      const objText = JSON.stringify(value, null, indent);
      assert.deepEqual(
        parseWithout(Buffer.from(objText), MANAGED_FIELDS_PATH),
        reference(objText, false),
        name,
      );
      for (const type of ["ADDED", "MODIFIED", "DELETED"]) {
        const eventText = JSON.stringify({ type, object: value }, null, indent);
        assert.deepEqual(
          parseWithout(Buffer.from(eventText), EVENT_MANAGED_FIELDS_PATH),
          reference(eventText, true),
          `${name} in ${type}`,
        );
      }
    }
  }
  // The cut keeps nested members of the same name and everything outside metadata.
  const nested = parseWithout(
    Buffer.from(JSON.stringify(variants()[6]!.value)),
    MANAGED_FIELDS_PATH,
  ) as KubeObject;
  assert.deepEqual(nested.spec, { managedFields: [1], metadata: { managedFields: [2] } });
});

test("the cut never makes bad JSON acceptable and leaves other shapes alone", () => {
  const bad = [
    '{"metadata":{"managedFields":[1,2}',
    '{"metadata":{"managedFields":[1,2}},"x":1}',
    '{"metadata":{"managedFields":[{"a":1]}]},"x":1}',
    '{"metadata":{"managedFields":[]',
    '{"metadata" {}}',
  ];
  for (const text of bad) {
    assert.throws(() => JSON.parse(text), SyntaxError, `the case itself is bad JSON: ${text}`);
    assert.throws(() => parseWithout(Buffer.from(text), MANAGED_FIELDS_PATH), SyntaxError, text);
  }
  // Mismatched brackets inside managedFields: no cut is offered at all.
  assert.equal(findMemberCut(Buffer.from(bad[1]!), MANAGED_FIELDS_PATH), undefined);
  // A top-level array is not an object: nothing to cut, parsed as it is.
  assert.equal(findMemberCut(Buffer.from("[1,2]"), MANAGED_FIELDS_PATH), undefined);
  assert.deepEqual(parseWithout(Buffer.from("[1,2]"), MANAGED_FIELDS_PATH), [1, 2]);
  // Status objects of ERROR events and bookmarks have no managedFields: parsed as they are.
  const status = { type: "ERROR", object: { kind: "Status", code: 410, message: "too old" } };
  assert.deepEqual(parseWithout(Buffer.from(JSON.stringify(status)), EVENT_MANAGED_FIELDS_PATH), status);
});

test("list and watch parsers with a decoder: the cut works across any chunking", () => {
  const items = variants().map((v) => v.value);
  const listText = JSON.stringify({ kind: "PodList", metadata: { resourceVersion: "9" }, items });
  const expected = items.map((i) => reference(JSON.stringify(i), false));
  for (const size of [1, 3, 7, 64, 1 << 20]) {
    const got: unknown[] = [];
    const parser = new ListStreamParser({ item: (v) => got.push(v), field: () => {} }, (b) =>
      parseWithout(b, MANAGED_FIELDS_PATH),
    );
    const bytes = Buffer.from(listText);
    for (let i = 0; i < bytes.length; i += size) parser.write(bytes.subarray(i, i + size));
    parser.end();
    assert.deepEqual(got, expected, `list, chunk size ${size}`);

    const events: unknown[] = [];
    const watch = new WatchLineParser(
      (e) => events.push(e),
      (b) => parseWithout(b, EVENT_MANAGED_FIELDS_PATH),
    );
    const lines = Buffer.from(
      items.map((object) => `${JSON.stringify({ type: "ADDED", object })}\n`).join(""),
    );
    for (let i = 0; i < lines.length; i += size) watch.write(lines.subarray(i, i + size));
    watch.end();
    assert.deepEqual(
      events,
      expected.map((object) => ({ type: "ADDED", object })),
      `watch, chunk size ${size}`,
    );
  }
});

test("stripBulkyMetadata removes managedFields and last-applied, keeps the rest in order", () => {
  const obj: KubeObject = {
    kind: "Deployment",
    metadata: {
      name: "d",
      uid: "u",
      resourceVersion: "1",
      annotations: { a: "1", [LAST_APPLIED_ANNOTATION]: "{}", b: "2" },
      managedFields: [{}],
      generation: 3,
    },
    spec: { replicas: 1 },
  };
  const out = stripBulkyMetadata(obj);
  assert.deepEqual(Object.keys(out.metadata), [
    "name",
    "uid",
    "resourceVersion",
    "annotations",
    "generation",
  ]);
  assert.deepEqual(out.metadata.annotations, { a: "1", b: "2" });
  assert.deepEqual(out.spec, { replicas: 1 });
  const plain = pod("p");
  assert.equal(stripBulkyMetadata(plain).metadata, plain.metadata, "nothing to strip: untouched");
});

test("interning is lossless and its table stays bounded", () => {
  const interner = new ValueSharer(100, 100, 100);
  for (let i = 0; i < 10_000; i++) interner.intern(`unique-string-number-${i}`);
  assert.ok(interner.size <= 200, `table holds ${interner.size} strings`);
  const obj = {
    apiVersion: "v1",
    metadata: {
      name: "pod-with-a-long-name",
      namespace: "team-namespace-1",
      labels: { app: "application-name" },
      ownerReferences: [{ kind: "ReplicaSet", name: "application-name-abc", uid: "u", controller: true }],
    },
    spec: { containers: [{ image: "registry.example/app:1.0.0", args: ["--flag-one", "--flag-two"] }] },
    status: { conditions: [{ type: "Ready", lastTransitionTime: "2026-01-12T08:01:01Z" }], n: 1, x: null },
  };
  const copy = structuredClone(obj);
  assert.deepEqual(interner.shareObject(copy as unknown as KubeObject), obj);
  // Sharing, as far as it can be observed: an equal object's strings and sub-objects are all
  // found in the tables (they do not grow), and names, unique to their object, are never added.
  const fresh = new ValueSharer();
  fresh.shareObject(structuredClone(obj) as unknown as KubeObject);
  fresh.shareObject(structuredClone(obj) as unknown as KubeObject);
  const held = fresh.size;
  assert.ok(held > 0);
  const renamed = structuredClone(obj);
  renamed.metadata.name = "another-pod-with-a-long-name";
  fresh.shareObject(renamed as unknown as KubeObject);
  assert.equal(fresh.size, held);
});

test("an informer caches objects as the apiserver has them, minus managedFields and last-applied", async () => {
  const sim = await startSandbox();
  try {
    const withBulk = (name: string, extra: Record<string, string> = {}): KubeObject => {
      const p = pod(name, "default", { app: "web" });
      p.metadata.managedFields = managedFields;
      p.metadata.annotations = { [LAST_APPLIED_ANNOTATION]: '{"big":true}', keep: "me", ...extra };
      return p;
    };
    sim.create("pods", withBulk("listed"));
    const informer = await informerFor(sim);
    informer.start();
    await informer.waitForSync();
    sim.create("pods", withBulk("watched"));
    sim.update("pods", withBulk("listed", { changed: "yes" }));
    const expected = (name: string) => {
      const served = structuredClone(sim.get("pods", "default", name)!);
      delete served.metadata.managedFields;
      delete served.metadata.annotations![LAST_APPLIED_ANNOTATION];
      return served;
    };
    await eventually(
      () =>
        informer.store.get("default/watched") !== undefined &&
        informer.store.get("default/listed")?.metadata.annotations?.changed === "yes",
      "the created and updated pods",
    );
    for (const name of ["listed", "watched"]) {
      assert.deepEqual(informer.store.get(`default/${name}`), expected(name), name);
    }
    await informer.stop();
  } finally {
    await sim.stop();
  }
});
