// The standard indexes every cache keeps, so that queries never scan a kind.
import type { Indexers } from "./store.ts";
import type { KubeObject } from "./types.ts";

/** metadata.namespace; cluster-scoped objects are not indexed. */
export const NAMESPACE_INDEX = "namespace";
/** Every metadata.ownerReferences[].uid. */
export const OWNER_UID_INDEX = "ownerUid";
/** A pod's spec.nodeName, when scheduled. */
export const NODE_NAME_INDEX = "nodeName";
/** Each label as "key=value" and as "key" (existence), so set-based selectors use the index too. */
export const LABEL_INDEX = "labels";
/**
 * For objects that select others (a Service's spec.selector map, a workload's metav1.LabelSelector):
 * each "key=value" the selector requires (matchLabels, and every value of an In expression),
 * "key" for an Exists expression, and SELECTS_ANY_VALUE when the selector has no positive
 * requirement (the empty selector, or only NotIn/DoesNotExist) so it is still found. A selector
 * that selects nothing (absent, or an empty Service map) is not indexed.
 *
 * Reverse match ("which services select this pod"): look up each of the pod's labels as "k=v"
 * and as "k", plus SELECTS_ANY_VALUE, then verify each candidate's full selector. Lister.selecting
 * does this.
 */
export const SELECTOR_INDEX = "selector";
/** The SELECTOR_INDEX value for selectors without a positive requirement ("*" is no label key). */
export const SELECTS_ANY_VALUE = "*";

const NONE: readonly string[] = [];

export function namespaceIndex(obj: KubeObject): readonly string[] {
  const ns = obj.metadata.namespace;
  return ns ? [ns] : NONE;
}
// The store key includes the namespace, so two versions of one object never differ in it.
namespaceIndex.unchanged = (_before: KubeObject, _after: KubeObject) => true;

export function ownerUidIndex(obj: KubeObject): readonly string[] {
  const refs = obj.metadata.ownerReferences;
  if (!refs || refs.length === 0) return NONE;
  const out: string[] = new Array(refs.length);
  for (let i = 0; i < refs.length; i++) out[i] = refs[i]!.uid;
  return out;
}

function ownerUidIndexUnchanged(before: KubeObject, after: KubeObject): boolean {
  const a = before.metadata.ownerReferences;
  const b = after.metadata.ownerReferences;
  if (a === b) return true;
  if (!a || !b || a.length !== b.length) return (a?.length ?? 0) === 0 && (b?.length ?? 0) === 0;
  for (let i = 0; i < a.length; i++) if (a[i]!.uid !== b[i]!.uid) return false;
  return true;
}
ownerUidIndex.unchanged = ownerUidIndexUnchanged;

function nodeNameOf(obj: KubeObject): unknown {
  return (obj.spec as { nodeName?: unknown } | undefined)?.nodeName;
}

export function nodeNameIndex(obj: KubeObject): readonly string[] {
  const node = nodeNameOf(obj);
  return typeof node === "string" && node ? [node] : NONE;
}
nodeNameIndex.unchanged = (before: KubeObject, after: KubeObject) => nodeNameOf(before) === nodeNameOf(after);

export function labelIndex(obj: KubeObject): readonly string[] {
  const labels = obj.metadata.labels;
  if (!labels) return NONE;
  const out: string[] = [];
  for (const k in labels) out.push(`${k}=${labels[k]}`, k);
  return out;
}
/** Same label keys and values (order aside): no string is built. */
labelIndex.unchanged = (before: KubeObject, after: KubeObject) => {
  const a = before.metadata.labels;
  const b = after.metadata.labels;
  if (a === b) return true;
  let n = 0;
  if (a) {
    for (const k in a) {
      if (b?.[k] !== a[k]) return false;
      n++;
    }
  }
  if (b) for (const _k in b) n--;
  return n === 0;
};

interface SelectorJson {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/**
 * Whether a spec.selector is a metav1.LabelSelector ({matchLabels, matchExpressions}) rather than
 * a Service's plain map: a map's values are strings, a LabelSelector's are an object and an array.
 */
function isLabelSelector(sel: Record<string, unknown>): boolean {
  return (
    (typeof sel.matchLabels === "object" && sel.matchLabels !== null) || Array.isArray(sel.matchExpressions)
  );
}

/**
 * Whether spec.selector is a plain label map (Service, ReplicationController; empty selects
 * nothing) rather than a metav1.LabelSelector (empty selects everything).
 */
function isMapSelector(obj: KubeObject, sel: Record<string, unknown>): boolean {
  if (obj.kind === "Service" || obj.kind === "ReplicationController") return true;
  if (isLabelSelector(sel)) return false;
  // A kind-less object is taken for a Service; for other kinds {} is the empty LabelSelector.
  return obj.kind === undefined || Object.keys(sel).length > 0;
}

/** SELECTOR_INDEX: see its doc comment. */
export function selectorIndex(obj: KubeObject): readonly string[] {
  const sel = (obj.spec as { selector?: unknown } | undefined)?.selector;
  if (typeof sel !== "object" || sel === null) return NONE;
  const out: string[] = [];
  if (isMapSelector(obj, sel as Record<string, unknown>)) {
    // A Service's map: empty selects nothing, so it stays out of the index.
    const map = sel as Record<string, string>;
    for (const k in map) out.push(`${k}=${map[k]}`);
    return out;
  }
  const { matchLabels, matchExpressions } = sel as SelectorJson;
  if (matchLabels) for (const k in matchLabels) out.push(`${k}=${matchLabels[k]}`);
  if (matchExpressions) {
    for (const e of matchExpressions) {
      if (e.operator === "In") for (const v of e.values ?? NONE) out.push(`${e.key}=${v}`);
      else if (e.operator === "Exists") out.push(e.key);
    }
  }
  if (out.length === 0) out.push(SELECTS_ANY_VALUE);
  return out;
}

/** namespace + ownerUid + labels for every resource, plus nodeName for pods and selector for services. */
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
