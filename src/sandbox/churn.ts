// Background change for the demo and for soak tests: what controllers and kubelets do all day.
// Each tick does one of: a pod's container restarts or its readiness flips (the ReplicaSet and
// Deployment statuses follow), a Deployment scales up or down by one (pods created, or deleted
// gracefully: first a deletionTimestamp, then gone on the next tick), or a Deployment rolls out a
// new image (a new ReplicaSet with new pods, the old one scaled to zero). EndpointSlices follow
// the pods. The sequence of choices is deterministic for a seed and a starting state.
import type { KubeObject } from "../informers/types.ts";
import type { SandboxCluster } from "./cluster.ts";
import { Builder, type NodeRef, Rng, replicaSetFor, templateHash } from "./objects.ts";

export interface ChurnOptions {
  /** Milliseconds between changes (default 1000). */
  intervalMs?: number;
  /** PRNG seed (default 7). */
  seed?: number;
}

type Json = Record<string, unknown>;
interface ContainerStatus {
  name: string;
  ready: boolean;
  started?: boolean;
  restartCount: number;
  state: Json;
  lastState: Json;
}
interface PodStatus {
  conditions?: { type: string; status: string; lastTransitionTime?: string }[];
  containerStatuses?: ContainerStatus[];
}
interface WorkloadSpec {
  replicas: number;
  template: { metadata: { labels: Record<string, string> }; spec: Json & { containers: Json[] } };
}

/** Churn events kept before the oldest are deleted (the apiserver expires events after an hour). */
const MAX_CHURN_EVENTS = 200;
/** Old ReplicaSets kept per Deployment after a rollout. */
const KEEP_OLD_REPLICASETS = 2;

export function startChurn(sim: SandboxCluster, opts: ChurnOptions = {}): () => void {
  const churn = new Churn(sim, opts.seed ?? 7);
  const timer = setInterval(() => churn.tick(), opts.intervalMs ?? 1000);
  timer.unref();
  return () => clearInterval(timer);
}

export class Churn {
  private readonly sim: SandboxCluster;
  private readonly b: Builder;
  private readonly rng: Rng;
  /** Pods marked for deletion on the previous tick. */
  private terminating: { namespace: string; name: string }[] = [];
  private readonly events: { namespace: string; name: string }[] = [];

  constructor(sim: SandboxCluster, seed: number) {
    this.sim = sim;
    // Pod IPs from a range the seed does not use; timestamps from the real clock.
    this.b = new Builder(new Rng(seed), undefined, 5_000_000);
    this.rng = this.b.rng;
  }

  /** One change (plus finishing the previous tick's graceful deletions). */
  tick(): void {
    const finishing = this.terminating;
    this.terminating = [];
    for (const p of finishing) this.sim.delete("pods", p.namespace, p.name);
    const deployments = this.sim.list("deployments");
    if (deployments.length === 0) return;
    const dep = deployments[this.rng.int(deployments.length)]!;
    const roll = this.rng.int(10);
    if (roll < 6) this.podStatusChange(dep);
    else if (roll < 9) this.scale(dep, this.rng.int(2) === 0 ? -1 : 1);
    else this.rollout(dep);
  }

  private currentReplicaSet(dep: KubeObject): KubeObject | undefined {
    let best: KubeObject | undefined;
    let bestRevision = -1;
    for (const rs of this.sim.list("replicasets", dep.metadata.namespace)) {
      if (rs.metadata.ownerReferences?.[0]?.uid !== dep.metadata.uid) continue;
      const revision = Number(rs.metadata.annotations?.["deployment.kubernetes.io/revision"] ?? 0);
      if (revision > bestRevision) [best, bestRevision] = [rs, revision];
    }
    return best;
  }

  private podsOf(owner: KubeObject): KubeObject[] {
    return this.sim
      .list("pods", owner.metadata.namespace)
      .filter(
        (p) => p.metadata.ownerReferences?.[0]?.uid === owner.metadata.uid && !p.metadata.deletionTimestamp,
      );
  }

  private nodes(): NodeRef[] {
    return this.sim.list("nodes").map((n) => {
      const addresses = (n.status as { addresses?: { type: string; address: string }[] }).addresses ?? [];
      return { name: n.metadata.name, ip: addresses.find((a) => a.type === "InternalIP")?.address ?? "" };
    });
  }

