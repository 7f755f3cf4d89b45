// The Mutation type's SDL (only with --enable-mutations), the per-kind fields generated from
// the tables below: adding a scalable or restartable kind is one entry.
import { type KindDescription, kindByName } from "../kinds.ts";

/** Kinds with spec.replicas. */
export const SCALABLE_KINDS = ["Deployment", "StatefulSet", "ReplicaSet"] as const;
/** Kinds with a pod template whose change rolls their pods (kubectl rollout restart). */
export const RESTARTABLE_KINDS = ["Deployment", "StatefulSet", "DaemonSet"] as const;

/** A core kind the tables name (always one of CORE_KINDS). */
export const kind = (name: string): KindDescription => kindByName(name)!;

const DRY_RUN = `"Let the apiserver check the write (RBAC, admission, validation) and answer with the result, storing nothing." dryRun: Boolean = false`;
const PRECONDITION = `"Write only if the object is still at this resourceVersion (CONFLICT otherwise)." resourceVersion: String`;

function perKindFields(): string {
  const scale = SCALABLE_KINDS.map(
    (
      k,
    ) => `  "Sets a ${k}'s spec.replicas (JSON merge patch of the ${kind(k).resource}.${kind(k).group} object, RBAC verb patch)."
  scale${k}(namespace: String!, name: String!, replicas: Int!, ${PRECONDITION}, ${DRY_RUN}): ${k}!`,
  );
  const restart = RESTARTABLE_KINDS.map(
    (
      k,
    ) => `  "Rolls every pod of a ${k}, as kubectl rollout restart does (annotation kubectl.kubernetes.io/restartedAt on its pod template)."
  restart${k}(namespace: String!, name: String!, ${PRECONDITION}, ${DRY_RUN}): ${k}!`,
  );
  return [...scale, ...restart].join("\n");
}

export function mutationTypeDefs(): string {
  return `
"How a delete treats the object's dependents (DeleteOptions.propagationPolicy)."
enum PropagationPolicy {
  Orphan
  Background
  Foreground
}

"What a delete did."
type DeleteResult {
  "True once kgql's cache no longer holds the object (false for a dry run, or while it terminates)."
  deleted: Boolean!
  "The object as cached while it terminates (finalizers, a pod's grace period); null once gone. For a dry run, the apiserver's answer."
  object: Resource
  namespace: String
  name: String!
  uid: ID
}

"A pod a drain evicted, could not evict, or left alone."
type DrainedPod {
  namespace: String!
  name: String!
  "Why it was refused (the apiserver's message, e.g. a PodDisruptionBudget) or skipped."
  reason: String
  "The refusal's code: FORBIDDEN, SERVICE_UNAVAILABLE (a disruption budget: retry later), ..."
  code: String
}

"What drainNode did."
type DrainResult {
  "The node, cordoned."
  node: Node!
  evicted: [DrainedPod!]!
  refused: [DrainedPod!]!
  "DaemonSet pods, mirror pods, and pods already terminating."
  skipped: [DrainedPod!]!
}

"""
Writes, each sent to the apiserver as the caller (with --auth kubernetes, by impersonation: the
caller's RBAC decides) and answered from kgql's cache once it holds the write, so the next query
is consistent with it. Only with --enable-mutations.
"""
type Mutation {
${perKindFields()}
  "Pauses (suspend: true) or resumes a CronJob."
  suspendCronJob(namespace: String!, name: String!, suspend: Boolean = true, ${PRECONDITION}, ${DRY_RUN}): CronJob!
  "Marks a node unschedulable (spec.unschedulable)."
  cordonNode(name: String!, ${PRECONDITION}, ${DRY_RUN}): Node!
  "Marks a node schedulable again."
  uncordonNode(name: String!, ${PRECONDITION}, ${DRY_RUN}): Node!
  "Cordons a node and evicts its pods (Eviction API: PodDisruptionBudgets apply), skipping DaemonSet and mirror pods, as kubectl drain."
  drainNode(name: String!, "Overrides each pod's terminationGracePeriodSeconds." gracePeriodSeconds: Int, ${DRY_RUN}): DrainResult!
  "Deletes a pod (its controller, if any, makes a new one)."
  deletePod(namespace: String!, name: String!, gracePeriodSeconds: Int, ${PRECONDITION}, ${DRY_RUN}): DeleteResult!
  """
  Server-side apply of one object (kubectl apply --server-side), given as manifest (JSON) or yaml
  (text). A namespaced object without metadata.namespace goes to the namespace argument.
  Returns the object as cached: its typed kind, or GenericResource.
  """
  applyManifest(manifest: JSONObject, yaml: String, namespace: String, fieldManager: String = "kgql", "Take over fields other managers own, instead of a CONFLICT." force: Boolean = false, ${DRY_RUN}): Resource!
  "Deletes one object of any served resource (see apiResources)."
  deleteResource(group: String = "", version: String!, resource: String!, namespace: String, name: String!, propagationPolicy: PropagationPolicy, gracePeriodSeconds: Int, ${PRECONDITION}, ${DRY_RUN}): DeleteResult!
}
`;
}
