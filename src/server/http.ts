// The HTTP server: /graphql (yoga: POST, GET, GraphiQL, SSE subscriptions), WebSocket
// subscriptions on the same path (graphql-ws protocol), /healthz, /readyz, /metrics.
import http from "node:http";
import type { AddressInfo } from "node:net";
import {
  type ExecutionArgs,
  type ExecutionResult,
  type FormattedExecutionResult,
  GraphQLError,
  type GraphQLFormattedError,
} from "graphql";
import { useServer } from "graphql-ws/use/ws";
import type { YogaServerInstance } from "graphql-yoga";
import { WebSocketServer } from "ws";
import type { RequestContext } from "../resolvers/context.ts";
import { limitExceeded } from "../resolvers/errors.ts";
import type { Gateway } from "../resolvers/gateway.ts";
import { isAsyncIterable } from "../subscriptions/types.ts";
import { DEFAULT_REQUEST_TIMEOUT_MS } from "./deadline.ts";
import { handleFast } from "./fast-path.ts";
import { executionArgs, fastPathFor } from "./fast-request.ts";
import type { Metrics } from "./metrics.ts";
import { operationLabel } from "./operation.ts";
import {
  type Logger,
  type RequestRecord,
  recordOf,
  runInRequest,
  startRecord,
  streamInRequest,
} from "./request-log.ts";
import { handleSseSubscription } from "./sse-fast-path.ts";
import { serveUi, type UiAssets } from "./ui.ts";

export interface ServerOptions {
  host: string;
  port: number;
  /** The clusters served besides the default one (reported by /readyz). */
  otherClusters?: readonly Gateway[];
  /** Requests larger than this are refused with 413. */
  maxBodyBytes?: number;
  /** WebSocket subscriptions one connection may hold at once. */
  maxSubscriptionsPerConnection?: number;
  /** Request lines (info; probes and /metrics at debug) and unexpected errors (warn). */
  log?: Logger;
  /** The topology page's files (/ui); undefined: not served. */
  ui?: UiAssets;
  /**
   * A request (headers and body) not fully received within this is answered 408 and its
   * connection closed (--request-timeout; node's own default is 300 s).
   */
  requestTimeoutMs?: number;
}

/** Probes and scrapes every few seconds would drown the request log at info level. */
const QUIET_PATHS = new Set(["/healthz", "/readyz", "/metrics"]);

/** One line per request when its response ends (or the client goes away first). */
function logWhenDone(
  log: Logger,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  path: string,
  record: RequestRecord,
): void {
  const started = performance.now();
  const done = () => {
    const fields = {
      reqId: record.id,
      method: req.method,
      path,
      status: res.statusCode,
      durationMs: Math.round((performance.now() - started) * 100) / 100,
      operation: record.operation,
      user: record.user,
      errors: record.errors,
      ...(res.writableFinished ? {} : { aborted: true }),
    };
    if (QUIET_PATHS.has(path)) log.debug(fields, "request");
    else log.info(fields, "request");
  };
  res.once("close", done);
}

export interface CloseOptions {
  /** Ends every subscription stream (so that each is completed, not cut). */
  endStreams?: () => Promise<void>;
  /** How long requests in flight may take to finish before their connections are cut (ms). */
  graceMs?: number;
}

export interface RunningServer {
  url: string;
  port: number;
  close(opts?: CloseOptions): Promise<void>;
}

function unsyncedKinds(gateway: Gateway): string[] {
  return gateway.factory
    .informers()
    .filter((i) => i.isStarted && !i.hasSynced())
    .map((i) => i.resource.kind);
}

/**
 * /readyz: ready once every started informer of the default cluster has synced. With several
 * clusters every cluster is reported, a line each, but only the default one decides: readiness
 * takes a replica out of its Service, and another cluster being unreachable is the same for every
 * replica, so failing on it would stop answers about every cluster, which multi-cluster serving
 * promises never to do (its fields say NOT_SYNCED, `clusters` says why).
 */
function readiness(gateway: Gateway, others: readonly Gateway[] = []): { ready: boolean; text: string } {
  const unsynced = unsyncedKinds(gateway);
  const ready = unsynced.length === 0;
  const head = ready ? "ok" : `not ready: waiting for the first sync of ${unsynced.join(", ")}`;
  if (others.length === 0) return { ready, text: head };
  const lines = [head];
  for (const g of [gateway, ...others]) {
    const missing = g === gateway ? unsynced : unsyncedKinds(g);
    const role = g === gateway ? " (default; decides readiness)" : "";
    lines.push(
      `cluster ${g.cluster}${role}: ${missing.length ? `not synced: waiting for ${missing.join(", ")}` : "synced"}`,
    );
  }
  return { ready, text: lines.join("\n") };
}

