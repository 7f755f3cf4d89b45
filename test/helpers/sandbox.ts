// Test helpers: a sandbox cluster and informers connected to it through its kubeconfig.
import { KubeConfig } from "@kubernetes/client-node";
import { KubeClient } from "../../src/informers/client.ts";
import {
  type ResourceInfo,
  SharedInformer,
  type SharedInformerOptions,
} from "../../src/informers/shared-informer.ts";
import type { KubeObject, OwnerReference } from "../../src/informers/types.ts";
import { kindByResource } from "../../src/kinds.ts";
import { SandboxCluster, type SandboxOptions } from "../../src/sandbox/index.ts";

export async function startSandbox(opts: SandboxOptions = {}): Promise<SandboxCluster> {
  const sim = new SandboxCluster(opts);
  await sim.start();
  return sim;
}

export async function clientFor(sim: SandboxCluster): Promise<KubeClient> {
  const kc = new KubeConfig();
  kc.loadFromString(sim.kubeconfig());
  return KubeClient.fromKubeConfig(kc);
}

/** A namespaced custom resource the simulator can serve: sim.registerResource(WIDGETS). */
export const WIDGETS = {
  group: "example.com",
  version: "v1",
  resource: "widgets",
  kind: "Widget",
  namespaced: true,
} as const;

/** Fast timings so that backoff and stall tests finish in milliseconds. */
export const fastReflector = {
  backoff: { initialMs: 5, capMs: 40, random: () => 0.5 },
  stallTimeoutMs: 2000,
};

export async function informerFor(
  sim: SandboxCluster,
  resource = "pods",
  opts: Partial<SharedInformerOptions> = {},
): Promise<SharedInformer> {
  const info: ResourceInfo = kindByResource(resource)!;
  return new SharedInformer({
    client: await clientFor(sim),
    resource: info,
    ...opts,
    reflector: { ...fastReflector, ...opts.reflector },
  });
}

export function pod(name: string, namespace = "default", labels: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace, labels, uid: "", resourceVersion: "" },
    spec: { nodeName: "node-0", containers: [{ name: "c", image: "nginx" }] },
    status: { phase: "Running" },
  };
}

/** A Widget (the WIDGETS custom resource) to create with sim.create("widgets.example.com", ...). */
export function widget(name: string, namespace: string, ownerReferences?: OwnerReference[]): KubeObject {
  return {
    apiVersion: "example.com/v1",
    kind: "Widget",
    metadata: {
      name,
      namespace,
      uid: "",
      resourceVersion: "",
      ...(ownerReferences ? { ownerReferences } : {}),
    },
  };
}

/** An ownerReference naming a created object (its uid is the server's). */
export function ownerRefTo(obj: KubeObject): OwnerReference {
  return { apiVersion: obj.apiVersion!, kind: obj.kind!, name: obj.metadata.name, uid: obj.metadata.uid! };
}

/** Polls until cond() is true, or fails saying what was awaited. */
export async function eventually(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The (key, resourceVersion) pairs of a list of objects, sorted, for equality checks. */
export function keyRVs(objects: Iterable<KubeObject>): string[] {
  return [...objects]
    .map((o) => `${o.metadata.namespace ?? ""}/${o.metadata.name}@${o.metadata.resourceVersion}`)
    .sort();
}

/** How a fake apiserver answers TokenReviews and SubjectAccessReviews (see withReviews). */
export interface Reviews {
  /** The user a bearer token stands for, or undefined for an unknown token. */
  user(token: string): { username: string; groups?: string[] } | undefined;
  /** Whether `username` may list `resource` in `namespace` ("" for every namespace). */
  allowed(username: string, resource: string, namespace: string): boolean;
}

/**
 * The client, with TokenReview and SubjectAccessReview answered by `reviews` (the simulator
 * serves neither); every other request goes to the simulator.
 */
export function withReviews(client: KubeClient, reviews: Reviews): KubeClient {
  const post = client.postJSON.bind(client);
  client.postJSON = (async (path: string, body: unknown) => {
    const spec = (body as { spec: Record<string, unknown> }).spec;
    if (path.endsWith("/tokenreviews")) {
      const user = reviews.user(spec.token as string);
      return {
        status: user
          ? { authenticated: true, user: { username: user.username, groups: user.groups ?? [] } }
          : { authenticated: false, error: "unknown token" },
      };
    }
    if (path.endsWith("/subjectaccessreviews")) {
      const attrs = spec.resourceAttributes as { resource: string; namespace?: string };
      return {
        status: { allowed: reviews.allowed(spec.user as string, attrs.resource, attrs.namespace ?? "") },
      };
    }
    return post(path, body);
  }) as KubeClient["postJSON"];
  return client;
}
