// What a subscriber receives: object events, and markers that frame them.
import type { KubeObject } from "../informers/types.ts";

export type ObjectEventType = "ADDED" | "MODIFIED" | "DELETED";

export type StreamEvent =
  | {
      type: ObjectEventType;
      object: KubeObject;
      /** MODIFIED only: the object before the change. */
      oldObject?: KubeObject;
      /** The stream position after this event; pass it back as resumeFrom to continue here. */
      resourceVersion: string;
      /** Replayed as part of an initial state (initial: true, or after RESYNC). */
      initial: boolean;
    }
  /** The initial state is complete; live events follow. */
  | { type: "SYNCED"; resourceVersion: string }
  /**
   * The subscriber's view may be wrong (it fell too far behind, or its resume point is no
   * longer in history): drop the view; the current state follows as ADDED, then SYNCED.
   */
  | { type: "RESYNC"; resourceVersion: string; reason: string };

/** Which objects a subscriber wants; evaluated against old and new states of each change. */
export type ObjectFilter = (obj: KubeObject) => boolean;

/** Whether an execution result is a stream (a subscription's) rather than one result. */
export function isAsyncIterable<T = unknown>(v: unknown): v is AsyncIterable<T> {
  return typeof (v as AsyncIterable<unknown>)?.[Symbol.asyncIterator] === "function";
}
