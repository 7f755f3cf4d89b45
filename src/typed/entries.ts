// --resources entries: which served resources get typed GraphQL. Two spellings are accepted,
// kubectl's `<resource>.<group>` (what the Helm chart passes; the group's preferred version is
// served) and `group/version/resource` (`v1/configmaps` for the core group), plus `all`.
import { type ApiResource, similarResources } from "../informers/discovery.ts";
import { CORE_KINDS } from "../kinds.ts";

/** One entry: without a version (`<resource>.<group>`), the group's preferred one is served. */
export interface ResourceEntry {
  text: string;
  group: string;
  version?: string;
  resource: string;
}

export interface ResourceEntries {
  /** Every served resource that is not a built-in kind (see `all` in the README). */
  all: boolean;
  entries: ResourceEntry[];
}

/** An entry that cannot be used; main prints the message as one line. */
export class ResourceEntryError extends Error {}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const isGroup = (g: string) => g.split(".").every((p) => DNS_LABEL.test(p));

/** Parses the entries' syntax (no cluster needed); throws ResourceEntryError. */
export function parseResourceEntries(texts: readonly string[]): ResourceEntries {
  const out: ResourceEntries = { all: false, entries: [] };
  // Commas separate entries on the command line too (--resources a.x,b.y), as in KGQL_RESOURCES.
  for (const raw of texts.flatMap((t) => t.split(","))) {
    const text = raw.trim();
    if (!text) continue;
    if (text === "all") {
      out.all = true;
      continue;
    }
    const parts = text.split("/");
    if (parts.length === 2 || parts.length === 3) {
      const [group, version, resource] = parts.length === 2 ? ["", parts[0]!, parts[1]!] : parts;
      if ((group === "" || isGroup(group!)) && DNS_LABEL.test(version!) && DNS_LABEL.test(resource!)) {
        out.entries.push({ text, group: group!, version: version!, resource: resource! });
        continue;
      }
    } else if (parts.length === 1) {
      const dot = text.indexOf(".");
      const resource = dot < 0 ? text : text.slice(0, dot);
      const group = dot < 0 ? "" : text.slice(dot + 1);
      if (DNS_LABEL.test(resource) && (group === "" || isGroup(group))) {
        out.entries.push({ text, group, resource });
        continue;
      }
    }
    throw new ResourceEntryError(
      `invalid --resources entry "${text}": give <resource>.<group> (widgets.example.com), group/version/resource (argoproj.io/v1alpha1/applications, core: v1/configmaps) or all`,
    );
  }
  return out;
}

/** Built-in kinds already have typed GraphQL (src/kinds.ts); --resources does not redefine them. */
function isBuiltIn(r: { group: string; resource: string }): boolean {
  return CORE_KINDS.some((k) => k.group === r.group && k.resource === r.resource);
}

const cacheable = (r: ApiResource) => r.verbs.includes("list") && r.verbs.includes("watch");

/** The served resource an entry names, or undefined when the apiserver does not serve it (now). */
export function resolveEntry(entry: ResourceEntry, served: readonly ApiResource[]): ApiResource | undefined {
  const same = served.filter((r) => r.group === entry.group && r.resource === entry.resource && cacheable(r));
  if (entry.version !== undefined) return same.find((r) => r.version === entry.version);
  return same.find((r) => r.preferred) ?? same[0];
}

/** Why an entry cannot be served at startup, with the closest served resources. */
export function unservedMessage(entry: ResourceEntry, served: readonly ApiResource[]): string {
  const similar = similarResources(served, {
    group: entry.group,
    version: entry.version ?? "",
    resource: entry.resource,
  }).map((r) => (r.group ? `${r.resource}.${r.group}` : r.resource));
  const hint = similar.length ? ` Did you mean: ${similar.join(", ")}?` : "";
  return `--resources entry "${entry.text}": the apiserver does not serve it (or it cannot be listed and watched).${hint}`;
}

/**
 * The resources the entries select, in a stable order (group, resource): each named one that
 * is served, and with `all` every served, cacheable, preferred-version resource that is not a
 * built-in kind. Built-in kinds named explicitly are left out (they are typed already).
 */
export function selectResources(entries: ResourceEntries, served: readonly ApiResource[]): ApiResource[] {
  const picked = new Map<string, ApiResource>();
  const add = (r: ApiResource) => {
    if (!isBuiltIn(r)) picked.set(`${r.group}/${r.resource}`, r);
  };
  if (entries.all) for (const r of served) if (r.preferred && cacheable(r)) add(r);
  for (const e of entries.entries) {
    const r = resolveEntry(e, served);
    if (r) add(r);
  }
  return [...picked.values()].sort(
    (a, b) => a.group.localeCompare(b.group) || a.resource.localeCompare(b.resource),
  );
}
