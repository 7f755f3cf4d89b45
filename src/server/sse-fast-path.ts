// Subscriptions over SSE straight onto node's response, for the request graphql-sse's client
// (and most SSE tools) send: POST /graphql, a JSON body {query, variables?, operationName?},
// Accept: text/event-stream, no Origin. yoga's fetch-API adapter keeps a Request, a Response, a
// ReadableStream piped into a node stream and their listeners alive for as long as a
// subscription is open (about 20 KB of heap per idle subscriber) and moves every event through
// them; this path runs the same envelop pipeline (parse and validation caches, armor limits,
// authentication, authorization, the subscription caps, shared results) and writes each event's
// frame, encoded once per shared result (subscriptions/sse-frames.ts), with one res.write.
//
// The framing is yoga's (graphql-sse's distinct-connections protocol). Everything else goes to
// yoga unchanged: browsers (an Origin header: CORS is yoga's), other Accept headers, GET,
// batches, extensions, queries, and documents that fail to parse or validate. A subscription
// refused before its stream starts (an error result) is answered by yoga's own SSE writer.
import type { IncomingMessage, ServerResponse } from "node:http";
import { type ExecutionResult, GraphQLError, OperationTypeNode } from "graphql";
import { getSSEProcessor, type YogaServerInstance } from "graphql-yoga";
import type { RequestContext } from "../resolvers/context.ts";
import { COMPLETE, frameOf, PING, pingIntervalMs } from "../subscriptions/sse-frames.ts";
import { isAsyncIterable } from "../subscriptions/types.ts";
import { executionArgs, prepareOperation } from "./fast-request.ts";

/** A result without a stream (an error), written as yoga writes it: its status, its frames. */
async function sendWithYoga(
  yoga: YogaServerInstance<object, RequestContext>,
  res: ServerResponse,
  result: ExecutionResult,
): Promise<void> {
  const response = (await getSSEProcessor()(result as never, yoga.fetchAPI, "text/event-stream")) as Response;
  res.writeHead(
    response.status,
    Object.fromEntries(response.headers as unknown as Iterable<[string, string]>),
  );
  if (response.body)
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) res.write(chunk);
  res.end();
}

/**
 * A stream's failure as the client sees it. yoga's error masking (envelop's onSubscribeError)
 * has already turned unexpected errors into "Unexpected error."; anything else that is not a
 * GraphQLError is masked here too, never written as it is.
 */
function streamError(yoga: YogaServerInstance<object, RequestContext>, err: unknown): GraphQLError {
  if (err instanceof GraphQLError) return err;
  yoga.logger.error(err);
  return new GraphQLError("Unexpected error.", { extensions: { code: "INTERNAL_SERVER_ERROR" } });
}

/** Writes the stream's events until it ends or the client goes away; backpressure pauses it. */
async function pipeStream(
  yoga: YogaServerInstance<object, RequestContext>,
  req: IncomingMessage,
  res: ServerResponse,
  stream: AsyncIterable<ExecutionResult>,
): Promise<void> {
  const iterator = stream[Symbol.asyncIterator]();
  let gone = false;
  let wake: (() => void) | undefined;
  const onGone = () => {
    gone = true;
    wake?.();
    // Ends the subscription (hub unsubscribe) even while it waits for its next event.
    void iterator.return?.()?.catch(() => {});
  };
  res.once("close", onGone);
  req.once("error", onGone);
  res.writeHead(200, {
    "Content-Type": "text/event-stream",
    Connection: "keep-alive",
    "Cache-Control": "no-cache",
    "Content-Encoding": "none",
  });
  res.write(PING);
  const ping = setInterval(() => {
    if (res.writableLength === 0) res.write(PING);
  }, pingIntervalMs());
  try {
    for (;;) {
      const r = await iterator.next();
      if (gone) return;
      if (r.value != null && !res.write(frameOf(r.value))) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          res.once("drain", resolve);
        });
        wake = undefined;
        if (gone) return;
      }
      if (r.done) {
        res.end(COMPLETE);
        return;
      }
    }
  } catch (err) {
    if (gone) return;
    // The stream failed (e.g. a revoked permission): as yoga does, the error (masked when
    // unexpected) is the last result, then the stream completes.
    const errors = [streamError(yoga, err)];
    res.write(frameOf({ errors } as ExecutionResult));
    res.end(COMPLETE);
  } finally {
    clearInterval(ping);
    res.off("close", onGone);
  }
}

/**
 * Answers the request if it can; false (having written nothing) hands it to yoga. `body` is
 * the whole request body, already read.
 */
export async function handleSseSubscription(
  yoga: YogaServerInstance<object, RequestContext>,
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
): Promise<boolean> {
  const prepared = prepareOperation(yoga, req, res, body, OperationTypeNode.SUBSCRIPTION);
  if (!prepared) return false;
  const { params, document, enveloped } = prepared;
  let result: ExecutionResult | AsyncIterable<ExecutionResult>;
  try {
    const contextValue = await enveloped.contextFactory();
    result = (await enveloped.subscribe(executionArgs(enveloped, params, document, contextValue))) as
      | ExecutionResult
      | AsyncIterable<ExecutionResult>;
  } catch (err) {
    // e.g. UNAUTHENTICATED (401 through extensions.http), answered as yoga answers it.
    if (err instanceof GraphQLError) result = { errors: [err] };
    else throw err;
  }
  if (isAsyncIterable<ExecutionResult>(result)) await pipeStream(yoga, req, res, result);
  else await sendWithYoga(yoga, res, result);
  return true;
}
