// The HTTP face of the simulated apiserver: listening (and refusing, for fault tests), the
// request log, bearer-token authentication, injected failures, routing of the REST paths, and
// the verbs: get, list and watch, plus create (POST), update (PUT), merge patch and server-side
// apply (PATCH, apply approximated: see "patch") and delete (DELETE) of JSON objects, each with
// dryRun=All (answered, nothing stored).
import http from "node:http";
import type net from "node:net";
import type { KubeObject } from "../informers/types.ts";
import { discoveryDocument, VERSION_INFO } from "./discovery.ts";
import { badRequest, injected, notFound, SandboxError, type StatusBody, statusBody } from "./errors.ts";
import type { FailRules, Verb } from "./faults.ts";
import { type Lister, writeList } from "./list.ts";
import { parseListOptions, validateListOptions } from "./options.ts";
import type { ResourceTable, SandboxResource } from "./resources.ts";
import { selectorPredicate } from "./selectors.ts";
import type { ObjectStore } from "./store.ts";
import type { WatchHub } from "./watch.ts";

export interface RequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  time: number;
}

export interface ApiServerDeps {
  table: ResourceTable;
  store: ObjectStore;
  lister: Lister;
  watches: WatchHub;
  failRules: FailRules;
  requests: RequestRecord[];
  requestLogLimit: number;
  token: string | undefined;
  supportsWatchList: boolean;
}

interface Route {
  res: SandboxResource;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
  /** The deprecated /watch/ path prefix. */
  watchPath: boolean;
}

/** Readable without credentials, as with the apiserver's default system:public-info-viewer role. */
const PUBLIC_PATHS = new Set(["/healthz", "/livez", "/readyz", "/version"]);
const MAX_BODY_BYTES = 3 * 1024 * 1024;

export class ApiServer {
  private readonly deps: ApiServerDeps;
  private server: http.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(deps: ApiServerDeps) {
    this.deps = deps;
  }

  get listening(): boolean {
    return this.server?.listening ?? false;
  }

  async listen(host: string, port: number): Promise<void> {
    const server = http.createServer((req, res) => this.handle(req, res));
    // Clients keep connections alive between requests, as with a real apiserver.
    server.keepAliveTimeout = 60_000;
    server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
  }

