// The apiserver's OpenAPI v3 documents (/openapi/v3), one per group version: where typed
// resources' schemas come from, CRDs' included (the apiserver publishes each CRD's structural
// schema there, with its x-kubernetes-* extensions).
import type { KubeClient } from "../informers/client.ts";

/** A JSON schema as the apiserver publishes it (the parts kgql reads). */
export interface OpenApiSchema {
  type?: string;
  format?: string;
  description?: string;
  properties?: Record<string, OpenApiSchema>;
  additionalProperties?: boolean | OpenApiSchema;
  items?: OpenApiSchema;
  allOf?: OpenApiSchema[];
  anyOf?: OpenApiSchema[];
  oneOf?: OpenApiSchema[];
  $ref?: string;
  "x-kubernetes-int-or-string"?: boolean;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-group-version-kind"?: { group: string; version: string; kind: string }[];
}

export interface OpenApiDocument {
  components?: { schemas?: Record<string, OpenApiSchema> };
}

/** "apis/argoproj.io/v1alpha1" or "api/v1": the key of a group version in /openapi/v3. */
export function groupVersionPath(group: string, version: string): string {
  return group ? `apis/${group}/${version}` : `api/${version}`;
}

/**
 * Fetches the documents of these group versions. The index's URLs carry a content hash, so a
 * document is fetched again only when it changed (CRDs added, changed or removed): `previous`
 * holds those already fetched, by URL.
 */
export async function fetchOpenApi(
  client: KubeClient,
  groupVersions: Iterable<string>,
  previous: Map<string, OpenApiDocument> = new Map(),
): Promise<{
  documents: Map<string, OpenApiDocument>;
  byUrl: Map<string, OpenApiDocument>;
  /** Each group version's URL (its content hash changes with its schemas). */
  urls: Map<string, string>;
}> {
  let index: { paths: Record<string, { serverRelativeURL: string }> };
  try {
    index = await client.getJSON("/openapi/v3");
  } catch (err) {
    // A server without OpenAPI v3 (before Kubernetes 1.27; the demo cluster): no schemas, so
    // typed resources get untyped spec and status (JSONObject).
    if ((err as { status?: number }).status === 404)
      return { documents: new Map(), byUrl: new Map(), urls: new Map() };
    throw err;
  }
  const documents = new Map<string, OpenApiDocument>();
  const byUrl = new Map<string, OpenApiDocument>();
  const urls = new Map<string, string>();
  await Promise.all(
    [...new Set(groupVersions)].map(async (gv) => {
      const url = index.paths[gv]?.serverRelativeURL;
      if (!url) return;
      const doc = previous.get(url) ?? (await client.getJSON<OpenApiDocument>(url));
      documents.set(gv, doc);
      byUrl.set(url, doc);
      urls.set(gv, url);
    }),
  );
  return { documents, byUrl, urls };
}

/** The schema of a kind in a group version's document (x-kubernetes-group-version-kind). */
export function kindSchema(
  doc: OpenApiDocument,
  group: string,
  version: string,
  kind: string,
): { name: string; schema: OpenApiSchema } | undefined {
  for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) {
    const gvks = schema["x-kubernetes-group-version-kind"] ?? [];
    if (gvks.some((g) => g.group === group && g.version === version && g.kind === kind))
      return { name, schema };
  }
  return undefined;
}
