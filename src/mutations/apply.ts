// Server-side apply of one manifest, as the caller: PATCH with application/apply-patch+yaml and
// a field manager, as `kubectl apply --server-side` does. The apiserver merges it with what
// other managers own, and refuses (409 CONFLICT) to take fields another manager set unless
// `force` is given. The manifest comes as JSON (a JSONObject argument) or as YAML text.
import { parseAllDocuments } from "yaml";
import type { ApiResource } from "../informers/discovery.ts";
import type { SharedInformer } from "../informers/shared-informer.ts";
import type { KubeObject } from "../informers/types.ts";
import { kindByName } from "../kinds.ts";
import { userError } from "../resolvers/errors.ts";
import { beforeDeadline } from "../server/deadline.ts";
import { targetOf } from "./actions.ts";
import { cachedAfterWrite } from "./read-your-writes.ts";
import type { Writer } from "./writer.ts";

export interface ApplyArgs {
  manifest?: Record<string, unknown> | null;
  yaml?: string | null;
  namespace?: string | null;
  fieldManager: string;
  force: boolean;
}

/** The one manifest given, as an object; BAD_USER_INPUT saying what is wrong with it. */
export function manifestOf(args: Pick<ApplyArgs, "manifest" | "yaml">): KubeObject {
  const given = (args.manifest ? 1 : 0) + (typeof args.yaml === "string" ? 1 : 0);
  if (given !== 1)
    throw userError("give the object to apply as manifest (JSON) or as yaml (text), one of them");
  let obj: unknown = args.manifest;
  if (typeof args.yaml === "string") {
    const docs = parseAllDocuments(args.yaml);
    if (!Array.isArray(docs) || docs.length !== 1)
      throw userError(
        `yaml must hold exactly one object (found ${Array.isArray(docs) ? docs.length : 0} documents): apply each separately`,
      );
    const doc = docs[0]!;
    if (doc.errors.length) throw userError(`yaml is not valid YAML: ${doc.errors[0]!.message}`);
    obj = doc.toJS();
  }
  if (typeof obj !== "object" || obj === null || Array.isArray(obj))
    throw userError("the manifest must be an object (apiVersion, kind, metadata, ...)");
  const m = obj as Record<string, unknown>;
  const meta = m.metadata as Record<string, unknown> | undefined;
  const missing = [
    typeof m.apiVersion === "string" && m.apiVersion ? "" : "apiVersion",
    typeof m.kind === "string" && m.kind ? "" : "kind",
    typeof meta?.name === "string" && meta.name ? "" : "metadata.name",
  ].filter(Boolean);
  if (missing.length) throw userError(`the manifest lacks ${missing.join(", ")}`);
  return m as KubeObject;
}

/**
 * The served resource `matches` picks (any verbs), from discovery's cached list, then from a
 * fresh one (a CRD installed since); undefined when none.
 */
export async function servedResource(
  w: Writer,
  matches: (r: ApiResource) => boolean,
): Promise<ApiResource | undefined> {
  const discovery = w.ctx.gateway.factory.discovery;
  return (await discovery.resources()).find(matches) ?? (await discovery.resources(true)).find(matches);
}

/** BAD_USER_INPUT unless a namespace is given exactly for a namespaced resource. */
export function checkNamespaceFor(resource: ApiResource, namespace: string | undefined, give: string): void {
  if (resource.namespaced && !namespace)
    throw userError(`${resource.resource} are namespaced: give ${give}`, "BAD_USER_INPUT", {
      argument: "namespace",
    });
  if (!resource.namespaced && namespace)
    throw userError(`${resource.resource} are cluster-scoped: drop the namespace`, "BAD_USER_INPUT", {
      argument: "namespace",
    });
}

/** The served resource of a manifest's apiVersion and kind (discovery). */
async function resourceOf(w: Writer, obj: KubeObject): Promise<ApiResource> {
  const [group, version] = obj.apiVersion!.includes("/")
    ? obj.apiVersion!.split("/", 2)
    : ["", obj.apiVersion!];
  const found = await servedResource(
    w,
    (r) => r.group === group && r.version === version && r.kind === obj.kind,
  );
  if (!found)
    throw userError(
      `the apiserver serves no kind ${obj.kind} in ${obj.apiVersion} (query apiResources for what it serves)`,
      "BAD_USER_INPUT",
      { apiVersion: obj.apiVersion, kind: obj.kind },
    );
  return found;
}

/** The informer a resource's objects are read back from: its core kind's, or one started now. */
export async function informerOf(
  w: Writer,
  r: ApiResource | { group: string; version: string; resource: string; kind: string },
): Promise<SharedInformer> {
  const core = kindByName(r.kind);
  if (core && core.group === r.group && core.resource === r.resource && core.version === r.version)
    return w.ctx.gateway.informer(core.kind);
  return beforeDeadline(
    w.ctx.gateway.genericInformer(r),
    w.ctx.deadline,
    `waiting for the first sync of ${r.resource} to read the write back`,
  );
}

export async function applyManifest(w: Writer, args: ApplyArgs): Promise<KubeObject> {
  const obj = manifestOf(args);
  const resource = await resourceOf(w, obj);
  const given = obj.metadata.namespace ?? args.namespace ?? undefined;
  if (args.namespace && obj.metadata.namespace && args.namespace !== obj.metadata.namespace)
    throw userError(
      `the manifest's namespace "${obj.metadata.namespace}" differs from the namespace argument "${args.namespace}": give one`,
    );
  checkNamespaceFor(resource, given, "metadata.namespace or the namespace argument");
  const namespace = given;
  const body = namespace ? { ...obj, metadata: { ...obj.metadata, namespace } } : obj;
  const target = targetOf(resource, "patch", namespace, obj.metadata.name);
  w.audited(target);
  const written = await w.send<KubeObject>(target, "PATCH", {
    // JSON is YAML: the apply content type takes either.
    body,
    contentType: "application/apply-patch+yaml",
    query: { fieldManager: args.fieldManager, ...(args.force ? { force: true } : {}) },
  });
  if (w.dryRun) return w.asServed(written);
  let informer: SharedInformer;
  try {
    informer = await informerOf(w, resource);
  } catch (err) {
    throw userError(
      `${obj.kind} "${obj.metadata.name}" was applied (resourceVersion ${written.metadata.resourceVersion}), but kgql cannot cache ${resource.resource} to read it back: ${(err as Error).message}`,
      "CACHE_TIMEOUT",
      { written: true, resourceVersion: written.metadata.resourceVersion },
    );
  }
  return cachedAfterWrite(informer, written, w.ctx.deadline);
}
