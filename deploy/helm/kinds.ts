// Writes the chart's kinds list (deploy/helm/kgql/kinds.yaml) from src/kinds.ts, so the
// chart's RBAC grants read access to exactly the kinds kgql caches: `node deploy/helm/kinds.ts`.
// test/unit/helm-kinds.test.ts fails when the file and the table disagree.
import { readFileSync, writeFileSync } from "node:fs";
import { parse, stringify } from "yaml";
import { CORE_KINDS } from "../../src/kinds.ts";

export const KINDS_FILE = new URL("./kgql/kinds.yaml", import.meta.url);

interface GroupRule {
  apiGroup: string;
  resources: string[];
}

/** Resources by API group, in the table's order; cluster-scoped and namespaced apart. */
function byGroup(namespaced: boolean): GroupRule[] {
  const groups = new Map<string, string[]>();
  for (const k of CORE_KINDS.filter((k) => k.namespaced === namespaced)) {
    const list = groups.get(k.group) ?? [];
    list.push(k.resource);
    groups.set(k.group, list);
  }
  return [...groups].map(([apiGroup, resources]) => ({ apiGroup, resources }));
}

export function chartKinds(): { clusterScoped: GroupRule[]; namespaced: GroupRule[] } {
  return { clusterScoped: byGroup(false), namespaced: byGroup(true) };
}

/** The file as parsed (biome may restyle its text, never its content). */
export function kindsFileOnDisk(): ReturnType<typeof chartKinds> {
  return parse(readFileSync(KINDS_FILE, "utf8"));
}

if (import.meta.main)
  writeFileSync(
    KINDS_FILE,
    `# Generated from src/kinds.ts by \`node deploy/helm/kinds.ts\`: do not edit.
# The kinds kgql caches, which the chart's RBAC lets it get, list and watch.
${stringify(chartKinds())}`,
  );
