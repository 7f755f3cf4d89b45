// The typed resources a gateway serves (--resources) and their schema, kept current: CRDs are
// watched (kgql's own informer machinery), and when one of the enabled resources' CRDs is
// added, changed or removed the typed schema is built again from /openapi/v3 and handed to the
// listeners (the app swaps its GraphQL schema; server/typed-resources.ts useSchemaReload).
import type { KubeClient } from "../informers/client.ts";
import type { ApiResource, Discovery } from "../informers/discovery.ts";
import type { ReflectorLogger } from "../informers/reflector.ts";
import { SharedInformer } from "../informers/shared-informer.ts";
import type { KubeObject } from "../informers/types.ts";
import {
  parseResourceEntries,
  type ResourceEntries,
  resolveEntry,
  selectResources,
  unservedMessage,
} from "./entries.ts";
import { fetchOpenApi, groupVersionPath, type OpenApiDocument } from "./openapi.ts";
import { type SchemaNames, type TypedKind, type TypedSchema, typedSchema } from "./types.ts";

export const CRD_RESOURCE = {
  group: "apiextensions.k8s.io",
  version: "v1",
  resource: "customresourcedefinitions",
  kind: "CustomResourceDefinition",
  namespaced: false,
};

/**
 * What kgql keeps of a CRD: which resource it defines. Its schemas (often hundreds of KB) are
 * read from /openapi/v3 when needed, not held in memory per CRD.
 */
function trimCrd(obj: KubeObject): KubeObject {
  const spec = obj.spec as { group?: string; names?: { plural?: string } } | undefined;
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    metadata: {
      name: obj.metadata.name,
      uid: obj.metadata.uid,
      resourceVersion: obj.metadata.resourceVersion,
      generation: obj.metadata.generation,
    } as KubeObject["metadata"],
    spec: { group: spec?.group, names: { plural: spec?.names?.plural } },
  };
}

export interface TypedResourcesOptions {
  client: KubeClient;
  discovery: Discovery;
  /** The --resources entries. */
  entries: readonly string[];
  /** Names the rest of the schema takes (schema/index.ts schemaNames). */
  names: SchemaNames;
  logger?: ReflectorLogger;
  /** Wait after a CRD change before rebuilding, so a burst of changes is one rebuild. */
  debounceMs?: number;
  /** How long a rebuild waits for a changed CRD's schema to appear in /openapi/v3. */
  publishTimeoutMs?: number;
}

/**
 * Told the new typed schema, and the resources (group/version/resource) it no longer serves
 * with why: their open streams end (server/index.ts).
 */
type Listener = (schema: TypedSchema, removed: { kind: TypedKind; why: string }[]) => void;

export class TypedResources {
  private readonly opts: TypedResourcesOptions;
  private readonly entries: ResourceEntries;
  private schema: TypedSchema | undefined;
  private readonly listeners = new Set<Listener>();
  private crdInformer: SharedInformer | undefined;
  private timer: NodeJS.Timeout | undefined;
  private rebuilding: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private documentsByUrl = new Map<string, OpenApiDocument>();
  /** The group versions' document URLs of the last build (their hashes change with them). */
  private urlsByGv = new Map<string, string>();
  /** Groups whose CRDs were added, changed or removed since the last rebuild began. */
  private readonly changedGroups = new Set<string>();
  /** Root fields of typed resources that were served and are not any more, with why. */
  private readonly removed = new Map<string, string>();

  /** Throws ResourceEntryError (entries.ts) for an entry that cannot be parsed. */
  constructor(opts: TypedResourcesOptions) {
    this.opts = opts;
    this.entries = parseResourceEntries(opts.entries);
  }

  /**
   * Builds the first schema. An entry the apiserver does not serve (yet) is one warning line
   * naming the closest served resources: it is typed as soon as its CRD is installed.
   */
  async load(): Promise<TypedSchema> {
    const served = await this.opts.discovery.resources(true);
    for (const e of this.entries.entries) {
      if (!resolveEntry(e, served))
        this.opts.logger?.warn(
          { entry: e.text },
          `${unservedMessage(e, served)} It is typed as soon as the apiserver serves it.`,
        );
    }
    this.schema = await this.build(served);
    return this.schema;
  }

  current(): TypedSchema | undefined {
    return this.schema;
  }

  /** Why a root field that is not in the schema any more is gone, if it was a typed one. */
  removedField(name: string): string | undefined {
    return this.removed.get(name);
  }

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Watches CRDs: a change to one that the entries select rebuilds the schema. */
  async watch(): Promise<void> {
    const served = await this.opts.discovery.resources();
    if (!served.some((r) => r.group === CRD_RESOURCE.group && r.resource === CRD_RESOURCE.resource)) {
      this.opts.logger?.info(
        {},
        "typed resources: the cluster serves no CRDs; the typed schema stays as loaded",
      );
      return;
    }
    const informer = new SharedInformer({
      client: this.opts.client,
      resource: CRD_RESOURCE,
      transform: trimCrd,
      logger: this.opts.logger,
    });
    this.crdInformer = informer;
    informer.addEventHandler({
      onAdd: (o, initial) => {
        if (!initial) this.changed(o);
      },
      // Only spec changes (a new generation) can change the schema, not status updates.
      onUpdate: (old, o) => {
        if (old.metadata.generation !== o.metadata.generation) this.changed(o);
      },
      onDelete: (o) => this.changed(o),
      // CRDs changed between load() and the first list, or events dropped: one rebuild.
      onSynced: () => this.schedule(),
      onResyncRequired: () => this.schedule(),
    });
    informer.start();
  }

