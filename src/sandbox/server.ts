// A simulated kube-apiserver: the list/watch wire protocol over HTTP for the resources in the
// table, with discovery, paging with consistent snapshots, watch history and bookmarks,
// watch-list, and faults on demand. kgql's informers talk to it exactly as to a real cluster.
import http from "node:http";
import type net from "node:net";
import { parseLabelSelector } from "../informers/labels.ts";
import type { GroupVersionResource, KubeObject } from "../informers/types.ts";
import { INITIAL_EVENTS_END_ANNOTATION } from "../informers/types.ts";
import { type FailRule, FailRules, REASONS, status } from "./faults.ts";
import { ResourceTable, type SandboxResource } from "./resources.ts";
import { type Change, ClusterState, key } from "./state.ts";

export interface SandboxOptions {
  host?: string;
  port?: number;
  bookmarkIntervalMs?: number;
  historyLimit?: number;
  supportsWatchList?: boolean;
  /** When set, every request needs "Authorization: Bearer <token>". */
  token?: string;
}

export interface RequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  time: number;
}

interface Watcher {
  res: http.ServerResponse;
  resource: string;
  namespace: string | undefined;
  filter: (obj: KubeObject) => boolean;
  /** Stalled: writes nothing ever again (a half-open connection). */
  dead: boolean;
  timers: NodeJS.Timeout[];
}

interface ListSnapshot {
  items: KubeObject[];
  rv: number;
  id?: number;
}

const MAX_SNAPSHOTS = 16;
const MAX_REQUEST_LOG = 10_000;

export class SandboxCluster {
  readonly resources = new ResourceTable();
  readonly state: ClusterState;
  readonly requests: RequestRecord[] = [];
  readonly faults;
  private readonly opts: Required<Omit<SandboxOptions, "token">> & { token?: string };
  private server: http.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private readonly watchers = new Set<Watcher>();
  /** Paged list snapshots by id: each list request gets its own (resource, filter and RV). */
  private readonly snapshots = new Map<number, ListSnapshot>();
  private nextSnapshotId = 1;
  private readonly failRules = new FailRules();
  private stalled = false;
  private boundPort = 0;

  constructor(opts: SandboxOptions = {}) {
    this.opts = {
      host: "127.0.0.1",
      port: 0,
      bookmarkIntervalMs: 60_000,
      historyLimit: 10_000,
      supportsWatchList: true,
      ...opts,
    };
    this.state = new ClusterState(this.opts.historyLimit);
    this.state.onChange((c) => this.broadcast(c));
    this.faults = {
      /** Destroys every open watch socket abruptly. */
      dropWatches: () => {
        for (const w of [...this.watchers]) this.endWatch(w, true);
      },
      /** Stops all writes to open and new watches (half-open connections), or lets new ones work again. */
      stallWatches: (on: boolean) => {
        this.stalled = on;
        if (on) for (const w of this.watchers) w.dead = true;
      },
      failNext: (rule: FailRule) => this.failRules.add(rule),
      /** Closes the listener and every socket (ECONNREFUSED), or listens again on the same port. */
      refuseConnections: async (on: boolean) => {
        if (on) {
          await new Promise<void>((r) => this.server?.close(() => r()));
          for (const s of this.sockets) s.destroy();
        } else await this.listen(this.boundPort);
      },
      expireContinueTokens: () => this.snapshots.clear(),
      /** An ERROR 410 into every open watch, which then closes; history is compacted too. */
      sendWatchError410: () => {
        const line = `${JSON.stringify({ type: "ERROR", object: status(410, "Expired", "too old resource version: 1 (2)") })}\n`;
        this.state.compact();
        for (const w of [...this.watchers]) {
          if (!w.dead) w.res.write(line);
          this.endWatch(w, w.dead);
        }
      },
    };
  }

  get url(): string {
    return `http://${this.opts.host}:${this.boundPort}`;
  }

  async start(): Promise<void> {
    await this.listen(this.opts.port);
  }

  async stop(): Promise<void> {
    for (const w of [...this.watchers]) this.endWatch(w, true);
    await new Promise<void>((r) => (this.server?.listening ? this.server.close(() => r()) : r()));
    for (const s of this.sockets) s.destroy();
  }

  kubeconfig(): string {
    const user = this.opts.token ? `\n    token: ${this.opts.token}` : "\n    {}";
    return `apiVersion: v1
kind: Config
clusters:
- name: sandbox
  cluster:
    server: ${this.url}
    # Plain HTTP on loopback: client-node only accepts http:// with this flag set.
    insecure-skip-tls-verify: true
users:
- name: sandbox
  user:${this.opts.token ? user : " {}"}
contexts:
- name: sandbox
  context:
    cluster: sandbox
    user: sandbox
current-context: sandbox
`;
  }

