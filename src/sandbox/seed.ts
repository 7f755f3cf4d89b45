// The demo topology, shaped like what kube-controller-manager, the scheduler and kwok's fake
// kubelet leave in etcd: Nodes; per namespace Deployments -> ReplicaSets -> Pods (owner
// references, pod-template-hash, scheduled, Running and Ready), Services selecting them with
// EndpointSlices, an Ingress, ConfigMaps, a Secret, a ServiceAccount, a PVC bound to a PV used by
// a StatefulSet's pod, a DaemonSet, a CronJob with a Job, and Events about it all.
//
// Deterministic for a given seed (names, uids, timestamps, IPs). Built for scale: objects of one
// ReplicaSet share their immutable parts (pod spec, managedFields), so 50k pods seed in seconds.
import type { KubeObject } from "../informers/types.ts";
import type { SandboxCluster } from "./cluster.ts";
import { Builder, type NodeRef, ownerRef, Rng, replicaSetFor, templateHash } from "./objects.ts";

type Json = Record<string, unknown>;

export interface SeedOptions {
  /** "default", then team-1, team-2, ... (default 3). */
  namespaces?: number;
  /** node-0, node-1, ... (default 3). */
  nodes?: number;
  /** app-0, app-1, ... per namespace (default 3). */
  deploymentsPerNamespace?: number;
  /** Pods per Deployment (default 3). */
  replicas?: number;
  /** PRNG seed (default 42). */
  seed?: number;
}

/** The fixed clock of the seed: every timestamp is derived from it. */
const SEED_EPOCH = Date.UTC(2026, 0, 12, 8, 0, 0);

export function seedDemo(sim: SandboxCluster, opts: SeedOptions = {}): void {
  const namespaces = opts.namespaces ?? 3;
  const nodeCount = Math.max(1, opts.nodes ?? 3);
  const deployments = opts.deploymentsPerNamespace ?? 3;
  const replicas = opts.replicas ?? 3;
  const b = new Builder(new Rng(opts.seed ?? 42), SEED_EPOCH);
  const rng = b.rng;
  const podsPerNode = Math.ceil((namespaces * (deployments * replicas + 3)) / nodeCount);
  const maxPods = Math.max(110, Math.ceil((podsPerNode * 1.2) / 100) * 100);

  const nodes: NodeRef[] = [];
  for (let n = 0; n < nodeCount; n++) {
    const name = `node-${n}`;
    const ip = `172.18.${(n + 2) >>> 8}.${(n + 2) & 255}`;
    nodes.push({ name, ip });
    sim.create("nodes", b.node(name, ip, `10.244.${n & 255}.0/24`, maxPods));
  }

  for (let i = 0; i < namespaces; i++) {
    const ns = i === 0 ? "default" : `team-${i}`;
    b.time(60);
    seedNamespace(sim, b, ns);
    const serviceNames: string[] = [];
    for (let d = 0; d < deployments; d++) {
      const app = `app-${d}`;
      const labels = { app, tier: d % 2 ? "backend" : "frontend" };
      const image = `registry.example/${app}:1.${rng.int(5)}.${rng.int(10)}`;
      const created = deployApp(sim, b, nodes, ns, app, labels, image, replicas);
      serviceNames.push(created.service.metadata.name);
    }

    seedStatefulSet(sim, b, ns, nodes[0]!);
    // One log agent per namespace, pinned to one node so the pod count stays predictable.
    seedDaemonSet(sim, b, ns, nodes[i % nodes.length]!);
    seedCronJob(sim, b, ns, nodes[0]!);
    seedIngress(sim, b, ns, serviceNames);
  }
}

