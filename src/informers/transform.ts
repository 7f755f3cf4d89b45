// Transforms run once per object before it enters the store.
import type { KubeObject, ObjectMeta } from "./types.ts";

export const LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration";

/**
 * The default transform: drops metadata.managedFields (often ~40% of an object) and the
 * last-applied-configuration annotation (a full copy of the object as applied). Neither is
 * served by kgql, and both would multiply the cache's memory. Works on the freshly parsed
 * object: it belongs to the reflector and nothing else references it yet.
 *
 * The objects holding them are rebuilt without the key rather than `delete`d from: a delete
 * turns an object into a hash-table ("dictionary mode") object, which is larger and slower to
 * read than the compact shape JSON.parse gives it (~700 bytes more per pod). The reflector
 * usually cuts managedFields from the text before parsing (dropManagedFields), so this is the
 * fallback.
 */
export function stripBulkyMetadata(obj: KubeObject): KubeObject {
  const meta = obj.metadata;
  const annotations = meta.annotations;
  const lastApplied = annotations !== undefined && LAST_APPLIED_ANNOTATION in annotations;
  if (meta.managedFields === undefined && !lastApplied) return obj;
  const { managedFields: _dropped, ...rest } = meta;
  if (lastApplied) {
    const { [LAST_APPLIED_ANNOTATION]: _applied, ...kept } = annotations;
    rest.annotations = kept;
  }
  obj.metadata = rest as ObjectMeta;
  return obj;
}