  async writeKubeconfig(path: string): Promise<void> {
    const { writeFile } = await import("node:fs/promises");
    await writeFile(path, this.kubeconfig(), { mode: 0o600 });
  }

  // --- in-process API --------------------------------------------------------------------
  registerResource(def: SandboxResource | Omit<SandboxResource, "listKind">): SandboxResource {
    return this.resources.register(def);
  }
  create(resource: string | GroupVersionResource, obj: KubeObject): KubeObject {
    return this.state.create(this.resources.resolve(resource), obj);
  }
  update(resource: string | GroupVersionResource, obj: KubeObject): KubeObject {
    return this.state.update(this.resources.resolve(resource), obj);
  }
  delete(
    resource: string | GroupVersionResource,
    namespace: string | undefined,
    name: string,
  ): KubeObject | undefined {
    return this.state.delete(this.resources.resolve(resource), namespace, name);
  }
  get(
    resource: string | GroupVersionResource,
    namespace: string | undefined,
    name: string,
  ): KubeObject | undefined {
    return this.state.get(this.resources.resolve(resource), namespace, name);
  }
  list(resource: string | GroupVersionResource, namespace?: string): KubeObject[] {
    const res = this.resources.resolve(resource);
    const all = [...this.state.objectsOf(res.resource).values()];
    return namespace ? all.filter((o) => o.metadata.namespace === namespace) : all;
  }
  currentResourceVersion(): string {
    return String(this.state.resourceVersion);
  }
  compact(): void {
    this.state.compact();
  }

