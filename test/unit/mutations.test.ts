// The parts of mutations that need no cluster: impersonation headers, how the apiserver's
// refusals become GraphQL errors, drain's choice of pods, manifest parsing, and the
// read-your-writes waits (driven change by change). test/integration/mutations.test.ts runs
// them all against the real control plane.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { GraphQLError } from "graphql";
import { ApiError } from "../../src/informers/client.ts";
import type { SharedInformer } from "../../src/informers/shared-informer.ts";
import type { StoreDelta } from "../../src/informers/store.ts";
import type { KubeObject, Status } from "../../src/informers/types.ts";
import { restartPatch } from "../../src/mutations/actions.ts";
import { manifestOf } from "../../src/mutations/apply.ts";
import { skipReason } from "../../src/mutations/drain.ts";
import { extraKey, impersonationHeaders } from "../../src/mutations/impersonation.ts";
import { cachedAfterDelete, cachedAfterWrite } from "../../src/mutations/read-your-writes.ts";
import { type WriteTarget, writeError } from "../../src/mutations/write-errors.ts";
import { buildSchema } from "../../src/resolvers/index.ts";
import { deadlineFrom } from "../../src/server/deadline.ts";

const target: WriteTarget = {
  verb: "patch",
  group: "apps",
  version: "v1",
  resource: "deployments",
  namespace: "web",
  name: "api",
};

const status = (code: number, message: string, extra: Partial<Status> = {}): Status => ({
  kind: "Status",
  status: "Failure",
  code,
  message,
  ...extra,
});

function mapped(code: number, message: string, extra: Partial<Status> = {}): GraphQLError {
  return writeError(
    new ApiError(code, status(code, message, extra), "PATCH /x"),
    target,
    "alice",
  ) as GraphQLError;
}

describe("impersonation", () => {
  it("sends the reviewed user's name, groups, uid and extras", () => {
    const h = impersonationHeaders({
      username: "system:serviceaccount:ci:deployer",
      uid: "1234",
      groups: ["system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"],
      extra: { "authentication.kubernetes.io/pod-name": ["runner-1"], empty: [] },
    });
    assert.deepEqual(h, {
      "Impersonate-User": "system:serviceaccount:ci:deployer",
      "Impersonate-Group": ["system:serviceaccounts", "system:serviceaccounts:ci"],
      "Impersonate-Uid": "1234",
      "Impersonate-Extra-authentication.kubernetes.io%2Fpod-name": ["runner-1"],
    });
  });
  it("percent-encodes what a header name cannot hold", () => {
    assert.equal(extraKey("a/b c%"), "a%2Fb%20c%25");
    assert.equal(extraKey("scopes"), "scopes");
  });
});

