import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  LabelSelector,
  LabelSelectorError,
  parseLabelSelector,
  selectorFromLabelSelector,
  selectorFromMap,
} from "../../src/informers/labels.ts";

type Labels = Record<string, string> | undefined;

const web: Labels = { app: "web", tier: "frontend", env: "prod", replicas: "5" };
const db: Labels = { app: "db", tier: "backend", "example.com/team": "core", replicas: "010" };
const bare: Labels = {};

/** [selector, canonical toString, labels it matches, labels it does not match] */
const valid: [string, string, Labels[], Labels[]][] = [
  ["", "", [web, db, bare, undefined], []],
  ["   ", "", [web, undefined], []],
  ["app=web", "app=web", [web], [db, bare, undefined]],
  ["app==web", "app=web", [web], [db]],
  [" app = web ", "app=web", [web], [db]],
  ["app!=web", "app!=web", [db, bare, undefined], [web]],
  ["app=", "app=", [{ app: "" }], [web, bare]],
  ["app=,tier=backend", "app=,tier=backend", [{ app: "", tier: "backend" }], [db]],
  ["app in (web,db)", "app in (db,web)", [web, db], [bare, undefined, { app: "cache" }]],
  ["app in(web)", "app in (web)", [web], [db]],
  ["app in ( web , db , web )", "app in (db,web)", [web, db], [bare]],
  ["app notin (web)", "app notin (web)", [db, bare, undefined], [web]],
  ["app notin ()", "app notin ()", [web, bare], [{ app: "" }]],
  ["app in (,web)", "app in (,web)", [web, { app: "" }], [db, bare]],
  ["app in (in, notin)", "app in (in,notin)", [{ app: "in" }, { app: "notin" }], [web]],
  ["app", "app", [web, db], [bare, undefined]],
  ["!app", "!app", [bare, undefined], [web, db]],
  ["  ! app", "!app", [bare], [web]],
  ["example.com/team", "example.com/team", [db], [web]],
  ["example.com/team=core", "example.com/team=core", [db], [web]],
  ["replicas>4", "replicas>4", [web, db], [{ replicas: "4" }, { replicas: "x" }, bare]],
  ["replicas<6", "replicas<6", [web, { replicas: "0" }], [db, bare, { replicas: "" }]],
  ["replicas>009", "replicas>009", [db], [web]],
  [
    "replicas<9223372036854775807",
    "replicas<9223372036854775807",
    [web],
    [{ replicas: "9223372036854775808" }],
  ],
  ["replicas>0", "replicas>0", [{ replicas: "99999" }], [{ replicas: "99999999999999999999" }]],
  ["app=web,tier=frontend", "app=web,tier=frontend", [web], [db, { app: "web" }]],
  ["tier,app in (web, db),!gone, env!=dev", "app in (db,web),env!=dev,!gone,tier", [web, db], [bare]],
  ["constructor", "constructor", [{ constructor: "x" }], [bare, undefined]],
  ["!toString", "!toString", [bare, undefined], [{ toString: "" }]],
  ["a\tin\t(b)\n,c", "a in (b),c", [{ a: "b", c: "" }], [{ a: "b" }]],
];

describe("parseLabelSelector: valid selectors", () => {
  for (const [text, canonical, yes, no] of valid) {
    test(JSON.stringify(text), () => {
      const sel = parseLabelSelector(text);
      assert.equal(sel.toString(), canonical);
      assert.equal(sel.isEverything(), canonical === "");
      for (const labels of yes)
        assert.equal(sel.matches(labels), true, `should match ${JSON.stringify(labels)}`);
      for (const labels of no)
        assert.equal(sel.matches(labels), false, `should not match ${JSON.stringify(labels)}`);
      // The canonical form parses back to the same selector.
      assert.deepEqual(parseLabelSelector(canonical).requirements, sel.requirements);
    });
  }
});

