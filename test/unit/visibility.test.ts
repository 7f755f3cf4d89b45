// RbacVisibility: decisions per kind, and two resources of one kind name in a request (a CRD
// named like a core kind) never showing more than either resource's RBAC allows.
import assert from "node:assert/strict";
import { test } from "node:test";
import { RbacVisibility } from "../../src/auth/visibility.ts";

const user = { username: "alice", groups: [] };

test("namespaced and cluster-wide decisions; nothing for kinds not decided", () => {
  const v = new RbacVisibility(
    user,
    new Map<string, "all" | Set<string>>([
      ["Pod", new Set(["a"])],
      ["Node", "all"],
    ]),
  );
  assert.equal(v.allows("Pod", "a"), true);
  assert.equal(v.allows("Pod", "b"), false);
  assert.equal(v.allowsAll("Node"), true);
  assert.equal(v.allows("Deployment", "a"), false, "undecided kinds are denied");
  assert.equal(v.allowsNothing("Deployment"), true);
});

test("a custom resource is added; one of the same kind name from another group narrows it", () => {
  const v = new RbacVisibility(user, new Map<string, "all" | Set<string>>([["Event", "all"]]));
  v.add({ group: "example.com", resource: "widgets", kind: "Widget" }, new Set(["a", "b"]));
  assert.equal(v.allows("Widget", "b"), true);
  // Re-deciding the same resource replaces its decision (a subscription's re-check).
  v.add({ group: "example.com", resource: "widgets", kind: "Widget" }, new Set(["a"]));
  assert.equal(v.allows("Widget", "b"), false);
  assert.equal(v.allows("Widget", "a"), true);
  // events.k8s.io events share the kind name Event with core events: both decisions must allow.
  v.add({ group: "events.k8s.io", resource: "events", kind: "Event" }, new Set(["c"]));
  assert.equal(v.allows("Event", "c"), true);
  assert.equal(v.allows("Event", "d"), false);
  v.add({ group: "other.example.com", resource: "widgets", kind: "Widget" }, "all");
  assert.equal(v.allows("Widget", "a"), true);
  assert.equal(v.allows("Widget", "b"), false, "never more than the first resource's decision");
});