/** A namespace with what every namespace has (ServiceAccount, root CA ConfigMap) plus app config and a volume. */
function seedNamespace(sim: SandboxCluster, b: Builder, ns: string): void {
  const rng = b.rng;
  if (!sim.get("namespaces", undefined, ns)) {
    sim.create("namespaces", {
      metadata: b.meta(ns, undefined, { labels: { "kubernetes.io/metadata.name": ns } }),
      spec: { finalizers: ["kubernetes"] },
      status: { phase: "Active" },
    });
  }
  sim.create("serviceaccounts", { metadata: b.meta("default", ns) });
  sim.create("configmaps", {
    metadata: b.meta("kube-root-ca.crt", ns, {
      annotations: {
        "kubernetes.io/description":
          "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.",
      },
    }),
    data: { "ca.crt": `-----BEGIN CERTIFICATE-----\nMIIC${rng.hex(60)}\n-----END CERTIFICATE-----\n` },
  });
  const configMeta = b.meta("app-config", ns, { labels: { app: "shared" } });
  const configData = { LOG_LEVEL: "info", FEATURE_X: "on" };
  sim.create("configmaps", {
    metadata: {
      ...configMeta,
      annotations: b.lastApplied("ConfigMap", "v1", configMeta, { data: configData }),
    },
    data: configData,
  });
  sim.create("secrets", {
    metadata: b.meta("app-secret", ns),
    type: "Opaque",
    data: {
      password: Buffer.from(`pw-${ns}-${rng.hex(12)}`).toString("base64"),
      token: Buffer.from(`tok-${ns}-${rng.hex(20)}`).toString("base64"),
    },
  });

  // A volume claimed by the StatefulSet's pod, dynamically provisioned: PV "pvc-<claim uid>".
  const pvcMeta = b.meta("data", ns, {
    annotations: {
      "pv.kubernetes.io/bind-completed": "yes",
      "pv.kubernetes.io/bound-by-controller": "yes",
      "volume.beta.kubernetes.io/storage-provisioner": "rancher.io/local-path",
      "volume.kubernetes.io/storage-provisioner": "rancher.io/local-path",
    },
    finalizers: ["kubernetes.io/pvc-protection"],
  });
  const pvName = `pvc-${pvcMeta.uid}`;
  sim.create("persistentvolumeclaims", {
    metadata: pvcMeta,
    spec: {
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: "10Gi" } },
      storageClassName: "standard",
      volumeMode: "Filesystem",
      volumeName: pvName,
    },
    status: { phase: "Bound", accessModes: ["ReadWriteOnce"], capacity: { storage: "10Gi" } },
  });
  sim.create("persistentvolumes", {
    metadata: b.meta(pvName, undefined, {
      annotations: { "pv.kubernetes.io/provisioned-by": "rancher.io/local-path" },
      finalizers: ["kubernetes.io/pv-protection"],
    }),
    spec: {
      capacity: { storage: "10Gi" },
      accessModes: ["ReadWriteOnce"],
      claimRef: {
        kind: "PersistentVolumeClaim",
        namespace: ns,
        name: "data",
        uid: pvcMeta.uid,
        apiVersion: "v1",
      },
      persistentVolumeReclaimPolicy: "Delete",
      storageClassName: "standard",
      volumeMode: "Filesystem",
      hostPath: { path: `/var/local-path-provisioner/${pvName}_${ns}_data`, type: "DirectoryOrCreate" },
    },
    status: { phase: "Bound" },
  });
}