  /** Stops listening and cuts every connection: clients see resets, then ECONNREFUSED. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://sandbox");
    const query = Object.fromEntries(url.searchParams);
    const path = url.pathname;
    const method = req.method ?? "GET";
    const log = this.deps.requests;
    log.push({ method, path, query, time: Date.now() });
    if (log.length > this.deps.requestLogLimit + 1000) log.splice(0, log.length - this.deps.requestLogLimit);
    res.on("error", () => {}); // a client that went away is not the server's problem
    this.serve(req, res, method, path, query).catch((err) => {
      const status =
        err instanceof SandboxError
          ? err.status
          : statusBody(500, "InternalError", `Internal error occurred: ${(err as Error)?.message ?? err}`);
      if (!res.headersSent) sendStatus(res, status);
      else res.destroy();
    });
  }

  private async serve(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    method: string,
    path: string,
    query: Record<string, string>,
  ): Promise<void> {
    const { token } = this.deps;
    const auth = req.headers.authorization;
    if (token && auth !== `Bearer ${token}` && !(PUBLIC_PATHS.has(path) && auth === undefined)) {
      return sendStatus(res, statusBody(401, "Unauthorized", "Unauthorized"));
    }
    if (path === "/healthz" || path === "/livez" || path === "/readyz") {
      res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
      return void res.end("ok");
    }
    if (path === "/version") return sendJSON(res, 200, VERSION_INFO);
    if (method === "GET") {
      const doc = discoveryDocument(this.deps.table, path, `${req.socket.localAddress}:${this.port}`);
      if (doc) return sendJSON(res, 200, doc);
    }
    if (!path.startsWith("/api/") && !path.startsWith("/apis/")) {
      res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" });
      return void res.end("404 page not found\n");
    }
    const route = this.route(path);
    if (!route) {
      return sendStatus(
        res,
        statusBody(404, "NotFound", "the server could not find the requested resource", {}),
      );
    }
    const opts = parseListOptions(query);
    const verb = verbOf(method, route, opts.watch);
    if (!verb) {
      return sendStatus(
        res,
        statusBody(
          405,
          "MethodNotAllowed",
          `the server does not allow this method on the requested resource`,
          {},
        ),
      );
    }
    const fail = this.deps.failRules.take(verb, route.res.resource, route.res.group, query);
    if (fail) {
      const body = { ...injected(fail.status, fail.retryAfterSeconds), ...fail.body } as StatusBody;
      if (fail.retryAfterSeconds !== undefined) res.setHeader("Retry-After", String(fail.retryAfterSeconds));
      return sendStatus(res, body);
    }
    const { res: resource, namespace, name } = route;
    const { store } = this.deps;
    // dryRun=All: validated and answered as the write would be, nothing stored (kgql's dryRun).
    const dryRun = query.dryRun === "All";
    switch (verb) {
      case "get": {
        const obj = store.get(resource, namespace, name!);
        return obj ? sendJSON(res, 200, obj) : sendStatus(res, notFound(resource, name!));
      }
      case "list":
      case "watch": {
        validateListOptions(opts, this.deps.supportsWatchList);
        // The legacy single-object watch (/namespaces/ns/pods/name?watch=1) selects by name.
        const fieldSelector = name
          ? [opts.fieldSelector, `metadata.name=${name}`].filter(Boolean).join(",")
          : opts.fieldSelector;
        const predicate = selectorPredicate(resource, opts.labelSelector, fieldSelector);
        if (verb === "watch") {
          return this.deps.watches.open(res, {
            res: resource,
            namespace,
            predicate,
            resourceVersion: opts.resourceVersion,
            sendInitialEvents: opts.sendInitialEvents,
            allowWatchBookmarks: opts.allowWatchBookmarks,
            timeoutSeconds: opts.timeoutSeconds,
          });
        }
        const lister = this.deps.lister;
        const page = lister.read(resource, namespace, predicate, lister.plan(opts));
        return writeList(res, resource, page);
      }
      case "create": {
        const obj = await readObject(req);
        if (resource.namespaced) checkNamespace(obj, namespace);
        if (obj.metadata.resourceVersion) {
          throw new SandboxError(
            statusBody(500, "InternalError", "resourceVersion should not be set on objects to be created"),
          );
        }
        return sendJSON(res, 201, store.create(resource, obj, { trustMetadata: false, dryRun }));
      }
      case "update": {
        const obj = await readObject(req);
        if (obj.metadata.name !== name) {
          throw new SandboxError(
            badRequest(
              `the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`,
            ),
          );
        }
        if (resource.namespaced) checkNamespace(obj, namespace);
        const current = store.get(resource, namespace, name!);
        if (!current) throw new SandboxError(notFound(resource, name!));
        // The status subresource changes status only; the main resource keeps the status.
        const next =
          route.subresource === "status"
            ? {
                ...current,
                status: obj.status,
                metadata: { ...current.metadata, resourceVersion: obj.metadata.resourceVersion },
              }
            : { ...obj, status: current.status ?? obj.status };
        return sendJSON(res, 200, store.update(resource, next, { dryRun }));
      }
      case "patch": {
        const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim();
        // Server-side apply, approximated for the demo: it creates the object if it is missing
        // and otherwise merges the manifest in like a merge patch (no field ownership, so no
        // apply conflicts). The manifest must be JSON, which kgql sends (JSON is YAML).
        const apply = type === "application/apply-patch+yaml";
        if (
          !apply &&
          type !== "application/merge-patch+json" &&
          type !== "application/strategic-merge-patch+json"
        ) {
          throw new SandboxError(
            statusBody(
              415,
              "UnsupportedMediaType",
              `the sandbox supports JSON merge patches and server-side apply, not "${type}"`,
            ),
          );
        }
        const patch = (await readJSON(req)) as Record<string, unknown>;
        const current = store.get(resource, namespace, name!);
        if (!current && apply) {
          const { resourceVersion: _, ...given } = (patch.metadata ?? {}) as Record<string, unknown>;
          const obj = { ...patch, metadata: { ...given, name: name!, namespace } } as KubeObject;
          return sendJSON(res, 201, store.create(resource, obj, { trustMetadata: false, dryRun }));
        }
        if (!current) throw new SandboxError(notFound(resource, name!));
        const patchRV = (patch.metadata as { resourceVersion?: string } | undefined)?.resourceVersion ?? "";
        const merged = mergePatch(current, patch) as KubeObject;
        const next = {
          ...merged,
          metadata: { ...merged.metadata, name: name!, namespace, resourceVersion: patchRV },
        };
        return sendJSON(res, 200, store.update(resource, next, { dryRun }));
      }
      case "delete": {
        const obj = dryRun ? store.get(resource, namespace, name!) : store.delete(resource, namespace, name!);
        return obj ? sendJSON(res, 200, obj) : sendStatus(res, notFound(resource, name!));
      }
    }
  }

  /** /api/v1[/watch][/namespaces/<ns>]/<resource>[/<name>[/<subresource>]], and /apis/<g>/<v>/... */
  private route(path: string): Route | undefined {
    let segs: string[];
    try {
      segs = path.split("/").slice(1).map(decodeURIComponent);
    } catch {
      return undefined;
    }
    let group: string;
    let version: string | undefined;
    let rest: string[];
    if (segs[0] === "api") [group, version, rest] = ["", segs[1], segs.slice(2)];
    else [group, version, rest] = [segs[1] ?? "", segs[2], segs.slice(3)];
    if (!version) return undefined;
    const watchPath = rest[0] === "watch";
    if (watchPath) rest = rest.slice(1);
    const find = (resource: string | undefined) =>
      resource ? this.deps.table.find(group, version, resource) : undefined;
    let namespace: string | undefined;
    // namespaces/<ns>/<resource>: a namespaced resource, unless <resource> is not one (then it is
    // the subresource of a Namespace, as in namespaces/<ns>/status).
    if (rest[0] === "namespaces" && rest.length >= 3 && find(rest[2])?.namespaced) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const res = find(rest[0]);
    if (!res || rest.length > 3) return undefined;
    const [, name, subresource] = rest;
    if (subresource !== undefined && subresource !== "status") return undefined;
    if (name !== undefined && res.namespaced && namespace === undefined) return undefined;
    if (name === "") return undefined;
    return { res, namespace, name, subresource, watchPath };
  }
}

