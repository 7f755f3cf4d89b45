// A small JSON client for the test control plane's kube-apiserver, over node:https with the
// cluster's CA (TLS is verified) and a bearer token. Used by the cluster lifecycle (readiness,
// creating nodes) and by integration tests (test/helpers/cluster.ts).
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import { STATUS_CODES } from "node:http";
import https from "node:https";

/** Response bodies are untyped JSON unless the caller names a type: tests read them freely. */
// biome-ignore lint/suspicious/noExplicitAny: parsed JSON from the apiserver, narrowed by the tests
export type Json = any;

export type PatchType = "merge" | "strategic" | "json" | "apply";
export type QueryValue = string | number | boolean | undefined;

export interface RequestOptions {
  /** Bearer token; defaults to the client's token. `null` sends no Authorization header (anonymous). */
  token?: string | null;
  /** Statuses that count as success (default: any 2xx). */
  expect?: number | readonly number[];
  /** Never throw on an HTTP status; the caller inspects `status`. */
  allowError?: boolean;
  /** Query parameters appended to the path. */
  query?: Record<string, QueryValue>;
  /** For PATCH: merge (default), strategic, json (RFC 6902) or apply (server-side apply, YAML/JSON body). */
  patchType?: PatchType;
  headers?: Record<string, string>;
  /** Aborts the request after this long (default 30 s). */
  timeoutMs?: number;
}

export interface ApiResponse<T = Json> {
  status: number;
  headers: IncomingHttpHeaders;
  /** Parsed JSON when the response is JSON, otherwise the raw text. */
  body: T;
}

/** An unexpected HTTP status, with the apiserver's message when it sent a metav1.Status. */
export class KubeApiError extends Error {
  readonly status: number;
  readonly method: string;
  readonly path: string;
  readonly body: unknown;
  constructor(method: string, path: string, status: number, body: unknown) {
    const b = body as { message?: string; reason?: string } | string | undefined;
    const detail =
      typeof b === "string" ? b.slice(0, 500) : (b?.message ?? b?.reason ?? JSON.stringify(b)?.slice(0, 500));
    super(`${method} ${path} -> ${status} ${STATUS_CODES[status] ?? ""}: ${detail}`);
    this.name = "KubeApiError";
    this.status = status;
    this.method = method;
    this.path = path;
    this.body = body;
  }
}

const patchContentTypes: Record<PatchType, string> = {
  merge: "application/merge-patch+json",
  strategic: "application/strategic-merge-patch+json",
  json: "application/json-patch+json",
  apply: "application/apply-patch+yaml",
};

export interface KubeApiOptions {
  server: string;
  /** PEM of the CA that signed the apiserver's serving certificate. */
  ca: string;
  token?: string;
}

export class KubeApi {
  readonly server: string;
  readonly ca: string;
  readonly token: string | undefined;
  private readonly agent: https.Agent;

  constructor(opts: KubeApiOptions) {
    this.server = opts.server.replace(/\/+$/, "");
    this.ca = opts.ca;
    this.token = opts.token;
    this.agent = new https.Agent({ ca: opts.ca, keepAlive: true, maxSockets: 64 });
  }

  /** The same server and CA, authenticating with another token. */
  as(token: string | null): KubeApi {
    return new KubeApi({ server: this.server, ca: this.ca, token: token ?? undefined });
  }

  get<T = Json>(path: string, opts?: RequestOptions): Promise<ApiResponse<T>> {
    return this.request<T>("GET", path, undefined, opts);
  }
  post<T = Json>(path: string, body?: unknown, opts?: RequestOptions): Promise<ApiResponse<T>> {
    return this.request<T>("POST", path, body, opts);
  }
  put<T = Json>(path: string, body?: unknown, opts?: RequestOptions): Promise<ApiResponse<T>> {
    return this.request<T>("PUT", path, body, opts);
  }
  patch<T = Json>(path: string, body?: unknown, opts?: RequestOptions): Promise<ApiResponse<T>> {
    return this.request<T>("PATCH", path, body, opts);
  }
  delete<T = Json>(path: string, body?: unknown, opts?: RequestOptions): Promise<ApiResponse<T>> {
    return this.request<T>("DELETE", path, body, opts);
  }

  /** Sends a request and buffers the response; throws KubeApiError on an unexpected status. */
  async request<T = Json>(
    method: string,
    path: string,
    body?: unknown,
    opts: RequestOptions = {},
  ): Promise<ApiResponse<T>> {
    const fullPath = withQuery(path, opts.query);
    const res = await this.send(method, fullPath, body, opts);
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const type = String(res.headers["content-type"] ?? "");
    let parsed: unknown = text;
    if (type.includes("json") && text.length > 0) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    const status = res.statusCode ?? 0;
    if (!opts.allowError && !isExpected(status, opts.expect)) {
      throw new KubeApiError(method, fullPath, status, parsed);
    }
    return { status, headers: res.headers, body: parsed as T };
  }

  /**
   * Sends a request and returns the response unread (for watches and other streams). The caller
   * must consume or destroy it. No status check is made.
   */
  stream(
    method: string,
    path: string,
    opts: RequestOptions & { body?: unknown } = {},
  ): Promise<IncomingMessage> {
    return this.send(method, withQuery(path, opts.query), opts.body, {
      ...opts,
      timeoutMs: opts.timeoutMs ?? 0,
    });
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.agent.destroy();
  }

  private send(method: string, path: string, body: unknown, opts: RequestOptions): Promise<IncomingMessage> {
    const url = new URL(this.server + path);
    const headers: Record<string, string> = { accept: "application/json", ...opts.headers };
    const token = opts.token === undefined ? this.token : opts.token;
    if (token) headers.authorization = `Bearer ${token}`;
    let payload: string | undefined;
    if (body !== undefined) {
      payload = typeof body === "string" ? body : JSON.stringify(body);
      headers["content-type"] ??=
        method === "PATCH" ? patchContentTypes[opts.patchType ?? "merge"] : "application/json";
      headers["content-length"] = String(Buffer.byteLength(payload));
    }
    const timeoutMs = opts.timeoutMs ?? 30_000;
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = https.request(url, { method, headers, agent: this.agent }, resolve);
      req.on("error", (err) => reject(new Error(`${method} ${path}: ${err.message}`, { cause: err })));
      if (timeoutMs > 0) {
        req.setTimeout(timeoutMs, () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
      }
      req.end(payload);
    });
  }
}

function isExpected(status: number, expect: RequestOptions["expect"]): boolean {
  if (expect === undefined) return status >= 200 && status < 300;
  return typeof expect === "number" ? status === expect : expect.includes(status);
}

function withQuery(path: string, query: Record<string, QueryValue> | undefined): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.append(k, String(v));
  const qs = params.toString();
  if (!qs) return path;
  return path + (path.includes("?") ? "&" : "?") + qs;
}