test("requirements: == is normalized to =, sorted by key, set values sorted and distinct", () => {
  const sel = parseLabelSelector("z==1, a in (c,b,c), m, !n, k>3, j<2");
  assert.deepEqual(sel.requirements, [
    { key: "a", operator: "in", values: ["b", "c"] },
    { key: "j", operator: "lt", values: ["2"] },
    { key: "k", operator: "gt", values: ["3"] },
    { key: "m", operator: "exists", values: [] },
    { key: "n", operator: "!", values: [] },
    { key: "z", operator: "=", values: ["1"] },
  ]);
});

/** [selector, fragment the error message must contain] */
const invalid: [string, string][] = [
  ["app in (a", 'invalid label selector "app in (a": expected ")" or "," at position 10'],
  ["app in (a b)", 'expected ")" or "," at position 11, found "b"'],
  ["app in a", 'expected "(" after "in" at position 8, found "a"'],
  ["app in", 'expected "(" after "in" at position 7, found the end of the selector'],
  ["=x", 'expected a label key at position 1, found "="'],
  ["app=web,", "expected a label key at position 9, found the end of the selector"],
  [",app", 'expected a label key at position 1, found ","'],
  ["app web", 'expected "=", "==", "!=", "in", "notin", ">", "<", "," or the end at position 5, found "web"'],
  ["app=web=x", 'expected "," or the end at position 8, found "="'],
  ["!app=web", 'expected "," or the end at position 5, found "="'],
  ["app=(x)", 'expected a value at position 5, found "("'],
  ["in=x", "expected a label key, not a keyword, at position 1"],
  ["app>", 'expected an integer after ">" at position 5'],
  ["app<x", 'value "x" at position 5 is invalid: "<" needs a non-negative 64-bit integer'],
  ["app>-1", 'value "-1" at position 5 is invalid'],
  ["app>9223372036854775808", "needs a non-negative 64-bit integer"],
  ["Foo/app=x", 'key "Foo/app" at position 1 is invalid: the prefix "Foo" must be a DNS subdomain'],
  ["/app", 'the prefix before "/" must not be empty'],
  ["a/b/c", 'a key has at most one "/"'],
  ["example.com/", "the name part must not be empty"],
  [`${"k".repeat(64)}=x`, "the name part must be at most 63 characters (has 64)"],
  ["-app=x", 'key "-app" at position 1 is invalid: the name part must consist of letters, digits'],
  ["app=-x", 'value "-x" at position 5 is invalid: a value must be empty or consist of letters'],
  [`app=${"v".repeat(64)}`, "a value must be at most 63 characters (has 64)"],
  ["app in (ok, b@d)", 'value "b@d" at position 13 is invalid'],
  ["a&b", 'key "a&b" at position 1 is invalid'],
];

describe("parseLabelSelector: invalid selectors", () => {
  for (const [text, fragment] of invalid) {
    test(JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text), () => {
      assert.throws(
        () => parseLabelSelector(text),
        (err: unknown) => {
          assert.ok(err instanceof LabelSelectorError, "a LabelSelectorError");
          assert.ok(
            err.message.includes(fragment),
            `message ${JSON.stringify(err.message)} lacks ${fragment}`,
          );
          return true;
        },
      );
    });
  }
});

test("a very long selector is shortened in the error message", () => {
  const text = `${"a".repeat(500)} b`;
  assert.throws(
    () => parseLabelSelector(text),
    (err: Error) => err.message.length < 400 && err.message.includes("…"),
  );
});

test("selectorFromMap: a Service's selector; absent or empty selects nothing", () => {
  for (const map of [undefined, null, {}]) {
    const sel = selectorFromMap(map);
    assert.equal(sel.isNothing(), true);
    assert.equal(sel.isEverything(), false);
    assert.equal(sel.matches(web), false);
    assert.equal(sel.matches(undefined), false);
    assert.equal(sel, LabelSelector.nothing());
  }
  const sel = selectorFromMap({ tier: "frontend", app: "web" });
  assert.equal(sel.toString(), "app=web,tier=frontend");
  assert.equal(sel.matches(web), true);
  assert.equal(sel.matches({ app: "web" }), false);
  assert.equal(sel.isNothing(), false);
});

