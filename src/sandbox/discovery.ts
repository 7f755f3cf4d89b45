// Discovery documents (the legacy, unaggregated format every client understands), generated from
// the resource table: /api, /api/v1, /apis, /apis/<group>, /apis/<group>/<version>, /version.
import type { ResourceTable } from "./resources.ts";

export const VERSION_INFO = {
  major: "1",
  minor: "36",
  gitVersion: "v1.36.3-sandbox",
  gitCommit: "0000000000000000000000000000000000000000",
  gitTreeState: "clean",
  buildDate: "2026-01-01T00:00:00Z",
  goVersion: "go1.24.0",
  compiler: "gc",
  platform: "linux/amd64",
};

/** The document for a discovery path, or undefined when the path is not one. */
export function discoveryDocument(table: ResourceTable, path: string, serverAddress: string): unknown {
  if (path === "/api") {
    return {
      kind: "APIVersions",
      versions: ["v1"],
      serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }],
    };
  }
  if (path === "/api/v1") return resourceList(table, "", "v1");
  const groups = table.groups();
  if (path === "/apis") {
    return {
      kind: "APIGroupList",
      apiVersion: "v1",
      groups: [...groups].map(([name, versions]) => apiGroup(name, versions)),
    };
  }
  const m = /^\/apis\/([^/]+)(?:\/([^/]+))?$/.exec(path);
  const versions = m && groups.get(m[1]!);
  if (!m || !versions) return undefined;
  if (m[2] === undefined) return { kind: "APIGroup", apiVersion: "v1", ...apiGroup(m[1]!, versions) };
  return versions.includes(m[2]) ? resourceList(table, m[1]!, m[2]) : undefined;
}

function apiGroup(name: string, versions: string[]) {
  const preferred = { groupVersion: `${name}/${versions[0]}`, version: versions[0] };
  return {
    name,
    versions: versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
    preferredVersion: preferred,
  };
}

function resourceList(table: ResourceTable, group: string, version: string) {
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: group ? `${group}/${version}` : version,
    resources: table
      .list()
      .filter((r) => r.group === group && r.version === version)
      .map((r) => ({
        name: r.resource,
        singularName: r.singularName,
        namespaced: r.namespaced,
        kind: r.kind,
        verbs: r.verbs,
        ...(r.shortNames.length ? { shortNames: r.shortNames } : {}),
      })),
  };
}
