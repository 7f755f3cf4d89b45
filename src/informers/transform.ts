// Transforms run once per object before it enters the store.
import type { KubeObject } from "./types.ts";

export const LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration";

/**
 * The default transform: drops metadata.managedFields (often ~40% of an object) and the
 * last-applied-configuration annotation (a full copy of the object as applied). Neither is
 * served by kgql, and both would multiply the cache's memory. Mutates the freshly parsed
 * object in place: it belongs to the reflector and nothing else references it yet.
 */
export function stripBulkyMetadata(obj: KubeObject): KubeObject {
  const meta = obj.metadata;
  if (meta.managedFields !== undefined) delete meta.managedFields;
  const annotations = meta.annotations;
  if (annotations && LAST_APPLIED_ANNOTATION in annotations) {
    delete annotations[LAST_APPLIED_ANNOTATION];
  }
  return obj;
}
