// Subscriptions over SSE with each shared event's frame encoded once.
//
// graphql-yoga's SSE writer stringifies and UTF-8-encodes every event for every subscriber, in
// two chunks ("event: next" and "data: ..."). For results shared between subscribers
// (shared-results.ts) the whole frame, `event: next\ndata: <json>\n\n` as bytes, is built once
// and the same bytes are queued on every subscriber's response: per subscriber only the write
// remains. The framing is yoga's (graphql-sse's "distinct connections" protocol): a first ":"
// comment so that browsers flush the headers, a ":" keep-alive every 12 s, `event: complete`
// at the end.
import type { ExecutionResult } from "graphql";
import type { Plugin } from "graphql-yoga";
import { isAsyncIterable } from "./types.ts";

/**
 * Shared results, with their frame once built (collected with the result): the frame is the
 * only serialized form kept, and only results that some SSE subscriber was sent have one.
 */
const frames = new WeakMap<ExecutionResult, Uint8Array | undefined>();
const encoder = new TextEncoder();
export const PING = encoder.encode(":\n\n");
export const COMPLETE = encoder.encode("event: complete\ndata:\n\n");

/** Marks a result as shared between subscribers: its frame is built once, on first use. */
export function markShared(result: ExecutionResult): void {
  if (!frames.has(result)) frames.set(result, undefined);
}

/**
 * What a client may see of a result: error extensions yoga uses internally (http status and
 * headers, the unexpected-error flag) are left out, as yoga's own writer does.
 */
function publicResult(result: ExecutionResult): unknown {
  if (!result.errors?.length && !result.extensions?.http) return result;
  const { http: _h, ...extensions } = (result.extensions ?? {}) as Record<string, unknown>;
  return {
    ...result,
    errors: result.errors?.map((err) => {
      const json = (typeof err.toJSON === "function" ? err.toJSON() : err) as {
        extensions?: Record<string, unknown>;
      };
      const { http: _http, unexpected: _u, ...ext } = json.extensions ?? {};
      return { ...json, extensions: Object.keys(ext).length ? ext : undefined };
    }),
    extensions: Object.keys(extensions).length ? extensions : undefined,
  };
}

/** A result's SSE frame (`event: next`, its JSON as data); a shared result's is kept. */
export function frameOf(result: ExecutionResult): Uint8Array {
  let frame = frames.get(result);
  if (frame) return frame;
  frame = encoder.encode(`event: next\ndata: ${JSON.stringify(publicResult(result))}\n\n`);
  if (frames.has(result)) frames.set(result, frame);
  return frame;
}

export const pingIntervalMs = () => (process.env.NODE_ENV === "test" ? 300 : 12_000);

type FetchAPI = { ReadableStream: typeof ReadableStream; Response: typeof Response };

/** yoga's SSE response for a subscription's result stream, with frames from frameOf. */
export function sseResponse(result: AsyncIterable<ExecutionResult>, fetchAPI: FetchAPI): Response {
  let iterator: AsyncIterator<ExecutionResult>;
  let ping: NodeJS.Timeout | undefined;
  const body = new fetchAPI.ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(PING);
      ping = setInterval(() => {
        // null: errored; 0: backpressure or closed (not terminal)
        if (controller.desiredSize === null) clearInterval(ping);
        else if (controller.desiredSize > 0) controller.enqueue(PING);
      }, pingIntervalMs());
      iterator = result[Symbol.asyncIterator]();
    },
    pull(controller) {
      return iterator.next().then(
        (r) => {
          if (r.value != null) controller.enqueue(frameOf(r.value));
          if (r.done) {
            controller.enqueue(COMPLETE);
            clearInterval(ping);
            controller.close();
          }
        },
        (err) => controller.error(err),
      );
    },
    async cancel(reason) {
      clearInterval(ping);
      await iterator?.return?.(reason);
    },
  });
  return new fetchAPI.Response(body as never, {
    status: 200,
    headers: {
      "Content-Type": "text/event-stream",
      Connection: "keep-alive",
      "Cache-Control": "no-cache",
      "Content-Encoding": "none",
    },
  });
}

/**
 * Replaces yoga's SSE writer for subscription streams only, and only where yoga chose SSE:
 * a subscription's stream has no other writer (yoga offers subscriptions SSE or nothing), so
 * any writer chosen for it is SSE's. Other results are left to yoga.
 */
export function useSharedSseFrames(): Plugin {
  const subscriptions = new WeakSet<object>();
  return {
    onSubscribe({ args }) {
      const request = (args.contextValue as { request?: object }).request;
      if (request) subscriptions.add(request);
    },
    onResultProcess({ request, result, resultProcessor, setResultProcessor }) {
      if (!resultProcessor || !subscriptions.has(request) || !isAsyncIterable<ExecutionResult>(result))
        return;
      setResultProcessor(
        (r, fetchAPI) => sseResponse(r as AsyncIterable<ExecutionResult>, fetchAPI as FetchAPI),
        "text/event-stream",
      );
    },
  };
}
