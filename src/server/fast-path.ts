// The fast path for the request almost every script, portal backend and benchmark sends: POST
// /graphql with a JSON body {query, variables?, operationName?}, accepting plain JSON, from a
// non-browser client. yoga's fetch-API adapter (Request/Response objects, body streams) costs
// about 0.25 ms per request and about 9 ms per MB of response; this path runs the very same
// envelop pipeline (parse and validation caches, armor limits, JIT, cache sync, auth, metrics,
// error masking) directly on node's req/res, and builds the response with yoga's own
// processRegularResult, so statuses, headers and error shapes are yoga's.
//
// Everything else goes to yoga unchanged: GET, GraphiQL, SSE and multipart, batches, persisted
// queries, browsers (an Origin header: CORS is yoga's), subscriptions, and requests that fail
// to parse or validate (rare, and yoga's error responses are the reference).
import type { IncomingMessage, ServerResponse } from "node:http";
import { type DocumentNode, type ExecutionResult, GraphQLError, getOperationAST } from "graphql";
import { processRegularResult, type YogaServerInstance } from "graphql-yoga";
import type { RequestContext } from "../resolvers/context.ts";

interface Params {
  query: string;
  variables?: Record<string, unknown> | null;
  operationName?: string | null;
}

/** Whether the request's headers allow the fast path (the body is checked once read). */
export function fastPathCandidate(req: IncomingMessage): boolean {
  if (req.method !== "POST" || req.headers.origin !== undefined) return false;
  const type = req.headers["content-type"];
  if (!type || !/^application\/json\s*(;|$)/i.test(type)) return false;
  const accept = req.headers.accept;
  return accept === undefined || acceptsOnlyPlainJson(accept);
}

/** "application/json" and "*\/*" only: other media types need yoga's content negotiation. */
function acceptsOnlyPlainJson(accept: string): boolean {
  for (const part of accept.split(",")) {
    const type = part.split(";")[0]!.trim().toLowerCase();
    if (type !== "application/json" && type !== "*/*" && type !== "") return false;
  }
  return true;
}

function asParams(body: unknown): Params | undefined {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return undefined;
  const p = body as Record<string, unknown>;
  if (typeof p.query !== "string") return undefined;
  if (p.extensions !== undefined && p.extensions !== null) return undefined; // persisted queries etc.
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

/** yoga's result processor wants a fetch API; this Response just keeps what it is given. */
class CapturedResponse {
  readonly body: string;
  readonly init: { status?: number; headers?: Record<string, string> };
  constructor(body: string, init: { status?: number; headers?: Record<string, string> } = {}) {
    this.body = body;
    this.init = init;
  }
}
const CAPTURE_API = { Response: CapturedResponse } as never;

function send(res: ServerResponse, result: ExecutionResult): void {
  const out = processRegularResult(result as never, CAPTURE_API, "application/json") as unknown as
    | CapturedResponse
    | Promise<CapturedResponse>;
  if (!(out instanceof CapturedResponse)) throw new Error("unexpected asynchronous result processing");
  const headers = { ...out.init.headers, "content-length": String(Buffer.byteLength(out.body)) };
  res.writeHead(out.init.status ?? 200, headers).end(out.body);
}

/**
 * Answers the request if it can; false (having written nothing) hands it to yoga. `body` is
 * the whole request body, already read.
 */
export async function handleFast(
  yoga: YogaServerInstance<object, RequestContext>,
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
): Promise<boolean> {
  let params: Params | undefined;
  try {
    params = asParams(JSON.parse(body.toString("utf8")));
  } catch {
    return false;
  }
  if (!params) return false;
  const { parse, validate, contextFactory, execute, schema } = yoga.getEnveloped({ req, res, params });
  let document: DocumentNode;
  try {
    document = parse(params.query);
    const operation = getOperationAST(document, params.operationName ?? undefined);
    if (operation?.operation !== "query") return false;
    // Validation rules may also throw (graphql-armor's limits do).
    if (validate(schema, document).length > 0) return false;
  } catch {
    return false;
  }
  let contextValue: RequestContext;
  try {
    contextValue = (await contextFactory()) as unknown as RequestContext;
  } catch (err) {
    // e.g. UNAUTHENTICATED (401 through extensions.http), exactly as yoga answers it.
    if (err instanceof GraphQLError) {
      send(res, { errors: [err] });
      return true;
    }
    throw err;
  }
  let result: ExecutionResult;
  try {
    result = (await execute({
      schema,
      document,
      contextValue,
      variableValues: params.variables ?? undefined,
      operationName: params.operationName ?? undefined,
    })) as ExecutionResult;
  } catch (err) {
    // A plugin refused the operation before it ran (e.g. an access review that failed: 503),
    // answered as yoga answers it.
    if (err instanceof GraphQLError) result = { errors: [err] };
    else throw err;
  }
  send(res, result);
  return true;
}