test("selectorFromLabelSelector: absent selects nothing, {} everything, expressions as apimachinery", () => {
  assert.equal(selectorFromLabelSelector(undefined).isNothing(), true);
  assert.equal(selectorFromLabelSelector(null).matches(web), false);
  const all = selectorFromLabelSelector({});
  assert.equal(all.isEverything(), true);
  assert.equal(all.matches(undefined), true);
  assert.equal(selectorFromLabelSelector({ matchLabels: {}, matchExpressions: [] }).isEverything(), true);

  const sel = selectorFromLabelSelector({
    matchLabels: { app: "web" },
    matchExpressions: [
      { key: "env", operator: "In", values: ["prod", "staging"] },
      { key: "tier", operator: "NotIn", values: ["backend"] },
      { key: "replicas", operator: "Exists" },
      { key: "canary", operator: "DoesNotExist", values: [] },
    ],
  });
  assert.equal(sel.toString(), "app=web,!canary,env in (prod,staging),replicas,tier notin (backend)");
  assert.equal(sel.matches(web), true);
  assert.equal(sel.matches({ ...web, canary: "1" }), false);
  assert.equal(sel.matches({ ...web, env: "dev" }), false);
  assert.equal(sel.matches({ ...web, tier: "backend" }), false);
  assert.equal(sel.matches(db), false);
});

test("selectorFromLabelSelector: invalid selectors throw with the offending expression", () => {
  const cases: [Parameters<typeof selectorFromLabelSelector>[0], string][] = [
    [
      { matchExpressions: [{ key: "a", operator: "Gt", values: ["1"] }] },
      'matchExpressions[0] (key "a"): operator "Gt" is not one of',
    ],
    [
      { matchExpressions: [{ key: "a", operator: "In", values: [] }] },
      "operator In needs at least one value",
    ],
    [{ matchExpressions: [{ key: "a", operator: "NotIn" }] }, "operator NotIn needs at least one value"],
    [
      { matchExpressions: [{ key: "a", operator: "Exists", values: ["x"] }] },
      "operator Exists takes no values",
    ],
    [
      {
        matchExpressions: [
          { key: "a", operator: "Exists" },
          { key: "B/a", operator: "Exists" },
        ],
      },
      'matchExpressions[1] (key "B/a"): the prefix "B"',
    ],
    [
      { matchExpressions: [{ key: "a", operator: "In", values: ["ok", "n o"] }] },
      'value "n o": a value must be empty',
    ],
    [{ matchLabels: { "bad key": "x" } }, 'matchLabels "bad key": the name part must consist'],
    [
      { matchExpressions: [{ key: "constructor", operator: "constructor" }] },
      'operator "constructor" is not one of',
    ],
  ];
  for (const [sel, fragment] of cases) {
    assert.throws(
      () => selectorFromLabelSelector(sel),
      (err: unknown) => err instanceof LabelSelectorError && err.message.includes(fragment),
      fragment,
    );
  }
});

test("everything and nothing", () => {
  assert.equal(LabelSelector.everything().isEverything(), true);
  assert.equal(LabelSelector.everything().matches(undefined), true);
  assert.equal(LabelSelector.nothing().isNothing(), true);
  assert.equal(LabelSelector.nothing().matches({}), false);
  assert.equal(parseLabelSelector("").isNothing(), false);
});

test("in/notin with many values (set lookup) match like few values", () => {
  const values = Array.from({ length: 20 }, (_, i) => `v${i}`);
  const many = parseLabelSelector(`k in (${values.join(",")})`);
  const manyNot = parseLabelSelector(`k notin (${values.join(",")})`);
  for (let i = 0; i < 25; i++) {
    const labels = { k: `v${i}` };
    assert.equal(many.matches(labels), i < 20);
    assert.equal(manyNot.matches(labels), i >= 20);
  }
});
