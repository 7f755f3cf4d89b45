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
import { type ExecutionResult, GraphQLError, OperationTypeNode } from "graphql";
import { processRegularResult, type YogaServerInstance } from "graphql-yoga";
import type { RequestContext } from "../resolvers/context.ts";
import { executionArgs, prepareOperation } from "./fast-request.ts";

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
  const prepared = prepareOperation(yoga, req, res, body, OperationTypeNode.QUERY);
  if (!prepared) return false;
  const { params, document, enveloped } = prepared;
  let contextValue: unknown;
  try {
    contextValue = await enveloped.contextFactory();
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
    result = (await enveloped.execute(
      executionArgs(enveloped, params, document, contextValue),
    )) as ExecutionResult;
  } catch (err) {
    // A plugin refused the operation before it ran (e.g. an access review that failed: 503),
    // answered as yoga answers it.
    if (err instanceof GraphQLError) result = { errors: [err] };
    else throw err;
  }
  send(res, result);
  return true;
}