  // --- HTTP ------------------------------------------------------------------------------
  private async listen(port: number): Promise<void> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
    this.server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once("error", reject);
      this.server!.listen(port, this.opts.host, resolve);
    });
    this.boundPort = (this.server.address() as net.AddressInfo).port;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://sandbox");
    const query = Object.fromEntries(url.searchParams);
    this.requests.push({ method: req.method ?? "GET", path: url.pathname, query, time: Date.now() });
    if (this.requests.length > MAX_REQUEST_LOG)
      this.requests.splice(0, this.requests.length - MAX_REQUEST_LOG);
    try {
      if (this.opts.token && req.headers.authorization !== `Bearer ${this.opts.token}`) {
        return sendStatus(res, 401, "Unauthorized");
      }
      if (req.method !== "GET") return sendStatus(res, 405, "the sandbox serves only GET (list, watch, get)");
      const path = url.pathname;
      if (path === "/healthz" || path === "/readyz" || path === "/livez")
        return send(res, 200, "ok", "text/plain");
      if (path === "/version")
        return sendJSON(res, 200, { major: "1", minor: "36", gitVersion: "v1.36.3-sandbox" });
      if (this.discovery(path, res)) return;
      const route = this.route(path);
      if (!route) return sendStatus(res, 404, `the server could not find the requested resource (${path})`);
      const watch = query.watch === "1" || query.watch === "true";
      const verb = watch ? "watch" : route.name ? "get" : "list";
      const fail = this.failRules.take(verb, route.res.resource, query);
      if (fail) {
        const body = {
          ...status(fail.status, REASONS[fail.status] ?? "Failure", `injected ${fail.status}`),
          ...fail.body,
        };
        if (fail.retryAfterSeconds !== undefined)
          res.setHeader("Retry-After", String(fail.retryAfterSeconds));
        return sendJSON(res, fail.status, body);
      }
      if (route.name) {
        const obj = this.state.get(route.res, route.namespace, route.name);
        return obj
          ? sendJSON(res, 200, obj)
          : sendStatus(res, 404, `${route.res.resource} "${route.name}" not found`);
      }
      const selector = query.labelSelector ? parseLabelSelector(query.labelSelector) : undefined;
      const fieldName = /^metadata\.name=(.+)$/.exec(query.fieldSelector ?? "")?.[1];
      const filter = (o: KubeObject) =>
        (!route.namespace || o.metadata.namespace === route.namespace) &&
        (!selector || selector.matches(o.metadata.labels)) &&
        (!fieldName || o.metadata.name === fieldName);
      if (watch) return this.watch(route.res, route.namespace, filter, query, res);
      return this.listResponse(route.res, filter, query, res);
    } catch (err) {
      sendStatus(res, 400, err instanceof Error ? err.message : String(err));
    }
  }

  private route(path: string) {
    const m =
      /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?$/.exec(path);
    if (!m) return undefined;
    const [, coreVersion, group, version, namespace, resource, name] = m;
    const res = this.resources.find(group ?? "", coreVersion ?? version!, resource!);
    if (!res) return undefined;
    return { res, namespace, name };
  }

  private discovery(path: string, res: http.ServerResponse): boolean {
    const list = (group: string, version: string) => ({
      kind: "APIResourceList",
      apiVersion: "v1",
      groupVersion: group ? `${group}/${version}` : version,
      resources: this.resources
        .list()
        .filter((r) => r.group === group && r.version === version)
        .map((r) => ({
          name: r.resource,
          singularName: r.kind.toLowerCase(),
          namespaced: r.namespaced,
          kind: r.kind,
          verbs: ["get", "list", "watch"],
        })),
    });
    if (path === "/api") {
      sendJSON(res, 200, { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [] });
    } else if (path === "/api/v1") {
      sendJSON(res, 200, list("", "v1"));
    } else if (path === "/apis") {
      const groups = [...this.resources.groups()].map(([name, versions]) => ({
        name,
        versions: versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
        preferredVersion: { groupVersion: `${name}/${versions[0]}`, version: versions[0] },
      }));
      sendJSON(res, 200, { kind: "APIGroupList", apiVersion: "v1", groups });
    } else {
      const m = /^\/apis\/([^/]+)\/([^/]+)$/.exec(path);
      if (!m || !this.resources.groups().get(m[1]!)?.includes(m[2]!)) return false;
      sendJSON(res, 200, list(m[1]!, m[2]!));
    }
    return true;
  }

  private listResponse(
    res: SandboxResource,
    filter: (o: KubeObject) => boolean,
    query: Record<string, string>,
    out: http.ServerResponse,
  ): void {
    const current = this.state.resourceVersion;
    const limit = Number(query.limit) || 0;
    let snapshot: ListSnapshot;
    let start = 0;
    if (query.continue) {
      const token = decodeContinue(query.continue);
      const snap = token && this.snapshots.get(token.id);
      if (!token || !snap) {
        return sendJSON(
          out,
          410,
          status(
            410,
            "Expired",
            "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
          ),
        );
      }
      snapshot = snap;
      start = token.offset;
    } else {
      const rv = query.resourceVersion ?? "";
      if (rv !== "" && rv !== "0") {
        const n = Number(rv);
        if (!Number.isInteger(n)) return sendStatus(out, 400, `invalid resourceVersion "${rv}"`);
        if (n > current) {
          return sendJSON(
            out,
            504,
            status(504, "Timeout", `Too large resource version: ${n}, current: ${current}`, {
              details: {
                causes: [{ reason: "ResourceVersionTooLarge", message: "Too large resource version" }],
                retryAfterSeconds: 1,
              },
            }),
          );
        }
        if (query.resourceVersionMatch === "Exact" && n < this.state.floor) {
          return sendJSON(
            out,
            410,
            status(410, "Expired", `too old resource version: ${n} (${this.state.floor})`),
          );
        }
      }
      const items = [...this.state.objectsOf(res.resource).entries()]
        .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
        .map(([, o]) => o)
        .filter(filter);
      snapshot = { items, rv: current };
      // Like the watch cache, a list at a specific RV ignores limit.
      if (rv !== "" && rv !== "0") return this.writeList(out, res, snapshot, 0, 0);
    }
    this.writeList(out, res, snapshot, start, limit);
  }

  private writeList(
    out: http.ServerResponse,
    res: SandboxResource,
    snap: ListSnapshot,
    start: number,
    limit: number,
  ) {
    const end = limit > 0 ? Math.min(snap.items.length, start + limit) : snap.items.length;
    let cont: string | undefined;
    if (end < snap.items.length) {
      snap.id ??= this.nextSnapshotId++;
      this.snapshots.set(snap.id, snap);
      if (this.snapshots.size > MAX_SNAPSHOTS) this.snapshots.delete(this.snapshots.keys().next().value!);
      cont = Buffer.from(JSON.stringify({ id: snap.id, offset: end })).toString("base64url");
    }
    const meta: Record<string, unknown> = { resourceVersion: String(snap.rv) };
    if (cont) {
      meta.continue = cont;
      meta.remainingItemCount = snap.items.length - end;
    }
    out.writeHead(200, { "Content-Type": "application/json" });
    out.write(
      `{"kind":"${res.listKind}","apiVersion":"${res.group ? `${res.group}/${res.version}` : res.version}","metadata":${JSON.stringify(meta)},"items":[`,
    );
    // Items are streamed one by one, without kind/apiVersion, like the real server.
    let chunk = "";
    for (let i = start; i < end; i++) {
      const { kind: _k, apiVersion: _a, ...item } = snap.items[i]!;
      chunk += (i > start ? "," : "") + JSON.stringify(item);
      if (chunk.length > 65536) {
        out.write(chunk);
        chunk = "";
      }
    }
    out.end(`${chunk}]}`);
  }

  private watch(
    res: SandboxResource,
    namespace: string | undefined,
    filter: (o: KubeObject) => boolean,
    query: Record<string, string>,
    out: http.ServerResponse,
  ): void {
    const initialEvents = query.sendInitialEvents === "true";
    const bookmarks = query.allowWatchBookmarks === "true";
    if (initialEvents) {
      if (!this.opts.supportsWatchList) {
        return sendJSON(
          out,
          422,
          status(
            422,
            "Invalid",
            "sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled",
          ),
        );
      }
      if (!bookmarks || query.resourceVersionMatch !== "NotOlderThan") {
        return sendStatus(
          out,
          422,
          "sendInitialEvents requires allowWatchBookmarks=true and resourceVersionMatch=NotOlderThan",
        );
      }
    }
    const w: Watcher = {
      res: out,
      resource: res.resource,
      namespace,
      filter,
      dead: this.stalled,
      timers: [],
    };
    this.watchers.add(w);
    out.on("close", () => this.endWatch(w, false));
    if (w.dead) return; // half-open: not even headers
    const rv = query.resourceVersion ?? "";
    const replay: string[] = [];
    const current = (type = "ADDED") => {
      for (const o of this.state.objectsOf(res.resource).values()) if (filter(o)) replay.push(line(type, o));
    };
    if (initialEvents || rv === "" || rv === "0") {
      current();
      if (initialEvents) {
        replay.push(
          line("BOOKMARK", {
            kind: res.kind,
            apiVersion: apiVersionOf(res),
            metadata: {
              resourceVersion: String(this.state.resourceVersion),
              annotations: { [INITIAL_EVENTS_END_ANNOTATION]: "true" },
            },
          } as unknown as KubeObject),
        );
      }
    } else {
      const changes = this.state.changesSince(res.resource, Number(rv));
      out.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked" });
      if (!changes || !Number.isInteger(Number(rv))) {
        out.write(
          line(
            "ERROR",
            status(410, "Expired", `too old resource version: ${rv} (${this.state.floor})`) as never,
          ),
        );
        return this.endWatch(w, false);
      }
      for (const c of changes) if (filter(c.object)) replay.push(line(c.type, c.object));
    }
    if (!out.headersSent)
      out.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked" });
    out.flushHeaders();
    if (replay.length) out.write(replay.join(""));
    const bookmark = () => {
      if (!w.dead) {
        out.write(
          line("BOOKMARK", {
            kind: res.kind,
            apiVersion: apiVersionOf(res),
            metadata: { resourceVersion: String(this.state.resourceVersion) },
          } as unknown as KubeObject),
        );
      }
    };
    if (bookmarks) w.timers.push(setInterval(bookmark, this.opts.bookmarkIntervalMs));
    const timeout = Number(query.timeoutSeconds) * 1000;
    if (timeout > 0) {
      if (bookmarks) w.timers.push(setTimeout(bookmark, Math.max(0, timeout - Math.min(2000, timeout / 2))));
      w.timers.push(setTimeout(() => this.endWatch(w, false), timeout));
    }
  }

  private broadcast(change: Change): void {
    if (this.watchers.size === 0) return;
    let text: string | undefined;
    for (const w of this.watchers) {
      if (w.dead || w.resource !== change.resource || !w.filter(change.object)) continue;
      text ??= line(change.type, change.object);
      w.res.write(text);
    }
  }

  private endWatch(w: Watcher, abrupt: boolean): void {
    if (!this.watchers.delete(w)) return;
    for (const t of w.timers) clearTimeout(t);
    if (abrupt) w.res.socket?.destroy();
    else if (!w.res.writableEnded) w.res.end();
  }
}

function apiVersionOf(res: SandboxResource): string {
  return res.group ? `${res.group}/${res.version}` : res.version;
}

function line(type: string, object: KubeObject): string {
  return `${JSON.stringify({ type, object })}\n`;
}

function decodeContinue(token: string): { id: number; offset: number } | undefined {
  try {
    const v = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    return Number.isInteger(v.id) && Number.isInteger(v.offset) ? v : undefined;
  } catch {
    return undefined;
  }
}

function send(res: http.ServerResponse, code: number, body: string, type: string): void {
  res.writeHead(code, { "Content-Type": type });
  res.end(body);
}

function sendJSON(res: http.ServerResponse, code: number, body: unknown): void {
  send(res, code, JSON.stringify(body), "application/json");
}

function sendStatus(res: http.ServerResponse, code: number, message: string): void {
  sendJSON(res, code, status(code, REASONS[code] ?? "Failure", message));
}

export { key };