describe("the apiserver's refusals", () => {
  it("403: FORBIDDEN naming verb, resource, namespace and name", () => {
    const e = mapped(403, 'deployments.apps "api" is forbidden: User "alice" cannot patch resource');
    assert.equal(e.extensions.code, "FORBIDDEN");
    assert.deepEqual(
      { ...e.extensions, code: undefined },
      { code: undefined, verb: "patch", resource: "deployments.apps", namespace: "web", name: "api" },
    );
    assert.match(
      e.message,
      /^forbidden: user "alice" cannot patch deployments\.apps "api" in namespace "web"/,
    );
  });
  it("403 for impersonation itself: kgql's own RBAC is missing, said as such", () => {
    const e = mapped(
      403,
      'users "alice" is forbidden: User "system:serviceaccount:kgql:kgql" cannot impersonate resource "users"',
    );
    assert.equal(e.extensions.code, "SERVICE_UNAVAILABLE");
    assert.match(e.message, /kgql may not impersonate user "alice"/);
    assert.match(e.message, /mutations\.enabled/);
  });
  it("409: CONFLICT; an apply conflict suggests force", () => {
    const stale = mapped(
      409,
      'Operation cannot be fulfilled on deployments.apps "api": the object has been modified',
    );
    assert.equal(stale.extensions.code, "CONFLICT");
    assert.doesNotMatch(stale.message, /force/);
    const apply = mapped(409, 'Apply failed with 1 conflict: conflict with "kubectl": .data.color');
    assert.match(apply.message, /force: true/);
  });
  it("404: NOT_FOUND; 422 and 400: BAD_USER_INPUT with the apiserver's causes", () => {
    assert.equal(mapped(404, 'deployments.apps "api" not found').extensions.code, "NOT_FOUND");
    const invalid = mapped(422, 'Deployment.apps "api" is invalid: spec.replicas: Invalid value: -1', {
      details: { causes: [{ field: "spec.replicas", message: "Invalid value: -1" }] },
    });
    assert.equal(invalid.extensions.code, "BAD_USER_INPUT");
    assert.deepEqual(invalid.extensions.causes, [{ field: "spec.replicas", message: "Invalid value: -1" }]);
    assert.match(invalid.message, /spec\.replicas: Invalid value: -1/);
    assert.equal(mapped(400, "bad").extensions.code, "BAD_USER_INPUT");
  });
  it("500 for an apply whose manifest does not fit the schema: BAD_USER_INPUT, not a retry", () => {
    const e = mapped(
      500,
      "failed to create typed patch object (web/x; /v1, Kind=ConfigMap): .data.a: expected string, got &value.valueUnstructured{Value:5}",
    );
    assert.equal(e.extensions.code, "BAD_USER_INPUT");
    assert.match(e.message, /\.data\.a: expected string/);
  });
  it("429 (a disruption budget) and 5xx: SERVICE_UNAVAILABLE; network errors too; other errors pass through", () => {
    assert.equal(
      mapped(429, "Cannot evict pod as it would violate the pod's disruption budget.").extensions.code,
      "SERVICE_UNAVAILABLE",
    );
    assert.equal(mapped(500, "etcd down").extensions.code, "SERVICE_UNAVAILABLE");
    const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    assert.equal(
      (writeError(refused, target, undefined) as GraphQLError).extensions.code,
      "SERVICE_UNAVAILABLE",
    );
    const bug = new TypeError("x is undefined");
    assert.equal(writeError(bug, target, undefined), bug);
  });
  it("without a caller (--auth none) the message names the kubeconfig's credentials", () => {
    const e = writeError(new ApiError(403, status(403, "no"), "x"), target, undefined) as GraphQLError;
    assert.match(e.message, /kgql's kubeconfig credentials cannot patch/);
  });
});

describe("drain's choice of pods", () => {
  const pod = (meta: Partial<KubeObject["metadata"]> = {}): KubeObject => ({
    metadata: { name: "p", namespace: "n", uid: "u", resourceVersion: "1", ...meta },
  });
  it("skips mirror pods, DaemonSet pods and pods already terminating; evicts the rest", () => {
    assert.match(skipReason(pod({ annotations: { "kubernetes.io/config.mirror": "abc" } }))!, /mirror/);
    const owned = (kind: string) =>
      pod({ ownerReferences: [{ apiVersion: "apps/v1", kind, name: "x", uid: "1", controller: true }] });
    assert.match(skipReason(owned("DaemonSet"))!, /DaemonSet pod \(x\)/);
    assert.equal(skipReason(owned("ReplicaSet")), undefined);
    assert.match(skipReason(pod({ deletionTimestamp: "2026-01-01T00:00:00Z" }))!, /terminating/);
    assert.equal(skipReason(pod()), undefined);
  });
});

describe("manifests", () => {
  it("takes JSON or one YAML document, and says what is missing", () => {
    assert.equal(
      manifestOf({ yaml: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n" }).kind,
      "ConfigMap",
    );
    assert.equal(
      manifestOf({ manifest: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a" } } }).metadata
        .name,
      "a",
    );
    assert.throws(() => manifestOf({}), /as manifest \(JSON\) or as yaml/);
    assert.throws(() => manifestOf({ yaml: "kind: A\n", manifest: { kind: "A" } }), /one of them/);
    assert.throws(
      () => manifestOf({ yaml: "a: 1\n---\nb: 2\n" }),
      /exactly one object \(found 2 documents\)/,
    );
    assert.throws(() => manifestOf({ yaml: "a: [" }), /not valid YAML/);
    assert.throws(() => manifestOf({ yaml: "- 1\n" }), /must be an object/);
    assert.throws(() => manifestOf({ manifest: { kind: "ConfigMap" } }), /lacks apiVersion, metadata\.name/);
  });
  it("restartPatch stamps the pod template with an RFC 3339 time, as kubectl", () => {
    const p = restartPatch(new Date("2026-12-06T15:30:06.123Z")) as {
      spec: { template: { metadata: { annotations: Record<string, string> } } };
    };
    assert.deepEqual(p.spec.template.metadata.annotations, {
      "kubectl.kubernetes.io/restartedAt": "2026-12-06T15:30:06Z",
    });
  });
  it("the Mutation type exists only when asked for, and takes the cluster argument", () => {
    assert.equal(buildSchema().getMutationType(), undefined);
    const fields = buildSchema({ mutations: { audit: undefined } })
      .getMutationType()!
      .getFields();
    assert.ok(fields.scaleDeployment!.args.some((a) => a.name === "cluster"));
    assert.ok(fields.restartDaemonSet && fields.scaleStatefulSet && fields.drainNode && fields.applyManifest);
  });
});

/** An informer's store, position and sync listeners, driven change by change. */
class FakeInformer {
  readonly objects = new Map<string, KubeObject>();
  readonly listeners = new Set<(d: StoreDelta) => void>();
  lastSyncResourceVersion = "10";
  readonly resource = {
    group: "apps",
    version: "v1",
    resource: "deployments",
    kind: "Deployment",
    namespaced: true,
  };
  readonly store = { get: (key: string) => this.objects.get(key) };
  addSyncListener(l: (d: StoreDelta) => void) {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  /** Stores the object then moves the position, in the reflector's order. */
  apply(object: KubeObject) {
    this.objects.set(`${object.metadata.namespace}/${object.metadata.name}`, object);
    for (const l of this.listeners) l({ type: "ADDED", object });
    this.lastSyncResourceVersion = object.metadata.resourceVersion;
  }
  remove(key: string) {
    const object = this.objects.get(key)!;
    this.objects.delete(key);
    for (const l of this.listeners) l({ type: "DELETED", object, tombstone: false });
  }
  get informer() {
    return this as unknown as SharedInformer;
  }
}

const obj = (rv: string, extra: Partial<KubeObject["metadata"]> = {}): KubeObject => ({
  kind: "Deployment",
  metadata: { name: "api", namespace: "web", uid: "u1", resourceVersion: rv, ...extra },
});

describe("read-your-writes", () => {
  it("answers with the cached object once the informer reaches the write's resourceVersion", async () => {
    const f = new FakeInformer();
    f.apply(obj("9"));
    let answered: KubeObject | undefined;
    const waiting = cachedAfterWrite(f.informer, obj("12"), deadlineFrom(5000)).then((o) => {
      answered = o;
    });
    f.apply(obj("11")); // an earlier change: not yet
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(answered, undefined, "not before the write itself is cached");
    const written = obj("12");
    f.apply(written);
    await waiting;
    assert.equal(answered, written);
  });
  it("a write that changed nothing (an older resourceVersion) answers at once", async () => {
    const f = new FakeInformer();
    const current = obj("5");
    f.apply(current);
    f.lastSyncResourceVersion = "20";
    assert.equal(await cachedAfterWrite(f.informer, obj("5"), deadlineFrom(1000)), current);
  });
  it("a cache that does not catch up is a CACHE_TIMEOUT saying the write is done", async () => {
    const f = new FakeInformer();
    f.apply(obj("9"));
    await assert.rejects(cachedAfterWrite(f.informer, obj("30"), deadlineFrom(150)), (err: GraphQLError) => {
      assert.equal(err.extensions.code, "CACHE_TIMEOUT");
      assert.equal(err.extensions.written, true);
      assert.match(
        err.message,
        /Deployment "api" in namespace "web" was written \(resourceVersion 30\).*do not repeat it/,
      );
      return true;
    });
    assert.equal(f.listeners.size, 0, "the wait's listener is removed");
  });
  it("an object deleted right after the write: NOT_FOUND saying it was written, not a timeout", async () => {
    const f = new FakeInformer();
    f.apply(obj("9"));
    f.remove("web/api");
    f.lastSyncResourceVersion = "31"; // the cache has passed the write, and holds no such object
    const started = Date.now();
    await assert.rejects(cachedAfterWrite(f.informer, obj("30"), deadlineFrom(5000)), (err: GraphQLError) => {
      assert.equal(err.extensions.code, "NOT_FOUND");
      assert.equal(err.extensions.written, true);
      assert.match(err.message, /was written \(resourceVersion 30\), but it was deleted since/);
      return true;
    });
    assert.ok(Date.now() - started < 1000, "answered without waiting for the deadline");
  });
  it("a delete answers once the object is gone, or cached terminating", async () => {
    const f = new FakeInformer();
    f.apply(obj("9"));
    let gone: KubeObject | undefined | "pending" = "pending";
    const waiting = cachedAfterDelete(
      f.informer,
      { namespace: "web", name: "api", uid: "u1" },
      deadlineFrom(5000),
    ).then((o) => {
      gone = o;
    });
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(gone, "pending");
    f.remove("web/api");
    await waiting;
    assert.equal(gone, undefined);
    // Terminating: the answer's resourceVersion must be reached, then the cached state is returned.
    f.apply(obj("12"));
    const terminating = obj("13", { deletionTimestamp: "2026-01-01T00:00:00Z" });
    const later = cachedAfterDelete(
      f.informer,
      { namespace: "web", name: "api", uid: "u1", resourceVersion: "13" },
      deadlineFrom(5000),
    );
    f.apply(terminating);
    assert.equal(await later, terminating);
  });
});