function tooLarge(
  res: http.ServerResponse,
  metrics: Metrics | undefined,
  message: string,
  max: number,
): void {
  metrics?.limitRejections.inc({ limit: "maxBodyBytes" });
  res
    .writeHead(413, { "Content-Type": "application/json", Connection: "close" })
    .end(JSON.stringify({ errors: [limitExceeded(message, "maxBodyBytes", max).toJSON()] }));
}

function unexpected(res: http.ServerResponse): void {
  res
    .writeHead(500, { "Content-Type": "application/json" })
    .end(JSON.stringify({ errors: [{ message: "Unexpected error." }] }));
}

/**
 * A response that streams for as long as the client stays (SSE, multipart): one under way, or
 * one the client asked for and has not been sent yet.
 */
function isStream(req: http.IncomingMessage, res: http.ServerResponse): boolean {
  const STREAM = /text\/event-stream|multipart\/mixed/i;
  return res.headersSent
    ? STREAM.test(String(res.getHeader("content-type") ?? ""))
    : STREAM.test(req.headers.accept ?? "");
}

/** An error as graphql-ws would send it (GraphQLError and yoga's masked errors have toJSON). */
function formatted(error: unknown): GraphQLFormattedError {
  const e = error as { toJSON?: () => GraphQLFormattedError };
  return typeof e.toJSON === "function" ? e.toJSON() : (error as GraphQLFormattedError);
}

/** yoga's extensions for itself: `http` (the status to answer with), `unexpected`. */
function hasInternals(error: unknown): boolean {
  const extensions = (error as GraphQLFormattedError).extensions;
  return !!extensions && ("http" in extensions || "unexpected" in extensions);
}

/** The error without yoga's internal extensions, as yoga's HTTP responses give it. */
function withoutInternals(error: unknown): GraphQLFormattedError {
  const json = formatted(error);
  if (!hasInternals(json)) return json;
  const { http: _http, unexpected: _unexpected, ...extensions } = json.extensions!;
  const { extensions: _all, ...rest } = json;
  return Object.keys(extensions).length ? { ...rest, extensions } : rest;
}

/**
 * A result as yoga's HTTP responses give it (without yoga's internal extensions); undefined when
 * it has none.
 */
function publicResult(result: ExecutionResult): FormattedExecutionResult | undefined {
  if (!result.errors?.some(hasInternals) && !result.extensions?.http) return undefined;
  const { http: _http, ...extensions } = result.extensions ?? {};
  return {
    ...result,
    errors: result.errors?.map(withoutInternals),
    extensions: Object.keys(extensions).length ? extensions : undefined,
  };
}

/**
 * The whole body; "too large" (having stopped reading) once it exceeds `max` bytes; "failed"
 * when the client went away.
 */
function readBody(req: http.IncomingMessage, max: number): Promise<Buffer | "too large" | "failed"> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.removeAllListeners("data");
        req.resume();
        resolve("too large");
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on("error", () => resolve("failed"));
  });
}