  private podStatusChange(dep: KubeObject): void {
    const rs = this.currentReplicaSet(dep);
    const pods = rs ? this.podsOf(rs) : [];
    if (!rs || pods.length === 0) return;
    const pod = pods[this.rng.int(pods.length)]!;
    const status = pod.status as PodStatus;
    const now = this.b.time();
    if (this.rng.int(2) === 0) {
      // The container crashed and was restarted by the kubelet.
      const containerStatuses = status.containerStatuses?.map((c) => ({
        ...c,
        restartCount: c.restartCount + 1,
        lastState: {
          terminated: {
            exitCode: 1,
            reason: "Error",
            startedAt: (c.state.running as { startedAt?: string } | undefined)?.startedAt ?? now,
            finishedAt: now,
            containerID: `containerd://${this.rng.hex(64)}`,
          },
        },
        state: { running: { startedAt: now } },
      }));
      this.sim.update("pods", { ...pod, status: { ...status, containerStatuses } });
      this.event(pod, "BackOff", "Back-off restarting failed container app", "kubelet", "Warning");
    } else {
      const ready = status.conditions?.find((c) => c.type === "Ready")?.status !== "True";
      const flip = (c: { type: string; status: string }) =>
        c.type === "Ready" || c.type === "ContainersReady"
          ? { ...c, status: ready ? "True" : "False", lastTransitionTime: now }
          : c;
      this.sim.update("pods", {
        ...pod,
        status: {
          ...status,
          conditions: status.conditions?.map(flip),
          containerStatuses: status.containerStatuses?.map((c) => ({ ...c, ready })),
        },
      });
      if (!ready)
        this.event(
          pod,
          "Unhealthy",
          "Readiness probe failed: HTTP probe failed with statuscode: 503",
          "kubelet",
          "Warning",
        );
    }
    this.syncStatus(dep, rs);
  }

  /** Scales a Deployment by `delta` (tests and benchmarks call it to make one change happen). */
  scale(dep: KubeObject, delta: number): void {
    const rs = this.currentReplicaSet(dep);
    if (!rs) return;
    const spec = dep.spec as WorkloadSpec;
    const replicas = spec.replicas <= 1 ? spec.replicas + 1 : Math.min(spec.replicas + delta, 20);
    if (replicas === spec.replicas) return;
    dep = this.sim.update("deployments", { ...dep, spec: { ...spec, replicas } });
    const rsNow = this.sim.update("replicasets", {
      ...rs,
      metadata: {
        ...rs.metadata,
        annotations: {
          ...rs.metadata.annotations,
          "deployment.kubernetes.io/desired-replicas": String(replicas),
        },
      },
      spec: { ...(rs.spec as Json), replicas },
    });
    const pods = this.podsOf(rsNow);
    const nodes = this.nodes();
    for (let n = pods.length; n < replicas && nodes.length > 0; n++) this.createPod(rsNow, nodes);
    for (let n = pods.length; n > replicas; n--) this.terminate(pods[n - 1]!);
    this.event(
      dep,
      "ScalingReplicaSet",
      `Scaled ${delta > 0 ? "up" : "down"} replica set ${rs.metadata.name} from ${spec.replicas} to ${replicas}`,
      "deployment-controller",
    );
    this.syncStatus(dep, rsNow);
  }

  /** Rolls a Deployment out to a new image: a new ReplicaSet and pods, the old pods terminating. */
  rollout(dep: KubeObject): void {
    const old = this.currentReplicaSet(dep);
    const spec = dep.spec as WorkloadSpec;
    const [container] = spec.template.spec.containers;
    if (!old || !container) return;
    const base = String(container.image).replace(/:[^:/]*$/, "");
    const image = `${base}:1.${this.rng.int(5)}.${this.rng.int(100)}`;
    if (image === container.image) return;
    const revision = Number(dep.metadata.annotations?.["deployment.kubernetes.io/revision"] ?? 1) + 1;
    dep = this.sim.update("deployments", {
      ...dep,
      metadata: {
        ...dep.metadata,
        annotations: { ...dep.metadata.annotations, "deployment.kubernetes.io/revision": String(revision) },
      },
      spec: {
        ...spec,
        template: {
          ...spec.template,
          spec: {
            ...spec.template.spec,
            containers: [{ ...container, image }, ...spec.template.spec.containers.slice(1)],
          },
        },
      },
    });
    const hash = templateHash(`${dep.metadata.namespace}/${dep.metadata.name}/${image}`);
    if (this.sim.get("replicasets", dep.metadata.namespace, `${dep.metadata.name}-${hash}`)) return;
    const rs = this.sim.create("replicasets", replicaSetFor(this.b, dep, hash, spec.replicas, revision));
    const nodes = this.nodes();
    for (let n = 0; n < spec.replicas && nodes.length > 0; n++) this.createPod(rs, nodes);
    for (const p of this.podsOf(old)) this.terminate(p);
    this.sim.update("replicasets", {
      ...old,
      spec: { ...(old.spec as Json), replicas: 0 },
      status: { replicas: 0, observedGeneration: (old.metadata.generation ?? 1) + 1 },
    });
    this.event(
      dep,
      "ScalingReplicaSet",
      `Scaled up replica set ${rs.metadata.name} from 0 to ${spec.replicas}`,
      "deployment-controller",
    );
    // revisionHistoryLimit, kept small here: the oldest ReplicaSets at zero go.
    const olds = this.sim
      .list("replicasets", dep.metadata.namespace)
      .filter(
        (r) =>
          r.metadata.ownerReferences?.[0]?.uid === dep.metadata.uid && r.metadata.uid !== rs.metadata.uid,
      )
      .sort(
        (a, b) =>
          Number(a.metadata.annotations?.["deployment.kubernetes.io/revision"] ?? 0) -
          Number(b.metadata.annotations?.["deployment.kubernetes.io/revision"] ?? 0),
      );
    for (const r of olds.slice(0, Math.max(0, olds.length - KEEP_OLD_REPLICASETS))) {
      this.sim.delete("replicasets", r.metadata.namespace, r.metadata.name);
    }
    this.syncStatus(dep, rs);
  }

