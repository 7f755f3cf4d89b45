// kubectl drain: cordon the node, then evict every pod on it through the Eviction API (which
// honours PodDisruptionBudgets), as the caller. DaemonSet pods (their controller would put
// them right back, and tolerates unschedulable nodes) and mirror pods (the kubelet's static
// pods, which the API cannot delete) are skipped. Each pod's outcome is reported: a refusal
// (a disruption budget, RBAC) does not stop the others.
import type { KubeObject } from "../informers/types.ts";
import { kindByName } from "../kinds.ts";
import { patchObject, targetOf } from "./actions.ts";
import { cacheTimeout, waitUntil } from "./read-your-writes.ts";
import { codeOf } from "./write-errors.ts";
import type { Writer } from "./writer.ts";

export interface PodOutcome {
  namespace: string;
  name: string;
  uid?: string;
  reason?: string;
  code?: string;
}

export interface DrainOutcome {
  node: KubeObject;
  evicted: PodOutcome[];
  refused: PodOutcome[];
  skipped: PodOutcome[];
}

/** Evictions sent at once: a node of a few hundred pods drains in seconds, without a burst. */
const EVICTION_CONCURRENCY = 8;

const MIRROR_ANNOTATION = "kubernetes.io/config.mirror";

/** Why a pod is left alone, or undefined when it is to be evicted. */
export function skipReason(pod: KubeObject): string | undefined {
  if (pod.metadata.annotations?.[MIRROR_ANNOTATION] !== undefined)
    return "mirror pod (a static pod of the kubelet)";
  const controller = pod.metadata.ownerReferences?.find((o) => o.controller);
  if (controller?.kind === "DaemonSet") return `DaemonSet pod (${controller.name})`;
  if (pod.metadata.deletionTimestamp) return "already terminating";
  return undefined;
}

export async function drainNode(
  w: Writer,
  name: string,
  gracePeriodSeconds: number | null | undefined,
): Promise<DrainOutcome> {
  const podKind = kindByName("Pod")!;
  const node = await patchObject(w, kindByName("Node")!, undefined, name, { spec: { unschedulable: true } });
  // Listed as the caller, like kubectl: a caller who may not list pods everywhere learns nothing
  // of pods in namespaces it cannot see.
  const list = await w.send<{ items: KubeObject[] }>(targetOf(podKind, "list", undefined, undefined), "GET", {
    query: { fieldSelector: `spec.nodeName=${name}` },
  });
  const out: DrainOutcome = { node, evicted: [], refused: [], skipped: [] };
  const toEvict: KubeObject[] = [];
  for (const pod of list.items) {
    const reason = skipReason(pod);
    const id = { namespace: pod.metadata.namespace ?? "", name: pod.metadata.name };
    if (reason) out.skipped.push({ ...id, reason });
    else toEvict.push(pod);
  }
  const evict = async (pod: KubeObject) => {
    const id = { namespace: pod.metadata.namespace ?? "", name: pod.metadata.name };
    const target = { ...targetOf(podKind, "create", id.namespace, id.name), subresource: "eviction" };
    try {
      await w.send(target, "POST", {
        body: {
          apiVersion: "policy/v1",
          kind: "Eviction",
          metadata: id,
          ...(gracePeriodSeconds !== undefined && gracePeriodSeconds !== null
            ? { deleteOptions: { gracePeriodSeconds } }
            : {}),
        },
      });
      out.evicted.push({ ...id, uid: pod.metadata.uid });
    } catch (err) {
      // Gone meanwhile: nothing left to evict.
      if (codeOf(err) === "NOT_FOUND") out.evicted.push(id);
      else out.refused.push({ ...id, reason: (err as Error).message, code: codeOf(err) });
    }
  };
  const queue = [...toEvict];
  await Promise.all(
    Array.from({ length: Math.min(EVICTION_CONCURRENCY, queue.length) }, async () => {
      for (let pod = queue.shift(); pod; pod = queue.shift()) await evict(pod);
    }),
  );
  for (const list of [out.evicted, out.refused, out.skipped])
    list.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
  if (!w.dryRun) await untilEvictionsCached(w, out.evicted);
  return out;
}

/** Read-your-writes for evictions: each evicted pod is gone from the cache, or terminating. */
async function untilEvictionsCached(w: Writer, evicted: PodOutcome[]): Promise<void> {
  const informer = w.ctx.gateway.informer("Pod");
  const pending = () =>
    evicted.filter((p) => {
      const cached = informer.store.get(`${p.namespace}/${p.name}`);
      return cached && (!p.uid || cached.metadata.uid === p.uid) && !cached.metadata.deletionTimestamp;
    });
  if (await waitUntil(informer, () => pending().length === 0, w.ctx.deadline)) return;
  const left = pending();
  throw cacheTimeout(
    informer,
    `the eviction of ${left.length} pod(s) (${left[0]?.name}, ...)`,
    undefined,
    w.ctx.deadline,
  );
}
