// The standard indexes every cache keeps, so that queries never scan a kind.
import type { Indexers } from "./store.ts";
import type { KubeObject } from "./types.ts";

export const NAMESPACE_INDEX = "namespace";
export const OWNER_UID_INDEX = "ownerUid";
export const NODE_NAME_INDEX = "nodeName";
/** Each label as "key=value" and "key" (existence), so set-based selectors use the index. */
export const LABEL_INDEX = "labels";
/** For objects that select others (Services): each "key=value" of their selector. */
export const SELECTOR_INDEX = "selector";

const none: readonly string[] = [];

export function namespaceIndex(obj: KubeObject): readonly string[] {
  return obj.metadata.namespace ? [obj.metadata.namespace] : none;
}

export function ownerUidIndex(obj: KubeObject): readonly string[] {
  const refs = obj.metadata.ownerReferences;
  return refs?.length ? refs.map((r) => r.uid) : none;
}

export function nodeNameIndex(obj: KubeObject): readonly string[] {
  const node = (obj.spec as { nodeName?: string } | undefined)?.nodeName;
  return node ? [node] : none;
}

export function labelIndex(obj: KubeObject): readonly string[] {
  const labels = obj.metadata.labels;
  if (!labels) return none;
  const out: string[] = [];
  for (const k in labels) out.push(`${k}=${labels[k]}`, k);
  return out;
}

/** The label map an object selects with: Service spec.selector, or spec.selector.matchLabels. */
export function selectorLabels(obj: KubeObject): Record<string, string> | undefined {
  const sel = (obj.spec as { selector?: Record<string, unknown> } | undefined)?.selector;
  if (!sel) return undefined;
  if ("matchLabels" in sel || "matchExpressions" in sel)
    return sel.matchLabels as Record<string, string> | undefined;
  return sel as Record<string, string>;
}

export function selectorIndex(obj: KubeObject): readonly string[] {
  const sel = selectorLabels(obj);
  if (!sel) return none;
  const out: string[] = [];
  for (const k in sel) out.push(`${k}=${sel[k]}`);
  return out;
}

export function defaultIndexers(resource: string): Indexers {
  const indexers: Indexers = {
    [NAMESPACE_INDEX]: namespaceIndex,
    [OWNER_UID_INDEX]: ownerUidIndex,
    [LABEL_INDEX]: labelIndex,
  };
  if (resource === "pods") indexers[NODE_NAME_INDEX] = nodeNameIndex;
  if (resource === "services") indexers[SELECTOR_INDEX] = selectorIndex;
  return indexers;
}