/** A one-replica StatefulSet "db" with its headless Service and its pod using the PVC "data". */
function seedStatefulSet(sim: SandboxCluster, b: Builder, ns: string, node: NodeRef): void {
  const stsLabels = { app: "db" };
  const dbSpec = b.podTemplateSpec("db", "postgres:17.2", 5432);
  const dbTemplateSpec = {
    ...dbSpec,
    containers: [
      {
        ...(dbSpec.containers as Json[])[0],
        envFrom: undefined,
        volumeMounts: [{ name: "data", mountPath: "/var/lib/postgresql/data" }],
      },
    ],
    volumes: [{ name: "data", persistentVolumeClaim: { claimName: "data" } }],
  };
  const sts = sim.create("statefulsets", {
    metadata: b.meta("db", ns, { labels: stsLabels }),
    spec: {
      replicas: 1,
      serviceName: "db",
      selector: { matchLabels: stsLabels },
      template: { metadata: { labels: stsLabels }, spec: dbTemplateSpec },
      podManagementPolicy: "OrderedReady",
      updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: 0 } },
      revisionHistoryLimit: 10,
      persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
    },
    status: {
      observedGeneration: 1,
      replicas: 1,
      readyReplicas: 1,
      currentReplicas: 1,
      updatedReplicas: 1,
      availableReplicas: 1,
      currentRevision: `db-${templateHash(`${ns}/db`)}`,
      updateRevision: `db-${templateHash(`${ns}/db`)}`,
      collisionCount: 0,
    },
  });
  sim.create("services", {
    metadata: b.meta("db", ns, { labels: stsLabels }),
    spec: {
      clusterIP: "None",
      clusterIPs: ["None"],
      ports: [{ name: "postgres", port: 5432, protocol: "TCP", targetPort: 5432 }],
      selector: stsLabels,
      type: "ClusterIP",
      sessionAffinity: "None",
      ipFamilies: ["IPv4"],
      ipFamilyPolicy: "SingleStack",
      internalTrafficPolicy: "Cluster",
    },
    status: { loadBalancer: {} },
  });
  const dbPod = sim.create(
    "pods",
    b.pod(
      sts,
      "db-0",
      node,
      {
        ...stsLabels,
        "apps.kubernetes.io/pod-index": "0",
        "controller-revision-hash": `db-${templateHash(`${ns}/db`)}`,
        "statefulset.kubernetes.io/pod-name": "db-0",
      },
      dbTemplateSpec,
      { generateName: false, extraSpec: { hostname: "db-0", subdomain: "db" } },
    ),
  );
  sim.create(
    "events",
    b.event(dbPod, "Scheduled", `Successfully assigned ${ns}/db-0 to ${node.name}`, "default-scheduler"),
  );
}

function seedDaemonSet(sim: SandboxCluster, b: Builder, ns: string, node: NodeRef): void {
  const rng = b.rng;
  const dsLabels = { app: "log-agent" };
  const agentSpec = {
    ...b.podTemplateSpec("agent", "fluent/fluent-bit:3.2", 2020),
    nodeSelector: { "kubernetes.io/hostname": node.name },
  };
  const ds = sim.create("daemonsets", {
    metadata: b.meta("log-agent", ns, {
      labels: dsLabels,
      annotations: { "deprecated.daemonset.template.generation": "1" },
    }),
    spec: {
      selector: { matchLabels: dsLabels },
      template: { metadata: { labels: dsLabels }, spec: agentSpec },
      updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } },
      revisionHistoryLimit: 10,
    },
    status: {
      currentNumberScheduled: 1,
      numberMisscheduled: 0,
      desiredNumberScheduled: 1,
      numberReady: 1,
      observedGeneration: 1,
      updatedNumberScheduled: 1,
      numberAvailable: 1,
    },
  });
  sim.create(
    "pods",
    b.pod(
      ds,
      `log-agent-${rng.suffix()}`,
      node,
      {
        ...dsLabels,
        "controller-revision-hash": templateHash(`${ns}/log-agent`),
        "pod-template-generation": "1",
      },
      agentSpec,
    ),
  );
}

