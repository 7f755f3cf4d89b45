// Request ids and the per-request log line. Every HTTP request gets an id (the caller's
// X-Request-Id when it is a sane token, so a portal can follow its own id through; a random
// UUID otherwise), returned in the X-Request-Id response header and logged with one line when
// the response ends: method, path, status, duration, GraphQL operation, user, error codes.
// Unexpected errors (masked as "Unexpected error." to the caller) are logged with the same id.
//
// The HTTP layer starts a record per request; the GraphQL layer (both the fast path and yoga
// hand node's `req` into the envelop context) finds it by `req` and fills in what only it
// knows: the operation, the authenticated user, the errors. Error masking sees no request: the
// HTTP layer runs each request in its record's async context (runInRequest), where yoga's
// maskError (loggedMaskedErrors) finds it.
import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { type ExecutionResult, GraphQLError } from "graphql";
import { type MaskError, maskError, type Plugin } from "graphql-yoga";
import { operationLabel } from "./operation.ts";

export interface Logger {
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
  debug(fields: object, msg: string): void;
}

export interface RequestRecord {
  id: string;
  operation?: string;
  user?: string;
  /** extensions.code of each error answered (deduplicated). */
  errors?: string[];
}

const SANE_ID = /^[A-Za-z0-9._:/+=@-]{1,128}$/;

/** The caller's id when it is a short printable token (it goes into logs), else a new one. */
export function requestIdFrom(header: string | string[] | undefined): string {
  const given = Array.isArray(header) ? header[0] : header;
  return given && SANE_ID.test(given) ? given : randomUUID();
}

const records = new WeakMap<IncomingMessage, RequestRecord>();

export function startRecord(req: IncomingMessage): RequestRecord {
  const record = { id: requestIdFrom(req.headers["x-request-id"]) };
  records.set(req, record);
  return record;
}

/** The record of the HTTP request behind an envelop context (fast path, yoga, WebSocket upgrade). */
export function recordOf(initial: unknown): RequestRecord | undefined {
  const req = (initial as { req?: unknown } | undefined)?.req;
  return req && typeof req === "object" ? records.get(req as IncomingMessage) : undefined;
}

/**
 * The request being served, and the operation when the record is shared by several (a
 * WebSocket connection's operations share its record; its `operation` is whichever started last).
 */
const current = new AsyncLocalStorage<{ record: RequestRecord; operation?: string }>();

/** Runs `fn` (and what it starts) as part of the request of `record`, for loggedMaskedErrors. */
export function runInRequest<T>(record: RequestRecord | undefined, fn: () => T, operation?: string): T {
  return record ? current.run({ record, operation }, fn) : fn();
}

/**
 * `stream` with each of its steps run in the request of `record`: a stream's consumer (graphql-ws)
 * pulls its events from outside the request.
 */
export function streamInRequest<T>(
  record: RequestRecord | undefined,
  stream: AsyncIterable<T>,
  operation?: string,
): AsyncIterable<T> {
  if (!record) return stream;
  const store = { record, operation };
  const it = stream[Symbol.asyncIterator]();
  const done = (value?: unknown) => Promise.resolve({ done: true, value } as IteratorResult<T>);
  const wrapped: AsyncIterableIterator<T> = {
    [Symbol.asyncIterator]: () => wrapped,
    next: (...args) => current.run(store, () => it.next(...args)),
    return: (value) => current.run(store, () => (it.return ? it.return(value) : done(value))),
    throw: (err) => current.run(store, () => (it.throw ? it.throw(err) : Promise.reject(err as Error))),
  };
  return wrapped;
}

/** Adds an error code to the request's log line (once), when there is a request record. */
export function addCode(record: RequestRecord | undefined, code: string): void {
  if (record && !record.errors?.includes(code)) record.errors = [...(record.errors ?? []), code];
}

/** What was thrown: the first error down the originalError chain that is not a GraphQLError. */
function thrown(error: unknown): unknown {
  let cause = error;
  while (cause instanceof GraphQLError && cause.originalError) cause = cause.originalError;
  return cause;
}

/**
 * yoga's maskedErrors option: masks as yoga does, and logs each error it masks (a bug, that the
 * caller sees as "Unexpected error.") with one warn line: the request id, the operation, and
 * what was thrown with its stack. Every masking goes through here: errors of resolvers, of the
 * context (authentication), of subscription streams, and of yoga's own request handling.
 */
export function loggedMaskedErrors(log: Logger): { maskError: MaskError } {
  return {
    maskError(error, message, isDev) {
      const masked = maskError(error, message, isDev);
      if (masked !== error) {
        const store = current.getStore();
        const record = store?.record;
        addCode(record, "INTERNAL");
        const cause = thrown(error);
        log.warn(
          {
            reqId: record?.id,
            operation: store?.operation ?? record?.operation,
            err: String(cause),
            stack: (cause as Error | undefined)?.stack,
          },
          "unexpected error in a GraphQL request",
        );
      }
      return masked;
    },
  };
}

function noteErrors(record: RequestRecord | undefined, result: ExecutionResult) {
  if (!result.errors?.length || !record) return;
  const codes = new Set(record.errors);
  for (const err of result.errors) {
    const code = err.extensions?.code;
    const cause = err.originalError;
    // A resolver threw something other than a GraphQLError: a bug, masked for the caller (and
    // logged by loggedMaskedErrors).
    if (cause && !(cause instanceof GraphQLError)) codes.add("INTERNAL");
    else codes.add(typeof code === "string" ? code : "GRAPHQL_ERROR"); // e.g. a variable of the wrong type
  }
  record.errors = [...codes];
}

/**
 * Fills the request record with the operation and the errors (the logging of unexpected ones
 * is loggedMaskedErrors's).
 */
export function useRequestLog(): Plugin {
  return {
    onExecute({ args }) {
      const record = recordOf(args.contextValue);
      if (record) record.operation = operationLabel(args.document, args.operationName);
      return {
        onExecuteDone({ result }) {
          if (Symbol.asyncIterator in (result as object)) return;
          noteErrors(record, result as ExecutionResult);
        },
      };
    },
    onSubscribe({ args }) {
      const record = recordOf(args.contextValue);
      if (record) record.operation = operationLabel(args.document, args.operationName);
    },
    onValidate({ context }) {
      const record = recordOf(context);
      return ({ result }) => {
        if (result.length) addCode(record, "GRAPHQL_VALIDATION_FAILED");
      };
    },
  };
}
