// A subscription asked for in a media type that cannot carry its events (Accept:
// application/json, or multipart/mixed, which yoga does not use for subscriptions): yoga had
// already started the subscription when it found no way to send it, answered 406 with an empty
// body, and left the stream open, a hub subscriber that nothing would ever end. Here the stream
// is ended and the 406 says what to send instead.
import { GraphQLError } from "graphql";
import { type Plugin, processRegularResult } from "graphql-yoga";
import { isAsyncIterable } from "../subscriptions/types.ts";

/** Ends the stream: its return() unsubscribes (a generator's own, else a fresh iterator's). */
function endStream(stream: AsyncIterable<unknown>): void {
  const withReturn = stream as Partial<AsyncGenerator<unknown>>;
  const iterator = typeof withReturn.return === "function" ? withReturn : stream[Symbol.asyncIterator]();
  void iterator.return?.(undefined)?.catch(() => {});
}

/** A yoga plugin: must come after yoga's result processors (user plugins do), whose choice it sees. */
export function useUnacceptedStreams(): Plugin {
  return {
    onResultProcess({ request, result, resultProcessor, setResult, setResultProcessor }) {
      if (resultProcessor || !isAsyncIterable(result)) return;
      endStream(result);
      const accept = request.headers.get("accept");
      setResult({
        errors: [
          new GraphQLError(
            `a subscription's events are sent as text/event-stream: send Accept: text/event-stream (or subscribe over WebSocket); this request accepts ${accept ? `only "${accept}"` : "nothing"}`,
            { extensions: { code: "BAD_REQUEST", http: { status: 406 } } },
          ),
        ],
      });
      setResultProcessor(processRegularResult, "application/json");
    },
  };
}
