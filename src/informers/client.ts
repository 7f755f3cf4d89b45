// A small HTTP client for the Kubernetes API, built from a kubeconfig.
//
// @kubernetes/client-node loads the kubeconfig and resolves authentication and TLS
// (tokens, exec plugins, client certificates); kgql makes the list and watch requests itself
// so that bodies can be streamed and parsed once, page by page and event by event.
import http from "node:http";
import https from "node:https";
import type { Readable } from "node:stream";
import { KubeConfig } from "@kubernetes/client-node";
import type { GroupVersionResource, Status } from "./types.ts";

export interface KubeResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Readable;
}

/** An error response from the apiserver, with its metav1.Status when it sent one. */
export class ApiError extends Error {
  readonly status: number;
  readonly body: Status | undefined;
  readonly retryAfterSeconds: number | undefined;
  constructor(status: number, body: Status | undefined, what: string, retryAfterSeconds?: number) {
    const reason = body?.message ?? body?.reason ?? http.STATUS_CODES[status] ?? "error";
    super(`${what}: HTTP ${status}: ${reason}`);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

const NETWORK_ERROR_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

/**
 * Network-level failures (refused, reset, hung up): the request never reached a working server,
 * so a watch can simply be retried from the same RV after a backoff. client-go retries only
 * "connection refused" this way and relists for the rest; resuming is just as correct (a too-old
 * RV still ends in a 410 and a relist) and spares the apiserver a full list.
 */
export function isNetworkError(err: unknown): boolean {
  return NETWORK_ERROR_CODES.has((err as NodeJS.ErrnoException | undefined)?.code ?? "");
}

export type Verb = "list" | "watch" | "get";
export type WriteMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface SendOptions {
  query?: Query;
  /** JSON (serialized here) or text as is (a YAML apply patch). */
  body?: unknown;
  contentType?: string;
  headers?: http.OutgoingHttpHeaders;
  signal?: AbortSignal;
}
export type Query = Record<string, string | number | boolean | undefined>;

export function resourcePath(gvr: GroupVersionResource, namespace?: string, name?: string): string {
  let path = gvr.group ? `/apis/${gvr.group}/${gvr.version}` : `/api/${gvr.version}`;
  if (namespace) path += `/namespaces/${encodeURIComponent(namespace)}`;
  path += `/${gvr.resource}`;
  if (name) path += `/${encodeURIComponent(name)}`;
  return path;
}

export class KubeClient {
  readonly server: URL;
  private readonly kubeConfig: KubeConfig;
  private readonly agent: http.Agent;
  /** Counts requests by verb, for cache-status and metrics. */
  readonly requestCounts: Record<Verb | "create" | "write", number> = {
    list: 0,
    watch: 0,
    get: 0,
    create: 0,
    write: 0,
  };

  private constructor(kubeConfig: KubeConfig, tlsOptions: https.RequestOptions) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster)
      throw new Error("the kubeconfig has no current cluster (set current-context or pass --context)");
    this.kubeConfig = kubeConfig;
    this.server = new URL(cluster.server);
    const agentOptions = { keepAlive: true, maxSockets: 256 };
    this.agent =
      this.server.protocol === "https:"
        ? new https.Agent({ ...agentOptions, ...pickTls(tlsOptions) })
        : new http.Agent(agentOptions);
  }

  static async fromKubeConfig(kubeConfig: KubeConfig): Promise<KubeClient> {
    const opts: https.RequestOptions = {};
    await kubeConfig.applyToHTTPSOptions(opts);
    return new KubeClient(kubeConfig, opts);
  }

  static async fromFile(path: string, context?: string): Promise<KubeClient> {
    const kc = new KubeConfig();
    kc.loadFromFile(path);
    if (context) kc.setCurrentContext(context);
    return KubeClient.fromKubeConfig(kc);
  }

