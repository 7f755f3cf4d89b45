// The baseline: the same GraphQL queries as kgql, answered by calling the Kubernetes API for
// every request, as a gateway without a cache does. Run as its own process:
//
//   node bench/direct/server.ts --kubeconfig <path> [--port 0]
//
// It prints "direct baseline at http://127.0.0.1:<port>/graphql" on stderr once listening.
//
// The schema is the subset of kgql's that the benchmark's queries use, with the same field
// names and meanings (Pod.ready is the Ready condition, restartCount the sum over containers,
// Deployment.replicaSets the ReplicaSets it controls, ReplicaSet.pods the pods it controls,
// Service.pods the pods its selector matches), so both servers get the same query text.
//
// Each field does the narrowest API call it can, as a straightforward resolver would: a GET for
// one object, a namespaced LIST with the owner's label selector for children (then the owner's
// uid is checked), `limit` for a first page. Sibling fields run concurrently (graphql-js
// resolves list items in parallel). The HTTP client is kgql's own KubeClient (keep-alive HTTPS,
// one JSON.parse per response), not client-node's typed models, so the baseline does not pay
// for a slow client: what it pays for is the round trips and the apiserver's work.
import http from "node:http";
import { parseArgs } from "node:util";
import {
  buildSchema,
  type DocumentNode,
  execute,
  type GraphQLFieldResolver,
  type GraphQLSchema,
  parse,
  validate,
} from "graphql";
import { KubeClient } from "../../src/informers/client.ts";

// biome-ignore lint/suspicious/noExplicitAny: apiserver JSON, read defensively
type Any = Record<string, any>;

const SDL = `
type Query {
  pod(namespace: String!, name: String!): Pod
  pods(namespace: String, labelSelector: String, first: Int): PodConnection!
  namespaces: [Namespace!]!
  deployment(namespace: String!, name: String!): Deployment
  deployments(namespace: String, first: Int): DeploymentConnection!
  service(namespace: String!, name: String!): Service
}
type Namespace { name: String! pods(labelSelector: String): [Pod!]! }
type Pod { name: String! namespace: String phase: String nodeName: String ready: Boolean! restartCount: Int! }
type PodConnection { totalCount: Int! nodes: [Pod!]! }
type Deployment {
  name: String! namespace: String replicas: Int readyReplicas: Int
  replicaSets: [ReplicaSet!]! pods: [Pod!]!
}
type DeploymentConnection { totalCount: Int! nodes: [Deployment!]! }
type ReplicaSet { name: String! namespace: String replicas: Int readyReplicas: Int pods: [Pod!]! }
type Service { name: String! namespace: String pods: [Pod!]! }
`;

/** kgql's default page size and cap. */
const DEFAULT_FIRST = 100;
const MAX_FIRST = 1000;

export function selectorString(sel: Any | undefined): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(sel?.matchLabels ?? {})) parts.push(`${k}=${v}`);
  for (const e of (sel?.matchExpressions ?? []) as Any[]) {
    const values = (e.values ?? []).join(",");
    if (e.operator === "In") parts.push(`${e.key} in (${values})`);
    else if (e.operator === "NotIn") parts.push(`${e.key} notin (${values})`);
    else if (e.operator === "Exists") parts.push(e.key);
    else if (e.operator === "DoesNotExist") parts.push(`!${e.key}`);
  }
  return parts.join(",");
}