/** A CronJob that ran once: its Job and the Job's Succeeded pod. */
function seedCronJob(sim: SandboxCluster, b: Builder, ns: string, node: NodeRef): void {
  const rng = b.rng;
  const cj = sim.create("cronjobs", {
    metadata: b.meta("nightly", ns),
    spec: {
      schedule: "0 3 * * *",
      concurrencyPolicy: "Forbid",
      suspend: false,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 1,
      jobTemplate: {
        spec: {
          backoffLimit: 2,
          template: {
            spec: { containers: [{ name: "report", image: "busybox:1.37" }], restartPolicy: "OnFailure" },
          },
        },
      },
    },
    status: { lastScheduleTime: b.time(), lastSuccessfulTime: b.time(30) },
  });
  const jobName = "nightly-29000000";
  const jobMeta = b.meta(jobName, ns, { ownerReferences: [ownerRef(cj)] });
  const jobLabels = {
    "batch.kubernetes.io/controller-uid": jobMeta.uid,
    "batch.kubernetes.io/job-name": jobName,
    "controller-uid": jobMeta.uid,
    "job-name": jobName,
  };
  const jobPodSpec = { ...b.podTemplateSpec("report", "busybox:1.37", 8080), restartPolicy: "OnFailure" };
  const job = sim.create("jobs", {
    metadata: { ...jobMeta, labels: jobLabels },
    spec: {
      parallelism: 1,
      completions: 1,
      backoffLimit: 2,
      completionMode: "NonIndexed",
      selector: { matchLabels: { "batch.kubernetes.io/controller-uid": jobMeta.uid } },
      template: { metadata: { labels: jobLabels }, spec: jobPodSpec },
    },
    status: {
      startTime: b.time(),
      completionTime: b.time(20),
      succeeded: 1,
      ready: 0,
      terminating: 0,
      uncountedTerminatedPods: {},
      conditions: [
        {
          type: "SuccessCriteriaMet",
          status: "True",
          lastProbeTime: b.time(),
          lastTransitionTime: b.time(),
        },
        { type: "Complete", status: "True", lastProbeTime: b.time(), lastTransitionTime: b.time() },
      ],
    },
  });
  sim.create(
    "pods",
    b.pod(job, `${jobName}-${rng.suffix()}`, node, jobLabels, jobPodSpec, { phase: "Succeeded" }),
  );
}

/** An Ingress routing to the first two Services. */
function seedIngress(sim: SandboxCluster, b: Builder, ns: string, serviceNames: string[]): void {
  const ingressMeta = b.meta("web", ns);
  const ingressSpec = {
    ingressClassName: "nginx",
    rules: [
      {
        host: `${ns}.example.com`,
        http: {
          paths: serviceNames.slice(0, 2).map((s, n) => ({
            path: n === 0 ? "/" : `/${s}`,
            pathType: "Prefix",
            backend: { service: { name: s, port: { number: 80 } } },
          })),
        },
      },
    ],
  };
  sim.create("ingresses", {
    metadata: {
      ...ingressMeta,
      annotations: b.lastApplied("Ingress", "networking.k8s.io/v1", ingressMeta, { spec: ingressSpec }),
    },
    spec: ingressSpec,
    status: { loadBalancer: { ingress: [{ ip: "172.18.255.200" }] } },
  });
}

