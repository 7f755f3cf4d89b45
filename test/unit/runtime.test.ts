import assert from "node:assert/strict";
import { test } from "node:test";

test("npm scripts run on Node 24 (brought by the node devDependency)", () => {
  const major = Number(process.versions.node.split(".")[0]);
  assert.equal(major, 24, `expected Node 24, got ${process.version}`);
});
