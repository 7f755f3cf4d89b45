import assert from "node:assert/strict";
import { test } from "node:test";
import { ListStreamParser } from "../../src/informers/list-parser.ts";
import { WatchLineParser } from "../../src/informers/watch-parser.ts";

function parseInChunks(text: string, size: number) {
  const items: unknown[] = [];
  const fields: Record<string, unknown> = {};
  const parser = new ListStreamParser({
    item: (v) => items.push(v),
    field: (k, v) => {
      fields[k] = v;
    },
  });
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i += size) parser.write(bytes.subarray(i, i + size));
  parser.end();
  return { items, fields };
}

const list = {
  kind: "PodList",
  apiVersion: "v1",
  metadata: { resourceVersion: "12", continue: 'tok"en}]' },
  items: [
    { metadata: { name: "a", labels: { "x]": "{y" } }, spec: { c: [1, 2, { d: null }] } },
    { metadata: { name: 'b\\"' }, status: "ü ✓" },
    {},
  ],
  extra: 5,
  flag: true,
  nothing: null,
  text: "s",
};

test("list parser yields every item and top-level field, whatever the chunking", () => {
  for (const text of [JSON.stringify(list), JSON.stringify(list, null, 2)]) {
    for (const size of [1, 2, 3, 5, 17, 64, 1 << 20]) {
      const { items, fields } = parseInChunks(text, size);
      assert.deepEqual(items, list.items, `chunk size ${size}`);
      const { items: _items, ...rest } = list;
      assert.deepEqual(fields, rest, `chunk size ${size}`);
    }
  }
});

test("list parser handles an empty items array and items before metadata", () => {
  const { items, fields } = parseInChunks('{"items":[],"metadata":{"resourceVersion":"7"}}', 4);
  assert.deepEqual(items, []);
  assert.deepEqual(fields.metadata, { resourceVersion: "7" });
  const r = parseInChunks('{"items":[{"a":1}],"metadata":{"resourceVersion":"8"}}', 3);
  assert.deepEqual(r.items, [{ a: 1 }]);
});

test("list parser rejects a truncated body", () => {
  assert.throws(() => parseInChunks(JSON.stringify(list).slice(0, 60), 7), /ended before/);
});

test("watch parser splits events across chunk boundaries and tolerates a missing final newline", () => {
  const events = [
    { type: "ADDED", object: { metadata: { name: "a", resourceVersion: "1" } } },
    { type: "BOOKMARK", object: { metadata: { resourceVersion: "2" } } },
    { type: "DELETED", object: { metadata: { name: "a\nb", resourceVersion: "3" } } },
  ];
  const text = events.map((e) => JSON.stringify(e)).join("\n");
  for (const size of [1, 4, 1000]) {
    const got: unknown[] = [];
    const parser = new WatchLineParser((e) => got.push(e));
    const bytes = Buffer.from(text);
    for (let i = 0; i < bytes.length; i += size) parser.write(bytes.subarray(i, i + size));
    parser.end();
    assert.deepEqual(got, events);
  }
});
