// What the two fast paths (fast-path.ts for queries, sse-fast-path.ts for SSE subscriptions)
// share: which requests they may take, the body's shape, and parsing and validating the
// document with yoga's own envelop pipeline. Anything they decline goes to yoga unchanged.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { DocumentNode, OperationTypeNode } from "graphql";
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
export function isPlainJsonPost(req: IncomingMessage): boolean {
  if (req.method !== "POST" || req.headers.origin !== undefined) return false;
  const type = req.headers["content-type"];
  return type !== undefined && /^application\/json\s*(;|$)/i.test(type);
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

export interface PreparedOperation {
  params: Params;
  document: DocumentNode;
  enveloped: ReturnType<YogaServerInstance<object, RequestContext>["getEnveloped"]>;
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
  } catch {
    return undefined;
  }
}
