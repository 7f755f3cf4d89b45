// What the simulated apiserver serves: the core kinds from kgql's own table, plus resources
// registered at runtime (to simulate CRDs).
import type { ResourceInfo } from "../informers/shared-informer.ts";
import type { GroupVersionResource } from "../informers/types.ts";
import { CORE_KINDS } from "../kinds.ts";

export interface SandboxResource extends ResourceInfo {
  listKind: string;
}

export class ResourceTable {
  private readonly all: SandboxResource[] = CORE_KINDS.map((k) => ({
    group: k.group,
    version: k.version,
    resource: k.resource,
    kind: k.kind,
    namespaced: k.namespaced,
    listKind: `${k.kind}List`,
  }));

  register(def: ResourceInfo): SandboxResource {
    const res = { ...def, listKind: `${def.kind}List` };
    this.all.push(res);
    return res;
  }

  list(): readonly SandboxResource[] {
    return this.all;
  }

  find(group: string, version: string, resource: string): SandboxResource | undefined {
    return this.all.find((r) => r.group === group && r.version === version && r.resource === resource);
  }

  /** "pods", "deployments.apps" or a GroupVersionResource. */
  resolve(ref: string | GroupVersionResource): SandboxResource {
    const found =
      typeof ref === "string"
        ? this.all.find((r) => r.resource === ref || `${r.resource}.${r.group}` === ref)
        : this.find(ref.group, ref.version, ref.resource);
    if (!found) throw new Error(`sandbox: unknown resource ${JSON.stringify(ref)}`);
    return found;
  }

  groups(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const r of this.all) {
      if (!r.group) continue;
      const versions = out.get(r.group) ?? [];
      if (!versions.includes(r.version)) versions.push(r.version);
      out.set(r.group, versions);
    }
    return out;
  }
}