  private changed(crd: KubeObject): void {
    const spec = crd.spec as { group?: string; names?: { plural?: string } };
    const group = spec?.group ?? "";
    const resource = spec?.names?.plural ?? "";
    if (this.entries.all || this.entries.entries.some((e) => e.group === group && e.resource === resource)) {
      this.changedGroups.add(group);
      this.schedule();
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.rebuild(), this.opts.debounceMs ?? 200);
  }

  /** Rebuilds (one at a time; a change during a rebuild runs one more). */
  private async rebuild(): Promise<void> {
    if (this.rebuilding) {
      this.again = true;
      return;
    }
    this.rebuilding = (async () => {
      try {
        const next = await this.buildWhenPublished();
        if (this.stopped) return;
        const before = this.schema;
        if (before && before.sdl === next.sdl && sameKinds(before, next)) return;
        this.schema = next;
        const removed = this.noteRemoved(before, next);
        this.opts.logger?.info(
          { typedResources: next.kinds.map((k) => k.typeName) },
          "typed resources changed: schema rebuilt",
        );
        for (const l of this.listeners) l(next, removed);
      } catch (err) {
        this.opts.logger?.warn(
          { err: (err as Error).message },
          "typed resources: rebuild failed; keeping the schema",
        );
      } finally {
        this.rebuilding = undefined;
        if (this.again && !this.stopped) {
          this.again = false;
          this.schedule();
        }
      }
    })();
    await this.rebuilding;
  }

  /**
   * A new schema once /openapi/v3 shows the changes: the apiserver publishes a CRD's schema
   * shortly after the CRD changes, so a rebuild right after the event may find the previous
   * one (or none). Waits (bounded) until every selected resource has a schema and the document
   * of every changed group is another one, then builds with what there is.
   */
  private async buildWhenPublished(): Promise<TypedSchema> {
    const deadline = Date.now() + (this.opts.publishTimeoutMs ?? 10_000);
    const changed = [...this.changedGroups];
    this.changedGroups.clear();
    const before = this.urlsByGv;
    let delay = 100;
    for (;;) {
      const served = await this.opts.discovery.resources(true);
      const next = await this.build(served);
      const published = changed.every((g) => groupDocumentsDiffer(g, before, this.urlsByGv));
      if ((next.missing.length === 0 && published) || Date.now() > deadline || this.stopped) return next;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 1000);
    }
  }

  private async build(served: readonly ApiResource[]): Promise<TypedSchema> {
    const resources = selectResources(this.entries, served);
    const { documents, byUrl, urls } = await fetchOpenApi(
      this.opts.client,
      resources.map((r) => groupVersionPath(r.group, r.version)),
      this.documentsByUrl,
    );
    this.documentsByUrl = byUrl;
    this.urlsByGv = urls;
    // A resource whose kind's schema is not published gets untyped spec/status (`missing`).
    return typedSchema(resources, documents, this.opts.names);
  }

  /** Records the root fields gone; returns the resources (group/version/resource) gone. */
  private noteRemoved(
    before: TypedSchema | undefined,
    next: TypedSchema,
  ): { kind: TypedKind; why: string }[] {
    const now = new Set(next.kinds.flatMap((k) => [k.listField, k.getField, k.eventsField]));
    for (const f of now) this.removed.delete(f);
    const gvr = (k: TypedKind) => `${k.group}/${k.version}/${k.resource}`;
    const served = new Set(next.kinds.map(gvr));
    const gone: { kind: TypedKind; why: string }[] = [];
    for (const k of before?.kinds ?? []) {
      const id = k.group ? `${k.resource}.${k.group}` : k.resource;
      const why = `${id} is no longer served by the cluster (its CustomResourceDefinition was removed or changed)`;
      for (const f of [k.listField, k.getField, k.eventsField]) if (!now.has(f)) this.removed.set(f, why);
      const version = `${k.group ? `${k.group}/` : ""}${k.version}`;
      if (!served.has(gvr(k)))
        gone.push({ kind: k, why: why.replace(" is no longer", ` (${version}) is no longer`) });
    }
    return gone;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.crdInformer?.stop();
  }
}

function sameKinds(a: TypedSchema, b: TypedSchema): boolean {
  const key = (s: TypedSchema) =>
    JSON.stringify(
      s.kinds.map((k) => [k.typeName, k.group, k.version, k.resource, k.namespaced, [...k.topFields]]),
    );
  return key(a) === key(b);
}

/** Whether a group's documents (any version) were added, removed or changed between two builds. */
function groupDocumentsDiffer(
  group: string,
  a: ReadonlyMap<string, string>,
  b: ReadonlyMap<string, string>,
): boolean {
  const prefix = `apis/${group}/`;
  const of = (m: ReadonlyMap<string, string>) =>
    JSON.stringify([...m].filter(([gv]) => gv.startsWith(prefix)).sort());
  return of(a) !== of(b);
}