function verbOf(method: string, route: Route, watch: boolean): Verb | undefined {
  const named = route.name !== undefined;
  switch (method) {
    case "GET":
      if (watch || route.watchPath) return "watch";
      return named ? "get" : "list";
    case "POST":
      // Namespaced objects are created in a namespace's collection only.
      return named || (route.res.namespaced && route.namespace === undefined) ? undefined : "create";
    case "PUT":
      return named ? "update" : undefined;
    case "PATCH":
      return named ? "patch" : undefined;
    case "DELETE":
      return named ? "delete" : undefined;
    default:
      return undefined;
  }
}

function checkNamespace(obj: KubeObject, namespace: string | undefined): void {
  const meta = obj.metadata as { namespace?: string };
  if (meta.namespace && meta.namespace !== namespace) {
    throw new SandboxError(
      badRequest("the namespace of the provided object does not match the namespace sent on the request"),
    );
  }
  meta.namespace = namespace;
}

async function readJSON(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) {
      throw new SandboxError(statusBody(413, "RequestEntityTooLarge", "the request body is too large"));
    }
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch (err) {
    throw new SandboxError(
      badRequest(`the body of the request was in an unknown format: ${(err as Error).message}`),
    );
  }
}

async function readObject(req: http.IncomingMessage): Promise<KubeObject> {
  const obj = await readJSON(req);
  if (!obj || typeof obj !== "object" || Array.isArray(obj))
    throw new SandboxError(badRequest("expected a JSON object"));
  const o = obj as KubeObject;
  if (!o.metadata || typeof o.metadata !== "object") o.metadata = {} as KubeObject["metadata"];
  return o;
}

/** RFC 7386 JSON merge patch: objects merge, null deletes, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    target !== null && typeof target === "object" && !Array.isArray(target) ? { ...(target as object) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function sendJSON(res: http.ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { "Content-Type": "application/json", "Cache-Control": "no-cache, private" });
  res.end(JSON.stringify(body));
}

function sendStatus(res: http.ServerResponse, status: StatusBody): void {
  sendJSON(res, status.code, status);
}