/** A Deployment as kubectl apply + kube-controller-manager + kwok leave it: RS, pods, Service, slices, events. */
function deployApp(
  sim: SandboxCluster,
  b: Builder,
  nodes: NodeRef[],
  ns: string,
  app: string,
  labels: Record<string, string>,
  image: string,
  replicas: number,
) {
  const rng = b.rng;
  const templateSpec = b.podTemplateSpec("app", image, 8080);
  const depMeta = b.meta(app, ns, { labels });
  const depSpec = {
    replicas,
    selector: { matchLabels: { app } },
    template: { metadata: { labels }, spec: templateSpec },
    strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "25%", maxSurge: "25%" } },
    revisionHistoryLimit: 10,
    progressDeadlineSeconds: 600,
  };
  const hash = templateHash(`${ns}/${app}/${image}`);
  const rsName = `${app}-${hash}`;
  const t = b.time(1);
  const dep = sim.create("deployments", {
    metadata: {
      ...depMeta,
      annotations: {
        "deployment.kubernetes.io/revision": "1",
        ...b.lastApplied("Deployment", "apps/v1", depMeta, {
          spec: {
            replicas,
            selector: depSpec.selector,
            template: { metadata: { labels }, spec: { containers: [{ name: "app", image }] } },
          },
        }),
      },
    },
    spec: depSpec,
    status: {
      observedGeneration: 1,
      replicas,
      updatedReplicas: replicas,
      readyReplicas: replicas,
      availableReplicas: replicas,
      conditions: [
        {
          type: "Available",
          status: "True",
          lastUpdateTime: t,
          lastTransitionTime: t,
          reason: "MinimumReplicasAvailable",
          message: "Deployment has minimum availability.",
        },
        {
          type: "Progressing",
          status: "True",
          lastUpdateTime: t,
          lastTransitionTime: t,
          reason: "NewReplicaSetAvailable",
          message: `ReplicaSet "${rsName}" has successfully progressed.`,
        },
      ],
    },
  });
  const podLabels = { ...labels, "pod-template-hash": hash };
  const rs = sim.create("replicasets", replicaSetFor(b, dep, hash, replicas, 1));
  sim.create(
    "events",
    b.event(
      dep,
      "ScalingReplicaSet",
      `Scaled up replica set ${rsName} from 0 to ${replicas}`,
      "deployment-controller",
    ),
  );
  const pods: KubeObject[] = [];
  for (let r = 0; r < replicas; r++) {
    const restarts = rng.int(4) === 0 ? rng.int(3) : 0;
    const p = b.pod(rs, `${rsName}-${rng.suffix()}`, nodes[rng.int(nodes.length)]!, podLabels, templateSpec, {
      restarts,
    });
    if (sim.get("pods", ns, p.metadata.name)) continue; // a suffix collision: one pod fewer
    pods.push(sim.create("pods", p));
  }
  if (pods[0]) {
    const first = pods[0];
    const node = (first.spec as { nodeName: string }).nodeName;
    const fieldPath = "spec.containers{app}";
    sim.create(
      "events",
      b.event(rs, "SuccessfulCreate", `Created pod: ${first.metadata.name}`, "replicaset-controller"),
    );
    sim.create(
      "events",
      b.event(
        first,
        "Scheduled",
        `Successfully assigned ${ns}/${first.metadata.name} to ${node}`,
        "default-scheduler",
      ),
    );
    sim.create(
      "events",
      b.event(first, "Pulled", `Container image "${image}" already present on machine`, "kubelet", {
        fieldPath,
        host: node,
      }),
    );
    sim.create(
      "events",
      b.event(first, "Created", "Created container: app", "kubelet", { fieldPath, host: node }),
    );
    sim.create(
      "events",
      b.event(first, "Started", "Started container app", "kubelet", { fieldPath, host: node }),
    );
  }
  const svcMeta = b.meta(app, ns, { labels: { app } });
  const svcSpec = {
    clusterIP: b.serviceIP(),
    ports: [{ name: "http", port: 80, protocol: "TCP", targetPort: 8080 }],
    selector: { app },
    type: "ClusterIP",
    sessionAffinity: "None",
    ipFamilies: ["IPv4"],
    ipFamilyPolicy: "SingleStack",
    internalTrafficPolicy: "Cluster",
  };
  const service = sim.create("services", {
    metadata: {
      ...svcMeta,
      annotations: b.lastApplied("Service", "v1", svcMeta, {
        spec: { ports: [{ name: "http", port: 80, targetPort: 8080 }], selector: { app } },
      }),
    },
    spec: { ...svcSpec, clusterIPs: [svcSpec.clusterIP] },
    status: { loadBalancer: {} },
  });
  for (const slice of b.endpointSlices(service, pods, 8080)) sim.create("endpointslices", slice);
  return { deployment: dep, replicaSet: rs, pods, service };
}