  /** Headers for one request; re-resolved each time so rotating tokens (exec plugins) stay valid. */
  private async authHeaders(): Promise<http.OutgoingHttpHeaders> {
    const opts: https.RequestOptions = { headers: {} };
    await this.kubeConfig.applyToHTTPSOptions(opts);
    return (opts.headers ?? {}) as http.OutgoingHttpHeaders;
  }

  /** Starts a GET and resolves with the streaming response once headers arrive. */
  async request(verb: Verb, path: string, query: Query = {}, signal?: AbortSignal): Promise<KubeResponse> {
    const url = new URL(path, this.server);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    this.requestCounts[verb]++;
    const headers = {
      ...(await this.authHeaders()),
      Accept: "application/json",
      "Accept-Encoding": "identity",
    };
    const mod = url.protocol === "https:" ? https : http;
    return new Promise<KubeResponse>((resolve, reject) => {
      const req = mod.request(url, { method: "GET", headers, agent: this.agent, signal }, (res) =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res }),
      );
      req.on("error", reject);
      req.end();
    });
  }

  /** GET a small JSON document (discovery, single objects). */
  async getJSON<T>(path: string, query: Query = {}, signal?: AbortSignal): Promise<T> {
    const res = await this.request("get", path, query, signal);
    const text = await readText(res.body);
    if (res.status !== 200) throw new ApiError(res.status, parseStatus(text), `GET ${path}`);
    return JSON.parse(text) as T;
  }

  /** POST a small JSON document (TokenReview, SubjectAccessReview) and parse the answer. */
  postJSON<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    return this.exchange<T>("POST", path, { body, signal }, "create");
  }

  /**
   * A write (POST, PUT, PATCH, DELETE, or a GET made for one) with a JSON answer; `headers` add
   * to the kubeconfig's (impersonation). Throws ApiError for a non-2xx answer. Mutations only:
   * queries are answered from the caches.
   */
  send<T>(method: WriteMethod, path: string, opts: SendOptions = {}): Promise<T> {
    return this.exchange<T>(method, path, opts, "write");
  }

  /** One request with a JSON answer, counted under `counter`; ApiError for a non-2xx answer. */
  private async exchange<T>(
    method: WriteMethod,
    path: string,
    opts: SendOptions,
    counter: "create" | "write",
  ): Promise<T> {
    const url = new URL(path, this.server);
    for (const [k, v] of Object.entries(opts.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const payload =
      opts.body === undefined
        ? undefined
        : Buffer.from(typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body));
    const headers: http.OutgoingHttpHeaders = {
      ...(await this.authHeaders()),
      ...opts.headers,
      Accept: "application/json",
      "Accept-Encoding": "identity",
    };
    if (payload) {
      headers["Content-Type"] = opts.contentType ?? "application/json";
      headers["Content-Length"] = payload.length;
    }
    const mod = url.protocol === "https:" ? https : http;
    this.requestCounts[counter]++;
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = mod.request(url, { method, headers, agent: this.agent, signal: opts.signal }, resolve);
      req.on("error", reject);
      req.end(payload);
    });
    const text = await readText(res);
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) throw new ApiError(status, parseStatus(text), `${method} ${path}`);
    return JSON.parse(text) as T;
  }

  close(): void {
    this.agent.destroy();
  }
}

function pickTls(opts: https.RequestOptions): https.AgentOptions {
  const { ca, cert, key, pfx, passphrase, rejectUnauthorized, servername } = opts;
  const out: https.AgentOptions = { ca, cert, key, pfx, passphrase, servername };
  if (rejectUnauthorized !== undefined) out.rejectUnauthorized = rejectUnauthorized;
  return out;
}

export async function readText(body: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export function parseStatus(text: string): Status | undefined {
  try {
    const parsed = JSON.parse(text) as Status;
    return parsed && parsed.kind === "Status" ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Reads an error response body into an ApiError. */
export async function errorFromResponse(res: KubeResponse, what: string): Promise<ApiError> {
  const text = await readText(res.body).catch(() => "");
  const retryAfter = Number(res.headers["retry-after"]);
  return new ApiError(
    res.status,
    parseStatus(text),
    what,
    Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
  );
}
