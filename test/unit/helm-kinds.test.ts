// The chart's kinds list (deploy/helm/kgql/kinds.yaml), which its RBAC is rendered from, is the
// one generated from src/kinds.ts, and the plain manifest (deploy/kgql.yaml) grants the same.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { chartKinds, kindsFileOnDisk } from "../../deploy/helm/kinds.ts";
import { renderManifests } from "../../deploy/render.ts";
import { CORE_KINDS } from "../../src/kinds.ts";

const key = (group: string, resource: string) => (group ? `${resource}.${group}` : resource);

describe("chart kinds", () => {
  it("deploy/helm/kgql/kinds.yaml is what `node deploy/helm/kinds.ts` generates from src/kinds.ts", () => {
    assert.deepEqual(
      kindsFileOnDisk(),
      chartKinds(),
      "run `node deploy/helm/kinds.ts` and commit the result",
    );
  });

  it("lists every cached kind once, cluster-scoped and namespaced apart", () => {
    const file = kindsFileOnDisk();
    const flatten = (groups: { apiGroup: string; resources: string[] }[]) =>
      groups.flatMap((g) => g.resources.map((r) => key(g.apiGroup, r))).sort();
    assert.deepEqual(
      flatten(file.clusterScoped),
      CORE_KINDS.filter((k) => !k.namespaced)
        .map((k) => key(k.group, k.resource))
        .sort(),
    );
    assert.deepEqual(
      flatten(file.namespaced),
      CORE_KINDS.filter((k) => k.namespaced)
        .map((k) => key(k.group, k.resource))
        .sort(),
    );
  });

  it("deploy/kgql.yaml reads the same kinds", () => {
    const role = renderManifests().find((d) => d.kind === "ClusterRole");
    const read = role.rules
      .filter((r: { verbs: string[] }) => r.verbs.includes("watch"))
      .flatMap((r: { apiGroups: string[]; resources: string[] }) =>
        r.resources.map((res) => key(r.apiGroups[0]!, res)),
      )
      .sort();
    assert.deepEqual(read, CORE_KINDS.map((k) => key(k.group, k.resource)).sort());
  });
});
