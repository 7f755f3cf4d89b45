// Object factories for the demo seed and the churn: Nodes, pods as kwok reports them, events,
// EndpointSlices, ReplicaSets of a Deployment, with the fields and managedFields the real
// controllers leave. A seeded PRNG and an optional fixed clock make them deterministic.
import type { KubeObject, ObjectMeta, OwnerReference } from "../informers/types.ts";
import { timestamp } from "./store.ts";

/** mulberry32: small, fast, and the same sequence everywhere for a seed. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = Math.imul(this.state ^ (this.state >>> 15), 1 | this.state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  }
  int(n: number): number {
    return this.next() % n;
  }
  hex(chars: number): string {
    let s = "";
    for (let i = 0; i < chars; i += 8) {
      const n = this.next();
      for (let shift = 28; shift >= 0 && s.length < chars; shift -= 4) s += HEX[(n >>> shift) & 15];
    }
    return s;
  }
  /** A version-4 UUID. */
  uid(): string {
    const h = this.hex(32);
    const variant = ((Number.parseInt(h[16]!, 16) & 3) | 8).toString(16);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20)}`;
  }
  /** Like the apiserver's generateName suffixes: vowel-free, so no words appear by chance. */
  suffix(chars = 5): string {
    let s = "";
    for (let i = 0; i < chars; i++) s += SAFE_ALPHABET[this.int(SAFE_ALPHABET.length)];
    return s;
  }
}

const SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";
const HEX = "0123456789abcdef";
const EMPTY = Object.freeze({});

/**
 * pod-template-hash as kube-controller-manager renders it: fnv32a, printed in decimal, each digit
 * mapped through the safe alphabet (rand.SafeEncodeString), hence values like "66b6c48dd5".
 */
export function templateHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  let s = "";
  for (const digit of String(h >>> 0)) s += SAFE_ALPHABET[digit.charCodeAt(0) % SAFE_ALPHABET.length];
  return s;
}

export function ownerRef(obj: KubeObject): OwnerReference {
  return {
    apiVersion: obj.apiVersion!,
    kind: obj.kind!,
    name: obj.metadata.name,
    uid: obj.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export interface NodeRef {
  name: string;
  ip: string;
}

type Json = Record<string, unknown>;

/** Object factories shared by the seed and the churn. */
export class Builder {
  readonly rng: Rng;
  /** Seconds since the base time; the seed's clock only moves forward. */
  private clock = 0;
  private readonly base: number | undefined;
  private podIPs: number;
  private serviceIPs = 10;
  private readonly podManaged = new Map<string, unknown[]>();
  private readonly imageIDs = new Map<string, string>();
  private readonly conditions = new Map<string, unknown[]>();
  private readonly sharedValues = new Map<string, unknown>();
  private readonly ownerRefs = new Map<string, OwnerReference[]>();
  private formattedAt = -1;
  private formatted = "";

  /** base: a fixed epoch (ms) for deterministic timestamps, or undefined for the real time. */
  constructor(rng: Rng, base: number | undefined, podIPStart = 0) {
    this.rng = rng;
    this.base = base;
    this.podIPs = podIPStart;
  }

  /** A timestamp `advance` seconds after the previous one (deterministic mode), or now. */
  time(advance = 0): string {
    if (this.base === undefined) return timestamp();
    this.clock += advance;
    // Many objects share a second: format each second once.
    if (this.clock !== this.formattedAt) {
      this.formattedAt = this.clock;
      this.formatted = timestamp(new Date(this.base + this.clock * 1000));
    }
    return this.formatted;
  }

  /** The image digest a registry would report: one per image. */
  imageID(image: string): string {
    let id = this.imageIDs.get(image);
    if (!id) {
      id = `${image.split(":")[0]}@sha256:${this.rng.hex(64)}`;
      this.imageIDs.set(image, id);
    }
    return id;
  }

  meta(name: string, namespace: string | undefined, extra: Partial<ObjectMeta> = {}): ObjectMeta {
    const m: ObjectMeta = { name, uid: this.rng.uid(), resourceVersion: "", creationTimestamp: this.time() };
    if (namespace) m.namespace = namespace;
    return { ...m, ...extra };
  }

  podIP(): string {
    const c = this.podIPs++;
    const j = Math.floor(c / 254);
    return `10.${64 + ((j >>> 8) % 192)}.${j & 255}.${(c % 254) + 1}`;
  }

  serviceIP(): string {
    const c = this.serviceIPs++;
    return `10.96.${(c >>> 8) & 255}.${c & 255}`;
  }

  node(name: string, ip: string, podCIDR: string, maxPods: number): KubeObject {
    const t = this.time();
    const cond = (type: string, status: string, reason: string, message: string) => ({
      type,
      status,
      lastHeartbeatTime: t,
      lastTransitionTime: t,
      reason,
      message,
    });
    return {
      apiVersion: "v1",
      kind: "Node",
      metadata: this.meta(name, undefined, {
        labels: {
          "beta.kubernetes.io/arch": "amd64",
          "beta.kubernetes.io/os": "linux",
          "kubernetes.io/arch": "amd64",
          "kubernetes.io/hostname": name,
          "kubernetes.io/os": "linux",
          "kubernetes.io/role": "agent",
          "node-role.kubernetes.io/agent": "",
          "topology.kubernetes.io/zone": `zone-${"abc"[this.rng.int(3)]}`,
          type: "kwok",
        },
        annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" },
      }),
      spec: { podCIDR, podCIDRs: [podCIDR], providerID: `kwok://${name}` },
      status: {
        capacity: { cpu: "32", "ephemeral-storage": "1Ti", memory: "256Gi", pods: String(maxPods) },
        allocatable: { cpu: "31500m", "ephemeral-storage": "1Ti", memory: "250Gi", pods: String(maxPods) },
        conditions: [
          cond(
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
          ),
          cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
          cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
          cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ],
        addresses: [
          { type: "InternalIP", address: ip },
          { type: "Hostname", address: name },
        ],
        daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
        nodeInfo: {
          machineID: this.rng.hex(32),
          systemUUID: this.rng.uid(),
          bootID: this.rng.uid(),
          kernelVersion: "6.8.0",
          osImage: "kwok",
          containerRuntimeVersion: "kwok-v0.7.0",
          kubeletVersion: "fake",
          kubeProxyVersion: "fake",
          operatingSystem: "linux",
          architecture: "amd64",
        },
        phase: "Running",
      },
    };
  }

  /** The pod template of a Deployment: shared by its ReplicaSet and every pod it creates. */
  podTemplateSpec(container: string, image: string, port: number): Json {
    return {
      containers: [
        {
          name: container,
          image,
          ports: [{ name: "http", containerPort: port, protocol: "TCP" }],
          env: [
            { name: "LOG_FORMAT", value: "json" },
            { name: "DB_PASSWORD", valueFrom: { secretKeyRef: { name: "app-secret", key: "password" } } },
          ],
          envFrom: [{ configMapRef: { name: "app-config" } }],
          resources: { limits: { memory: "256Mi" }, requests: { cpu: "100m", memory: "128Mi" } },
          readinessProbe: {
            httpGet: { path: "/healthz", port, scheme: "HTTP" },
            timeoutSeconds: 1,
            periodSeconds: 10,
            successThreshold: 1,
            failureThreshold: 3,
          },
          terminationMessagePath: "/dev/termination-log",
          terminationMessagePolicy: "File",
          imagePullPolicy: "IfNotPresent",
        },
      ],
      restartPolicy: "Always",
      terminationGracePeriodSeconds: 30,
      dnsPolicy: "ClusterFirst",
      serviceAccountName: "default",
      serviceAccount: "default",
      securityContext: {},
      schedulerName: "default-scheduler",
      tolerations: [
        {
          key: "node.kubernetes.io/not-ready",
          operator: "Exists",
          effect: "NoExecute",
          tolerationSeconds: 300,
        },
        {
          key: "node.kubernetes.io/unreachable",
          operator: "Exists",
          effect: "NoExecute",
          tolerationSeconds: 300,
        },
      ],
      priority: 0,
      enableServiceLinks: true,
      preemptionPolicy: "PreemptLowerPriority",
    };
  }

  /**
   * A pod of `owner` (a ReplicaSet, StatefulSet, DaemonSet or Job), scheduled on `node` and
   * Running and Ready there, as kwok reports it. Spec and managedFields are shared per owner.
   */
  pod(
    owner: KubeObject,
    name: string,
    node: NodeRef,
    labels: Record<string, string>,
    templateSpec: Json,
    opts: { restarts?: number; phase?: string; extraSpec?: Json; generateName?: boolean } = {},
  ): KubeObject {
    // Pods of one owner are created within seconds of each other: a few distinct timestamps.
    const created = this.time(this.rng.int(8) === 0 ? 1 : 0);
    const started = this.time(this.rng.int(4) === 0 ? 1 : 0);
    const ip = this.podIP();
    const phase = opts.phase ?? "Running";
    const running = phase === "Running";
    const containers = templateSpec.containers as { name: string; image: string }[];
    const ownerRefs = this.sharedOwnerRefs(owner);
    return {
      apiVersion: "v1",
      kind: "Pod",
      metadata: this.meta(name, owner.metadata.namespace, {
        ...(opts.generateName === false ? {} : { generateName: name.slice(0, name.lastIndexOf("-") + 1) }),
        creationTimestamp: created,
        labels,
        ownerReferences: ownerRefs,
        managedFields: this.podManagedFields(owner, labels, containers[0]!.name, created),
      }),
      spec: { ...templateSpec, ...opts.extraSpec, nodeName: node.name },
      status: {
        phase,
        conditions: this.podConditions(phase, created, started),
        hostIP: node.ip,
        hostIPs: this.shared(`hostIPs|${node.ip}`, () => [{ ip: node.ip }]),
        podIP: ip,
        podIPs: [{ ip }],
        startTime: created,
        containerStatuses: containers.map((c) => ({
          name: c.name,
          state: running
            ? this.shared(`running|${started}`, () => ({ running: { startedAt: started } }))
            : {
                terminated: {
                  exitCode: 0,
                  reason: "Completed",
                  startedAt: created,
                  finishedAt: started,
                  containerID: `containerd://${this.rng.hex(64)}`,
                },
              },
          lastState: EMPTY,
          ready: running,
          restartCount: opts.restarts ?? 0,
          image: c.image,
          imageID: this.imageID(c.image),
          containerID: `containerd://${this.rng.hex(64)}`,
          started: running,
        })),
        qosClass: "Burstable",
      },
    };
  }

  /** One instance of a value many objects contain (stored objects are immutable, so sharing is safe). */
  private shared<T>(key: string, make: () => T): T {
    let v = this.sharedValues.get(key) as T | undefined;
    if (v === undefined) {
      if (this.sharedValues.size > 10_000) this.sharedValues.clear();
      v = make();
      this.sharedValues.set(key, v);
    }
    return v;
  }

  /** Pod conditions: the same few combinations over and over, so shared (objects are immutable). */
  private podConditions(phase: string, created: string, started: string): unknown[] {
    const key = `${phase}|${created}|${started}`;
    let conditions = this.conditions.get(key);
    if (!conditions) {
      const running = phase === "Running";
      const cond = (type: string, status: boolean, at: string) => ({
        type,
        status: status ? "True" : "False",
        lastProbeTime: null,
        lastTransitionTime: at,
        ...(status || type === "PodScheduled" || type === "Initialized"
          ? {}
          : { reason: phase === "Succeeded" ? "PodCompleted" : "ContainersNotReady" }),
      });
      conditions = [
        cond("PodReadyToStartContainers", running, started),
        cond("Initialized", true, created),
        cond("Ready", running, started),
        cond("ContainersReady", running, started),
        cond("PodScheduled", true, created),
      ];
      if (this.conditions.size > 1000) this.conditions.clear();
      this.conditions.set(key, conditions);
    }
    return conditions;
  }

  private sharedOwnerRefs(owner: KubeObject): OwnerReference[] {
    const cached = this.ownerRefs.get(owner.metadata.uid);
    if (cached) return cached;
    const refs = [ownerRef(owner)];
    if (this.ownerRefs.size > 1000) this.ownerRefs.clear();
    this.ownerRefs.set(owner.metadata.uid, refs);
    return refs;
  }

  /** What kube-controller-manager (create) and kwok (status) leave in managedFields. */
  private podManagedFields(owner: KubeObject, labels: Record<string, string>, container: string, at: string) {
    const cacheKey = owner.metadata.uid;
    const cached = this.podManaged.get(cacheKey);
    if (cached) return cached;
    const set = (keys: string[]) => Object.fromEntries([[".", {}], ...keys.map((k) => [`f:${k}`, {}])]);
    const fields = [
      {
        manager: "kube-controller-manager",
        operation: "Update",
        apiVersion: "v1",
        time: at,
        fieldsType: "FieldsV1",
        fieldsV1: {
          "f:metadata": {
            "f:generateName": {},
            "f:labels": set(Object.keys(labels)),
            "f:ownerReferences": { ".": {}, [`k:{"uid":"${owner.metadata.uid}"}`]: {} },
          },
          "f:spec": {
            "f:containers": {
              [`k:{"name":"${container}"}`]: set([
                "env",
                "envFrom",
                "image",
                "imagePullPolicy",
                "name",
                "ports",
                "readinessProbe",
                "resources",
                "terminationMessagePath",
                "terminationMessagePolicy",
              ]),
            },
            "f:dnsPolicy": {},
            "f:enableServiceLinks": {},
            "f:restartPolicy": {},
            "f:schedulerName": {},
            "f:securityContext": {},
            "f:serviceAccount": {},
            "f:serviceAccountName": {},
            "f:terminationGracePeriodSeconds": {},
          },
        },
      },
      {
        manager: "kwok",
        operation: "Update",
        apiVersion: "v1",
        time: at,
        fieldsType: "FieldsV1",
        fieldsV1: {
          "f:status": {
            "f:conditions": Object.fromEntries(
              ["ContainersReady", "Initialized", "PodReadyToStartContainers", "PodScheduled", "Ready"].map(
                (t) => [`k:{"type":"${t}"}`, set(["lastProbeTime", "lastTransitionTime", "status", "type"])],
              ),
            ),
            "f:containerStatuses": {},
            "f:hostIP": {},
            "f:hostIPs": {},
            "f:phase": {},
            "f:podIP": {},
            "f:podIPs": {},
            "f:startTime": {},
          },
        },
        subresource: "status",
      },
    ];
    if (this.podManaged.size > 1000) this.podManaged.clear();
    this.podManaged.set(cacheKey, fields);
    return fields;
  }

  /** `kubectl apply` leaves the applied manifest in an annotation (kgql's transform strips it). */
  lastApplied(kind: string, apiVersion: string, meta: ObjectMeta, body: Json): Record<string, string> {
    const manifest = {
      apiVersion,
      kind,
      metadata: { annotations: {}, labels: meta.labels, name: meta.name, namespace: meta.namespace },
      ...body,
    };
    return { "kubectl.kubernetes.io/last-applied-configuration": `${JSON.stringify(manifest)}\n` };
  }

  event(
    involved: KubeObject,
    reason: string,
    message: string,
    component: string,
    opts: { type?: string; fieldPath?: string; host?: string } = {},
  ): KubeObject {
    const at = this.time();
    const ns = involved.metadata.namespace ?? "default";
    return {
      apiVersion: "v1",
      kind: "Event",
      metadata: this.meta(`${involved.metadata.name}.${this.rng.hex(16)}`, ns, { creationTimestamp: at }),
      involvedObject: {
        kind: involved.kind,
        namespace: involved.metadata.namespace,
        name: involved.metadata.name,
        uid: involved.metadata.uid,
        apiVersion: involved.apiVersion,
        resourceVersion: involved.metadata.resourceVersion,
        ...(opts.fieldPath ? { fieldPath: opts.fieldPath } : {}),
      },
      reason,
      message,
      source: { component, ...(opts.host ? { host: opts.host } : {}) },
      firstTimestamp: at,
      lastTimestamp: at,
      count: 1,
      type: opts.type ?? "Normal",
      eventTime: null,
      reportingComponent: component,
      reportingInstance: opts.host ?? "",
    };
  }

  /** EndpointSlices of a Service for its ready pods, at most 100 endpoints each (the controller's default). */
  endpointSlices(svc: KubeObject, pods: KubeObject[], port: number): KubeObject[] {
    const out: KubeObject[] = [];
    for (let i = 0; i === 0 || i < pods.length; i += 100) {
      const chunk = pods.slice(i, i + 100);
      out.push({
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        metadata: this.meta(`${svc.metadata.name}-${this.rng.suffix()}`, svc.metadata.namespace, {
          generateName: `${svc.metadata.name}-`,
          labels: {
            "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
            "kubernetes.io/service-name": svc.metadata.name,
          },
          annotations: { "endpoints.kubernetes.io/last-change-trigger-time": this.time() },
          ownerReferences: [ownerRef(svc)],
        }),
        addressType: "IPv4",
        endpoints: chunk.map((p) => {
          const status = p.status as { podIP: string };
          return {
            addresses: [status.podIP],
            conditions: { ready: true, serving: true, terminating: false },
            nodeName: (p.spec as { nodeName: string }).nodeName,
            targetRef: {
              kind: "Pod",
              namespace: p.metadata.namespace,
              name: p.metadata.name,
              uid: p.metadata.uid,
            },
          };
        }),
        ports: [{ name: "http", port, protocol: "TCP" }],
      });
    }
    return out;
  }
}

/** A Deployment's ReplicaSet for the template hash `hash`, as the deployment controller makes it. */
export function replicaSetFor(
  b: Builder,
  dep: KubeObject,
  hash: string,
  replicas: number,
  revision: number,
): KubeObject {
  const spec = dep.spec as {
    replicas: number;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: Json };
  };
  const labels = { ...spec.template.metadata.labels, "pod-template-hash": hash };
  return {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: b.meta(`${dep.metadata.name}-${hash}`, dep.metadata.namespace, {
      labels,
      annotations: {
        "deployment.kubernetes.io/desired-replicas": String(spec.replicas),
        "deployment.kubernetes.io/max-replicas": String(spec.replicas + Math.ceil(spec.replicas / 4)),
        "deployment.kubernetes.io/revision": String(revision),
      },
      ownerReferences: [ownerRef(dep)],
    }),
    spec: {
      replicas,
      selector: { matchLabels: { ...spec.selector.matchLabels, "pod-template-hash": hash } },
      template: { metadata: { labels }, spec: spec.template.spec },
    },
    status: {
      replicas,
      fullyLabeledReplicas: replicas,
      readyReplicas: replicas,
      availableReplicas: replicas,
      observedGeneration: 1,
    },
  };
}
