// What the two fast paths (fast-path.ts for queries, sse-fast-path.ts for SSE subscriptions)
// share: which requests they may take, the body's shape, and parsing and validating the
// document with yoga's own envelop pipeline. Anything they decline goes to yoga unchanged.
import type { IncomingMessage, ServerResponse } from "node:http";
import { type DocumentNode, type ExecutionArgs, GraphQLError, type OperationTypeNode } from "graphql";
import type { YogaServerInstance } from "graphql-yoga";
import type { RequestContext } from "../resolvers/context.ts";
import { operationOf } from "./operation.ts";

export interface Params {
  query: string;
  variables?: Record<string, unknown> | null;
  operationName?: string | null;
}

/**
 * A JSON POST from a non-browser client. Browsers send an Origin header and go to yoga,
 * whose CORS handling decides.
 */
function isPlainJsonPost(req: IncomingMessage): boolean {
  if (req.method !== "POST" || req.headers.origin !== undefined) return false;
  const type = req.headers["content-type"];
  return type !== undefined && /^application\/json\s*(;|$)/i.test(type);
}

/**
 * Which fast path the request's headers allow (its body is checked once read): "sse" for a
 * subscription over SSE (sse-fast-path.ts), "json" for a query answered as plain JSON
 * (fast-path.ts), undefined for yoga.
 */
export function fastPathFor(req: IncomingMessage): "json" | "sse" | undefined {
  if (!isPlainJsonPost(req)) return undefined;
  const accept = req.headers.accept;
  if (accept === undefined) return "json";
  if (accept.split(";")[0]!.trim().toLowerCase() === "text/event-stream") return "sse";
  return acceptsOnlyPlainJson(accept) ? "json" : undefined;
}

/** "application/json" and "*\/*" only: other media types need yoga's content negotiation. */
function acceptsOnlyPlainJson(accept: string): boolean {
  for (const part of accept.split(",")) {
    const type = part.split(";")[0]!.trim().toLowerCase();
    if (type !== "application/json" && type !== "*/*" && type !== "") return false;
  }
  return true;
}

/** {query, variables?, operationName?} only: batches, extensions (persisted queries) go to yoga. */
function asParams(body: unknown): Params | undefined {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return undefined;
  const p = body as Record<string, unknown>;
  if (typeof p.query !== "string") return undefined;
  if (p.extensions !== undefined && p.extensions !== null) return undefined;
  const v = p.variables;
  if (v !== undefined && v !== null && (typeof v !== "object" || Array.isArray(v))) return undefined;
  const op = p.operationName;
  if (op !== undefined && op !== null && typeof op !== "string") return undefined;
  for (const key in p) {
    if (key !== "query" && key !== "variables" && key !== "operationName" && key !== "extensions")
      return undefined;
  }
  return p as unknown as Params;
}

export type Enveloped = ReturnType<YogaServerInstance<object, RequestContext>["getEnveloped"]>;

export interface PreparedOperation {
  params: Params;
  document: DocumentNode;
  enveloped: Enveloped;
}

/**
 * The arguments envelop's execute/subscribe take for a parsed operation (the fast paths and
 * the WebSocket server build them the same way).
 */
export function executionArgs(
  enveloped: Enveloped,
  params: Params,
  document: DocumentNode,
  contextValue: unknown,
): ExecutionArgs {
  return {
    schema: enveloped.schema,
    document,
    contextValue,
    variableValues: params.variables ?? undefined,
    operationName: params.operationName ?? undefined,
  };
}

/**
 * The body parsed, and its document parsed and validated through yoga's envelop pipeline
 * (parse and validation caches, armor limits); undefined, having written nothing, when the
 * request is not a valid operation of `type` (yoga then answers it, errors included).
 */
export function prepareOperation(
  yoga: YogaServerInstance<object, RequestContext>,
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
  type: OperationTypeNode,
): PreparedOperation | undefined {
  let params: Params | undefined;
  try {
    params = asParams(JSON.parse(body.toString("utf8")));
  } catch {
    return undefined;
  }
  if (!params) return undefined;
  const enveloped = yoga.getEnveloped({ req, res, params });
  try {
    const document = enveloped.parse(params.query);
    const operation = operationOf(document, params.operationName);
    if (operation?.operation !== type) return undefined;
    // Validation rules may also throw (graphql-armor's limits do).
    if (enveloped.validate(enveloped.schema, document).length > 0) return undefined;
    return { params, document, enveloped };
  } catch (err) {
    if (err instanceof GraphQLError && err.message.startsWith("Syntax Error")) markParseFailed(err);
    return undefined;
  }
}

/**
 * yoga marks a syntax error GRAPHQL_PARSE_FAILED (HTTP 400) in its own request handling only (a
 * hook that needs its Request). The error is cached by document text, and yoga, answering this
 * request next, is handed the cached one: mark it as yoga would, or its answer carries neither.
 */
function markParseFailed(err: GraphQLError): void {
  const extensions = err.extensions as Record<string, unknown> & { http?: Record<string, unknown> };
  extensions.code ??= "GRAPHQL_PARSE_FAILED";
  extensions.http ??= { spec: true, status: 400 };
}
