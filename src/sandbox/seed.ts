// A demo topology for the simulated cluster, shaped like what kube-controller-manager and kwok
// produce: Nodes; per namespace Deployments -> ReplicaSets -> Pods (owner references, pod-template
// hash, Running and Ready on a node), Services selecting them, EndpointSlices, an Ingress, a
// ConfigMap, a Secret, a PVC bound to a PV, a StatefulSet, a DaemonSet, a CronJob with a Job,
// ServiceAccounts and Events. Deterministic for a given seed; fast enough for 50k pods.
import type { KubeObject, OwnerReference } from "../informers/types.ts";
import type { SandboxCluster } from "./server.ts";

export interface SeedOptions {
  namespaces?: number;
  nodes?: number;
  deploymentsPerNamespace?: number;
  replicas?: number;
  seed?: number;
}

function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

const meta = (name: string, namespace?: string, extra: Partial<KubeObject["metadata"]> = {}) => ({
  name,
  namespace,
  uid: "",
  resourceVersion: "",
  ...extra,
});

function ownerRef(obj: KubeObject): OwnerReference {
  return {
    apiVersion: obj.apiVersion!,
    kind: obj.kind!,
    name: obj.metadata.name,
    uid: obj.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

function hashOf(text: string): string {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return (h >>> 0).toString(36).slice(0, 10).padEnd(10, "x");
}

const NOW = "2026-11-01T00:00:00Z";

export function podFor(
  rs: KubeObject,
  name: string,
  node: string,
  labels: Record<string, string>,
  image: string,
  restarts: number,
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: meta(name, rs.metadata.namespace, {
      labels,
      ownerReferences: [ownerRef(rs)],
      generateName: `${rs.metadata.name}-`,
    }),
    spec: {
      nodeName: node,
      containers: [
        {
          name: "app",
          image,
          ports: [{ containerPort: 8080, protocol: "TCP" }],
          env: [
            { name: "DB_PASSWORD", valueFrom: { secretKeyRef: { name: "app-secret", key: "password" } } },
          ],
          envFrom: [{ configMapRef: { name: "app-config" } }],
          resources: { requests: { cpu: "100m", memory: "128Mi" } },
        },
      ],
      serviceAccountName: "default",
      restartPolicy: "Always",
    },
    status: {
      phase: "Running",
      hostIP: "10.0.0.1",
      podIP: `10.128.${(name.length * 7) % 250}.${(restarts * 13 + name.charCodeAt(name.length - 1)) % 250}`,
      startTime: NOW,
      conditions: [
        { type: "Initialized", status: "True", lastTransitionTime: NOW },
        { type: "Ready", status: "True", lastTransitionTime: NOW },
        { type: "ContainersReady", status: "True", lastTransitionTime: NOW },
        { type: "PodScheduled", status: "True", lastTransitionTime: NOW },
      ],
      containerStatuses: [
        {
          name: "app",
          image,
          imageID: `docker-pullable://${image}`,
          ready: true,
          started: true,
          restartCount: restarts,
          state: { running: { startedAt: NOW } },
        },
      ],
      qosClass: "Burstable",
    },
  };
}

export function seedDemo(sim: SandboxCluster, opts: SeedOptions = {}): void {
  const namespaces = opts.namespaces ?? 3;
  const nodes = opts.nodes ?? 3;
  const deployments = opts.deploymentsPerNamespace ?? 3;
  const replicas = opts.replicas ?? 3;
  const rand = rng(opts.seed ?? 42);
  const nodeNames: string[] = [];
  for (let n = 0; n < nodes; n++) {
    const name = `node-${n}`;
    nodeNames.push(name);
    sim.create("nodes", {
      metadata: meta(name, undefined, { labels: { "kubernetes.io/hostname": name, type: "kwok" } }),
      spec: { podCIDR: `10.128.${n}.0/24` },
      status: {
        capacity: { cpu: "32", memory: "256Gi", pods: "110" },
        allocatable: { cpu: "31500m", memory: "250Gi", pods: "110" },
        conditions: [
          {
            type: "Ready",
            status: "True",
            reason: "KubeletReady",
            message: "kubelet is posting ready status",
          },
        ],
        nodeInfo: { kubeletVersion: "v1.36.3", osImage: "kwok", architecture: "amd64" },
      },
    });
  }
  const pv = (ns: string) => `pv-${ns}`;
  for (let i = 0; i < namespaces; i++) {
    const ns = i === 0 ? "default" : `team-${i}`;
    if (!sim.get("namespaces", undefined, ns)) {
      sim.create("namespaces", {
        metadata: meta(ns, undefined, { labels: { "kubernetes.io/metadata.name": ns } }),
        status: { phase: "Active" },
      });
    }
    sim.create("serviceaccounts", { metadata: meta("default", ns) });
    sim.create("configmaps", {
      metadata: meta("app-config", ns),
      data: { LOG_LEVEL: "info", FEATURE_X: "on" },
    });
    sim.create("secrets", {
      metadata: meta("app-secret", ns),
      type: "Opaque",
      data: {
        password: Buffer.from(`s3cr3t-${ns}`).toString("base64"),
        token: Buffer.from(`api-token-${ns}-7f3a`).toString("base64"),
      },
    });
    sim.create("persistentvolumes", {
      metadata: meta(pv(ns)),
      spec: {
        capacity: { storage: "10Gi" },
        accessModes: ["ReadWriteOnce"],
        claimRef: { namespace: ns, name: "data" },
      },
      status: { phase: "Bound" },
    });
    sim.create("persistentvolumeclaims", {
      metadata: meta("data", ns),
      spec: {
        accessModes: ["ReadWriteOnce"],
        resources: { requests: { storage: "10Gi" } },
        volumeName: pv(ns),
      },
      status: { phase: "Bound" },
    });
    const serviceNames: string[] = [];
    for (let d = 0; d < deployments; d++) {
      const app = `app-${d}`;
      const labels = { app, tier: d % 2 ? "backend" : "frontend" };
      const image = `registry.example/${app}:1.${rand(5)}`;
      const dep = sim.create("deployments", {
        metadata: meta(app, ns, { labels }),
        spec: {
          replicas,
          selector: { matchLabels: { app } },
          template: { metadata: { labels }, spec: { containers: [{ name: "app", image }] } },
          strategy: { type: "RollingUpdate" },
        },
        status: {
          observedGeneration: 1,
          replicas,
          readyReplicas: replicas,
          updatedReplicas: replicas,
          availableReplicas: replicas,
          conditions: [
            {
              type: "Available",
              status: "True",
              reason: "MinimumReplicasAvailable",
              message: "Deployment has minimum availability.",
            },
            {
              type: "Progressing",
              status: "True",
              reason: "NewReplicaSetAvailable",
              message: `ReplicaSet "${app}" has successfully progressed.`,
            },
          ],
        },
      });
      const hash = hashOf(`${ns}/${app}/${image}`);
      const podLabels = { ...labels, "pod-template-hash": hash };
      const rs = sim.create("replicasets", {
        metadata: meta(`${app}-${hash}`, ns, { labels: podLabels, ownerReferences: [ownerRef(dep)] }),
        spec: {
          replicas,
          selector: { matchLabels: { app, "pod-template-hash": hash } },
          template: { metadata: { labels: podLabels } },
        },
        status: { replicas, readyReplicas: replicas, availableReplicas: replicas, observedGeneration: 1 },
      });
      const podNames: string[] = [];
      for (let r = 0; r < replicas; r++) {
        const name = `${rs.metadata.name}-${(r + 1).toString(36).padStart(5, "0")}`;
        podNames.push(name);
        sim.create(
          "pods",
          podFor(rs, name, nodeNames[rand(nodes)]!, podLabels, image, rand(4) === 0 ? rand(3) : 0),
        );
      }
      const svc = sim.create("services", {
        metadata: meta(app, ns, { labels: { app } }),
        spec: {
          selector: { app },
          ports: [{ port: 80, targetPort: 8080, protocol: "TCP" }],
          type: "ClusterIP",
        },
      });
      serviceNames.push(svc.metadata.name);
      sim.create("endpointslices", {
        metadata: meta(`${app}-${hash.slice(0, 5)}`, ns, {
          labels: { "kubernetes.io/service-name": app },
          ownerReferences: [{ ...ownerRef(svc), blockOwnerDeletion: true }],
        }),
        addressType: "IPv4",
        endpoints: podNames
          .slice(0, 50)
          .map((p) => ({ addresses: ["10.128.0.1"], targetRef: { kind: "Pod", name: p, namespace: ns } })),
        ports: [{ port: 8080, protocol: "TCP" }],
      });
      if (d === 0 && podNames[0]) {
        sim.create("events", {
          metadata: meta(`${podNames[0]}.scheduled`, ns),
          involvedObject: {
            kind: "Pod",
            name: podNames[0],
            namespace: ns,
            uid: sim.get("pods", ns, podNames[0])!.metadata.uid,
          },
          reason: "Scheduled",
          message: `Successfully assigned ${ns}/${podNames[0]}`,
          type: "Normal",
          count: 1,
          lastTimestamp: NOW,
        });
      }
    }
    sim.create("ingresses", {
      metadata: meta("web", ns),
      spec: {
        rules: [
          {
            host: `${ns}.example.com`,
            http: {
              paths: serviceNames.slice(0, 2).map((s, n) => ({
                path: `/${n === 0 ? "" : s}`,
                pathType: "Prefix",
                backend: { service: { name: s, port: { number: 80 } } },
              })),
            },
          },
        ],
      },
    });
    const sts = sim.create("statefulsets", {
      metadata: meta("db", ns, { labels: { app: "db" } }),
      spec: {
        replicas: 1,
        serviceName: "db",
        selector: { matchLabels: { app: "db" } },
        template: { metadata: { labels: { app: "db" } } },
      },
      status: { replicas: 1, readyReplicas: 1 },
    });
    sim.create("pods", {
      ...podFor(sts, "db-0", nodeNames[0]!, { app: "db" }, "postgres:17", 0),
      spec: {
        nodeName: nodeNames[0],
        containers: [{ name: "db", image: "postgres:17" }],
        volumes: [{ name: "data", persistentVolumeClaim: { claimName: "data" } }],
      },
    });
    const ds = sim.create("daemonsets", {
      metadata: meta("log-agent", ns, { labels: { app: "log-agent" } }),
      spec: {
        selector: { matchLabels: { app: "log-agent" } },
        template: { metadata: { labels: { app: "log-agent" } } },
      },
      status: { desiredNumberScheduled: 1, numberReady: 1 },
    });
    sim.create(
      "pods",
      podFor(ds, `log-agent-${i}`, nodeNames[i % nodes]!, { app: "log-agent" }, "fluent-bit:3", 0),
    );
    const cj = sim.create("cronjobs", {
      metadata: meta("nightly", ns),
      spec: { schedule: "0 3 * * *", jobTemplate: { spec: {} } },
    });
    const job = sim.create("jobs", {
      metadata: meta("nightly-29000000", ns, {
        ownerReferences: [ownerRef(cj)],
        labels: { "job-name": "nightly-29000000" },
      }),
      spec: { completions: 1 },
      status: { succeeded: 1 },
    });
    sim.create("pods", {
      ...podFor(job, "nightly-29000000-x", nodeNames[0]!, { "job-name": "nightly-29000000" }, "busybox:1", 0),
      status: { phase: "Succeeded" },
    });
  }
}

/** Random changes: pod restarts and status flips, scale ups and downs, image rollouts. */
export function startChurn(
  sim: SandboxCluster,
  opts: { intervalMs?: number; seed?: number } = {},
): () => void {
  const rand = rng(opts.seed ?? 7);
  let n = 0;
  const timer = setInterval(() => {
    const pods = sim.list("pods").filter((p) => p.metadata.ownerReferences?.[0]?.kind === "ReplicaSet");
    if (pods.length === 0) return;
    const p = pods[rand(pods.length)]!;
    switch (rand(3)) {
      case 0: {
        const status = p.status as { containerStatuses?: { restartCount: number }[] };
        const cs = status.containerStatuses?.map((c) => ({ ...c, restartCount: c.restartCount + 1 }));
        sim.update("pods", { ...p, status: { ...status, containerStatuses: cs } });
        break;
      }
      case 1: {
        // Replace a pod, as a ReplicaSet would after a failure.
        const rs = sim
          .list("replicasets", p.metadata.namespace)
          .find((r) => r.metadata.uid === p.metadata.ownerReferences![0]!.uid);
        sim.delete("pods", p.metadata.namespace, p.metadata.name);
        if (rs) {
          const image = (p.spec as { containers: { image: string }[] }).containers[0]?.image ?? "app:1";
          sim.create(
            "pods",
            podFor(
              rs,
              `${rs.metadata.name}-c${(n++).toString(36)}`,
              (p.spec as { nodeName: string }).nodeName,
              p.metadata.labels ?? {},
              image,
              0,
            ),
          );
        }
        break;
      }
      default: {
        const ready = rand(2) === 0 ? "True" : "False";
        const status = p.status as { conditions?: { type: string; status: string }[] };
        sim.update("pods", {
          ...p,
          status: {
            ...status,
            conditions: status.conditions?.map((c) => (c.type === "Ready" ? { ...c, status: ready } : c)),
          },
        });
      }
    }
  }, opts.intervalMs ?? 1000);
  timer.unref();
  return () => clearInterval(timer);
}