  private createPod(rs: KubeObject, nodes: NodeRef[]): KubeObject | undefined {
    const template = (rs.spec as WorkloadSpec).template;
    const name = `${rs.metadata.name}-${this.rng.suffix()}`;
    if (this.sim.get("pods", rs.metadata.namespace, name)) return undefined;
    const node = nodes[this.rng.int(nodes.length)]!;
    return this.sim.create("pods", this.b.pod(rs, name, node, template.metadata.labels, template.spec));
  }

  /** Graceful deletion: the kubelet gets a deletionTimestamp now, the object goes next tick. */
  private terminate(pod: KubeObject): void {
    const grace =
      (pod.spec as { terminationGracePeriodSeconds?: number }).terminationGracePeriodSeconds ?? 30;
    this.sim.update("pods", {
      ...pod,
      metadata: {
        ...pod.metadata,
        deletionTimestamp: this.b.time(),
        deletionGracePeriodSeconds: grace,
      } as KubeObject["metadata"],
    });
    this.terminating.push({ namespace: pod.metadata.namespace!, name: pod.metadata.name });
    this.event(pod, "Killing", "Stopping container app", "kubelet");
  }

  /** ReplicaSet and Deployment statuses and the Service's EndpointSlices after pods changed. */
  private syncStatus(dep: KubeObject, rs: KubeObject): void {
    const pods = this.podsOf(rs);
    const ready = pods.filter((p) =>
      (p.status as PodStatus).conditions?.some((c) => c.type === "Ready" && c.status === "True"),
    );
    const current = this.sim.get("replicasets", rs.metadata.namespace, rs.metadata.name);
    if (current) {
      this.sim.update("replicasets", {
        ...current,
        status: {
          replicas: pods.length,
          fullyLabeledReplicas: pods.length,
          readyReplicas: ready.length,
          availableReplicas: ready.length,
          observedGeneration: current.metadata.generation ?? 1,
        },
      });
    }
    const d = this.sim.get("deployments", dep.metadata.namespace, dep.metadata.name);
    if (d) {
      this.sim.update("deployments", {
        ...d,
        status: {
          ...(d.status as Json),
          observedGeneration: d.metadata.generation ?? 1,
          replicas: pods.length,
          updatedReplicas: pods.length,
          readyReplicas: ready.length,
          availableReplicas: ready.length,
          unavailableReplicas: pods.length - ready.length || undefined,
        },
      });
    }
    this.syncEndpoints(dep.metadata.namespace!, dep.metadata.name, ready);
  }

  private syncEndpoints(namespace: string, service: string, ready: KubeObject[]): void {
    const svc = this.sim.get("services", namespace, service);
    if (!svc) return;
    const slices = this.sim
      .list("endpointslices", namespace)
      .filter((s) => s.metadata.labels?.["kubernetes.io/service-name"] === service);
    const wanted = this.b.endpointSlices(svc, ready, 8080);
    wanted.forEach((w, n) => {
      const existing = slices[n];
      if (existing)
        this.sim.update("endpointslices", {
          ...existing,
          endpoints: w.endpoints,
          metadata: { ...existing.metadata, annotations: w.metadata.annotations },
        });
      else this.sim.create("endpointslices", w);
    });
    for (const extra of slices.slice(wanted.length)) {
      this.sim.delete("endpointslices", namespace, extra.metadata.name);
    }
  }

  private event(
    involved: KubeObject,
    reason: string,
    message: string,
    component: string,
    type?: string,
  ): void {
    const ev = this.sim.create("events", this.b.event(involved, reason, message, component, { type }));
    this.events.push({ namespace: ev.metadata.namespace!, name: ev.metadata.name });
    while (this.events.length > MAX_CHURN_EVENTS) {
      const oldest = this.events.shift()!;
      this.sim.delete("events", oldest.namespace, oldest.name);
    }
  }
}