export async function startServer(
  yoga: YogaServerInstance<object, RequestContext>,
  gateway: Gateway,
  metrics: Metrics | undefined,
  opts: ServerOptions,
): Promise<RunningServer> {
  const maxBody = opts.maxBodyBytes ?? 1_000_000;
  const maxPerConnection = opts.maxSubscriptionsPerConnection ?? 100;
  const inFlight = new Set<http.ServerResponse>();
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse, record: RequestRecord) => {
    const path = (req.url ?? "/").split("?")[0]!;
    res.setHeader("X-Request-Id", record.id);
    inFlight.add(res);
    // The client's FIN (see httpAllowHalfOpen below) ends a stream: it is how most clients leave.
    const onClientFin = () => {
      if (!res.writableEnded && isStream(req, res)) res.destroy();
    };
    req.socket.once("end", onClientFin);
    res.once("close", () => {
      inFlight.delete(res);
      req.socket.off("end", onClientFin);
    });
    if (opts.log) logWhenDone(opts.log, req, res, path, record);
    if (path === "/healthz") {
      res.writeHead(200, { "Content-Type": "text/plain" }).end("ok");
      return;
    }
    if (path === "/readyz") {
      const r = readiness(gateway, opts.otherClusters);
      res.writeHead(r.ready ? 200 : 503, { "Content-Type": "text/plain" }).end(r.text);
      return;
    }
    if (path === "/metrics" && metrics) {
      const text = await metrics.registry.metrics();
      res.writeHead(200, { "Content-Type": metrics.registry.contentType }).end(text);
      return;
    }
    if (opts.ui && (path === "/ui" || path.startsWith("/ui/"))) {
      serveUi(req, res, path, opts.ui);
      return;
    }
    const length = Number(req.headers["content-length"] ?? 0);
    if (length > maxBody) {
      tooLarge(
        res,
        metrics,
        `request body of ${length} bytes exceeds the limit of ${maxBody} bytes`,
        maxBody,
      );
      return;
    }
    // Plain JSON queries, and subscriptions over SSE (sse-fast-path.ts), skip yoga's fetch layer.
    const fast = path === "/graphql" ? fastPathFor(req) : undefined;
    // A chunked body has no Content-Length to check above: it is read here, up to the limit,
    // whichever handler takes it (yoga would read it whole).
    const chunked =
      req.headers["content-length"] === undefined && req.headers["transfer-encoding"] !== undefined;
    let body: Buffer | undefined;
    if (fast || chunked) {
      const read = await readBody(req, maxBody);
      if (read === "failed") return;
      if (read === "too large") {
        tooLarge(res, metrics, `request body exceeds the limit of ${maxBody} bytes`, maxBody);
        return;
      }
      body = read;
    }
    if (fast && body) {
      try {
        if (await (fast === "sse" ? handleSseSubscription : handleFast)(yoga, req, res, body)) {
          metrics?.httpRequests.inc({ handler: fast === "sse" ? "sse-fast" : "fast" });
          return;
        }
      } catch (err) {
        opts.log?.warn(
          { reqId: record.id, err: String(err), stack: (err as Error)?.stack },
          "unexpected error answering a request",
        );
        if (!res.headersSent) unexpected(res);
        return;
      }
    }
    // The body is consumed: yoga's node adapter takes it from req.body instead of the stream.
    if (body) (req as { body?: unknown }).body = body;
    if (path === "/graphql") metrics?.httpRequests.inc({ handler: "yoga" });
    yoga(req, res);
  };
  // Each request runs in its record's async context: yoga's error masking finds it there to
  // log unexpected errors with the request id (request-log.ts loggedMaskedErrors).
  // A client that sends part of a request and then nothing holds a connection (and a body
  // buffer) for node's 300 s: bounded by --request-timeout instead, like every answer. node
  // checks every connectionsCheckingInterval, so the 408 comes up to half the limit later.
  const requestTimeout = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const server = http.createServer(
    {
      requestTimeout,
      headersTimeout: Math.min(requestTimeout, 60_000),
      connectionsCheckingInterval: Math.min(requestTimeout / 2, 30_000),
    },
    (req, res) => {
      const record = startRecord(req);
      void runInRequest(record, () => handle(req, res, record));
    },
  );
  // A client that half-closes once its request is sent (nc -N, some scripts and proxies) still
  // gets its answer: per HTTP a half-close does not end a request. By default node ends the
  // socket at once, losing any answer not yet written; with this (a server property node reads,
  // not in its typings) it closes the socket after the answer. A stream ends at the client's
  // FIN (handle above): a client that closes its socket sends just that, and its subscription
  // must end then, not at the next write that fails.
  (server as { httpAllowHalfOpen?: boolean }).httpAllowHalfOpen = true;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, resolve);
  });
  // Only now: ws re-emits the HTTP server's errors, and graphql-ws prints them with a stack
  // ("Internal error emitted on the WebSocket server...") before kgql could say that the port
  // is taken or the host unknown.
  // A message is bounded as a request body is (ws's own default is 100 MiB): past it, the
  // connection is closed with 1009 (message too big).
  const wss = new WebSocketServer({ server, path: "/graphql", maxPayload: maxBody });
  wss.on("error", (err) => opts.log?.warn({ err: String(err), stack: err.stack }, "HTTP server error"));
  // WebSocket connections bypass the request handler above: they get their id here (the
  // upgrade request carries X-Request-Id like any other), and one line when they close.
  wss.on("connection", (socket, req) => {
    const record = startRecord(req);
    // A client that breaks the WebSocket protocol (a message over maxPayload, invalid UTF-8, a
    // bad opcode...) makes ws emit 'error' once it has closed the connection with the right
    // code itself (1009, 1007, 1002). graphql-ws would print each one to the console with a
    // stack: the client's fault, so logged at debug instead (and a client cannot flood stderr).
    const emit = socket.emit.bind(socket);
    socket.emit = ((event: string | symbol, ...args: unknown[]) => {
      const code = (args[0] as { code?: unknown } | undefined)?.code;
      if (event === "error" && typeof code === "string" && code.startsWith("WS_ERR_")) {
        opts.log?.debug({ reqId: record.id, err: String(args[0]) }, "WebSocket protocol error");
        return true;
      }
      return emit(event, ...args);
    }) as typeof socket.emit;
    if (!opts.log) return;
    const log = opts.log;
    const started = performance.now();
    socket.once("close", (code) => {
      log.info(
        {
          reqId: record.id,
          method: "WEBSOCKET",
          path: "/graphql",
          closeCode: code,
          durationMs: Math.round(performance.now() - started),
          operation: record.operation,
          user: record.user,
          errors: record.errors,
        },
        "request",
      );
    });
  });
  const openPerConnection = new WeakMap<object, number>();
  useServer(
    {
      // Each operation runs in the connection's request (its record), as HTTP requests do, so
      // that unexpected errors are logged with its id; a stream's events too, pulled by
      // graphql-ws outside it.
      execute: (args) =>
        runInRequest(
          recordOf(args.contextValue),
          () => (args.rootValue as { execute: (a: ExecutionArgs) => unknown }).execute(args),
          operationLabel(args.document, args.operationName),
        ) as never,
      subscribe: (args) => {
        const record = recordOf(args.contextValue);
        const operation = operationLabel(args.document, args.operationName);
        return runInRequest(
          record,
          async () => {
            const result = await (args.rootValue as { subscribe: (a: ExecutionArgs) => unknown }).subscribe(
              args,
            );
            return isAsyncIterable(result) ? streamInRequest(record, result, operation) : result;
          },
          operation,
        ) as never;
      },
      // yoga's internal extensions (http: the status yoga would answer with; unexpected) are
      // not the client's: yoga strips them from HTTP responses, here they are stripped too.
      onNext: (_ctx, _id, _payload, _args, result) => publicResult(result),
      onError: (_ctx, _id, _payload, errors) => errors.map(withoutInternals),
      onSubscribe: (ctx, _id, params) =>
        runInRequest(recordOf({ req: ctx.extra.request }), async () => {
          // Per-connection cap: one socket cannot hold an unbounded number of streams. Counted
          // here, synchronously, because several subscribe messages can arrive at once.
          const open = openPerConnection.get(ctx) ?? 0;
          if (open >= maxPerConnection) {
            metrics?.limitRejections.inc({ limit: "maxSubscriptionsPerConnection" });
            return [
              limitExceeded(
                `too many subscriptions on this connection: at most ${maxPerConnection}; complete some or open another connection`,
                "maxSubscriptionsPerConnection",
                maxPerConnection,
              ),
            ];
          }
          openPerConnection.set(ctx, open + 1);
          // graphql-ws calls onComplete only for operations that started: one refused here (bad
          // document, failed context) gives its place back, or 100 bad subscribes would use up
          // the connection.
          const release = () =>
            openPerConnection.set(ctx, Math.max(0, (openPerConnection.get(ctx) ?? 1) - 1));
          try {
            const enveloped = yoga.getEnveloped({
              ...ctx,
              req: ctx.extra.request,
              socket: ctx.extra.socket,
              params,
            });
            const document = enveloped.parse(params.query);
            const errors = enveloped.validate(enveloped.schema, document);
            if (errors.length) {
              release();
              return errors;
            }
            const args = executionArgs(enveloped, params, document, await enveloped.contextFactory());
            // execute/subscribe below take envelop's own functions from here.
            args.rootValue = { execute: enveloped.execute, subscribe: enveloped.subscribe };
            return args;
          } catch (err) {
            release();
            // A user's error (syntax, a document limit, UNAUTHENTICATED, a review that failed)
            // is that operation's error message; thrown, graphql-ws would close the whole
            // connection with 4500 Internal server error.
            if (err instanceof GraphQLError) return [err];
            // A bug: masked and logged like any unexpected error, not a closed connection.
            opts.log?.warn(
              {
                reqId: recordOf({ req: ctx.extra.request })?.id,
                err: String(err),
                stack: (err as Error)?.stack,
              },
              "unexpected error in a GraphQL request",
            );
            return [new GraphQLError("Unexpected error.", { extensions: { code: "INTERNAL_SERVER_ERROR" } })];
          }
        }),
      onComplete: (ctx) => {
        openPerConnection.set(ctx, Math.max(0, (openPerConnection.get(ctx) ?? 1) - 1));
      },
    },
    wss,
  );

  const port = (server.address() as AddressInfo).port;
  const host = opts.host.includes(":") ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${host}:${port}/graphql`,
    port,
    close: async ({ endStreams, graceMs = 5000 } = {}) => {
      // Graceful: stop accepting, end the subscription streams (each gets its "complete"), let
      // requests in flight finish, then close what is left (WebSockets with 1001).
      const closed = new Promise<void>((r) => server.close(() => r()));
      wss.close();
      await endStreams?.();
      const until = Date.now() + graceMs;
      while (inFlight.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      for (const client of wss.clients) {
        if (client.bufferedAmount > 0) await new Promise((r) => setTimeout(r, 20));
        client.close(1001, "server shutting down");
      }
      server.closeIdleConnections();
      const leftover = setTimeout(
        () => {
          for (const client of wss.clients) client.terminate();
          server.closeAllConnections();
        },
        Math.max(100, until - Date.now()),
      );
      await closed;
      clearTimeout(leftover);
    },
  };
}