const mapSelector = (m: Any | undefined) =>
  Object.entries(m ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(",");

const controlledBy = (o: Any, uid: string) =>
  ((o.metadata.ownerReferences ?? []) as Any[]).some((r) => r.uid === uid && r.controller === true);

const nsPath = (prefix: string, ns: string | undefined, resource: string) =>
  ns ? `${prefix}/namespaces/${encodeURIComponent(ns)}/${resource}` : `${prefix}/${resource}`;

export function createSchema(client: KubeClient): GraphQLSchema {
  const schema = buildSchema(SDL);
  const get = async (path: string): Promise<Any | null> => {
    try {
      return await client.getJSON<Any>(path);
    } catch (err) {
      if ((err as { status?: number }).status === 404) return null;
      throw err;
    }
  };
  const list = (path: string, query: Record<string, string | number | undefined> = {}) =>
    client.getJSON<{ items: Any[]; metadata: Any }>(path, query);
  const first = (n: unknown) => {
    const v = n === undefined || n === null ? DEFAULT_FIRST : Number(n);
    if (!Number.isInteger(v) || v < 0 || v > MAX_FIRST) throw new Error(`first must be 0..${MAX_FIRST}`);
    return v;
  };
  /** A first page: `limit` items, and the total from the apiserver's remainingItemCount. */
  const page = async (path: string, args: Any) => {
    const limit = first(args.first);
    const r = await list(path, { limit: Math.max(limit, 1), labelSelector: args.labelSelector ?? undefined });
    const items = r.items.slice(0, limit);
    return { totalCount: r.items.length + Number(r.metadata.remainingItemCount ?? 0), nodes: items };
  };
  const podsIn = async (ns: string, selector: string, ownerUid?: string) => {
    if (!selector) return [];
    const r = await list(nsPath("/api/v1", ns, "pods"), { labelSelector: selector });
    return ownerUid ? r.items.filter((p) => controlledBy(p, ownerUid)) : r.items;
  };
  const condition = (o: Any, type: string) =>
    ((o.status?.conditions ?? []) as Any[]).find((c) => c.type === type);

  const resolvers: Record<string, Record<string, GraphQLFieldResolver<Any, unknown, Any>>> = {
    Query: {
      pod: (_o, a) =>
        get(`/api/v1/namespaces/${encodeURIComponent(a.namespace)}/pods/${encodeURIComponent(a.name)}`),
      pods: (_o, a) => page(nsPath("/api/v1", a.namespace, "pods"), a),
      namespaces: async () => (await list("/api/v1/namespaces")).items,
      deployment: (_o, a) =>
        get(
          `/apis/apps/v1/namespaces/${encodeURIComponent(a.namespace)}/deployments/${encodeURIComponent(a.name)}`,
        ),
      deployments: (_o, a) => page(nsPath("/apis/apps/v1", a.namespace, "deployments"), a),
      service: (_o, a) =>
        get(`/api/v1/namespaces/${encodeURIComponent(a.namespace)}/services/${encodeURIComponent(a.name)}`),
    },
    Namespace: {
      pods: async (o, a) =>
        (
          await list(nsPath("/api/v1", o.metadata.name, "pods"), {
            labelSelector: a.labelSelector ?? undefined,
          })
        ).items,
    },
    Pod: {
      phase: (o) => o.status?.phase ?? null,
      nodeName: (o) => o.spec?.nodeName ?? null,
      ready: (o) => condition(o, "Ready")?.status === "True",
      restartCount: (o) =>
        ((o.status?.containerStatuses ?? []) as Any[]).reduce((n, c) => n + (c.restartCount ?? 0), 0),
    },
    Deployment: {
      replicas: (o) => o.spec?.replicas ?? null,
      readyReplicas: (o) => o.status?.readyReplicas ?? 0,
      replicaSets: async (o) => {
        const sel = selectorString(o.spec?.selector);
        if (!sel) return [];
        const r = await list(nsPath("/apis/apps/v1", o.metadata.namespace, "replicasets"), {
          labelSelector: sel,
        });
        return r.items.filter((rs) => controlledBy(rs, o.metadata.uid));
      },
      pods: async (o) => {
        const sel = selectorString(o.spec?.selector);
        if (!sel) return [];
        const rs = (
          await list(nsPath("/apis/apps/v1", o.metadata.namespace, "replicasets"), { labelSelector: sel })
        ).items.filter((x) => controlledBy(x, o.metadata.uid));
        const pods = await Promise.all(
          rs.map((x) => podsIn(o.metadata.namespace, selectorString(x.spec?.selector), x.metadata.uid)),
        );
        return pods.flat();
      },
    },
    ReplicaSet: {
      replicas: (o) => o.spec?.replicas ?? null,
      readyReplicas: (o) => o.status?.readyReplicas ?? 0,
      pods: (o) => podsIn(o.metadata.namespace, selectorString(o.spec?.selector), o.metadata.uid),
    },
    Service: {
      pods: (o) => podsIn(o.metadata.namespace, mapSelector(o.spec?.selector)),
    },
  };
  // Every object type reads name and namespace from metadata.
  for (const t of ["Namespace", "Pod", "Deployment", "ReplicaSet", "Service"]) {
    resolvers[t] = {
      name: (o) => o.metadata.name,
      namespace: (o) => o.metadata.namespace ?? null,
      ...resolvers[t],
    };
  }
  for (const [typeName, fields] of Object.entries(resolvers)) {
    const type = schema.getType(typeName) as { getFields(): Record<string, { resolve?: unknown }> };
    for (const [field, fn] of Object.entries(fields)) {
      const f = type.getFields()[field];
      if (f) f.resolve = fn;
    }
  }
  return schema;
}

/** Serves the schema over HTTP POST /graphql (JSON), caching parsed and validated documents. */
export function createServer(schema: GraphQLSchema, client: KubeClient): http.Server {
  const documents = new Map<string, DocumentNode | { errors: unknown[] }>();
  const documentFor = (query: string) => {
    let doc = documents.get(query);
    if (!doc) {
      try {
        const parsed = parse(query);
        const errors = validate(schema, parsed);
        doc = errors.length ? { errors: errors.map((e) => e.toJSON()) } : parsed;
      } catch (err) {
        doc = { errors: [{ message: (err as Error).message }] };
      }
      if (documents.size < 1000) documents.set(query, doc);
    }
    return doc;
  };
  const send = (res: http.ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  };
  return http.createServer((req, res) => {
    if (req.method === "GET" && req.url === "/healthz") return send(res, 200, { ok: true });
    if (req.method === "GET" && req.url === "/stats")
      return send(res, 200, { requests: client.requestCounts });
    if (req.method !== "POST" || req.url !== "/graphql")
      return send(res, 404, { errors: [{ message: "not found" }] });
    const chunks: Buffer[] = [];
    req.on("data", (d: Buffer) => chunks.push(d));
    req.on("end", async () => {
      let body: { query?: string; variables?: Record<string, unknown> };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        return send(res, 400, { errors: [{ message: "bad JSON" }] });
      }
      const doc = documentFor(String(body.query ?? ""));
      if ("errors" in doc) return send(res, 200, { errors: doc.errors });
      try {
        const result = await execute({ schema, document: doc, variableValues: body.variables ?? null });
        send(res, 200, result);
      } catch (err) {
        send(res, 500, { errors: [{ message: (err as Error).message }] });
      }
    });
  });
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { kubeconfig: { type: "string" }, port: { type: "string", default: "0" } },
  });
  if (!values.kubeconfig) {
    console.error("usage: node bench/direct/server.ts --kubeconfig <path> [--port 0]");
    process.exit(2);
  }
  const client = await KubeClient.fromFile(values.kubeconfig);
  const server = createServer(createSchema(client), client);
  server.keepAliveTimeout = 60_000;
  server.listen(Number(values.port), "127.0.0.1", () => {
    const { port } = server.address() as { port: number };
    process.stderr.write(`direct baseline at http://127.0.0.1:${port}/graphql\n`);
  });
  const stop = () => {
    server.closeAllConnections();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
