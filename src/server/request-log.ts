// Request ids and the per-request log line. Every HTTP request gets an id (the caller's
// X-Request-Id when it is a sane token, so a portal can follow its own id through; a random
// UUID otherwise), returned in the X-Request-Id response header and logged with one line when
// the response ends: method, path, status, duration, GraphQL operation, user, error codes.
// Unexpected errors (masked as "Unexpected error." to the caller) are logged with the same id.
//
// The HTTP layer starts a record per request; the GraphQL layer (both the fast path and yoga
// hand node's `req` into the envelop context) finds it by `req` and fills in what only it
// knows: the operation, the authenticated user, the errors.
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { type ExecutionResult, GraphQLError } from "graphql";
import type { Plugin } from "graphql-yoga";
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

function noteErrors(record: RequestRecord | undefined, result: ExecutionResult, log: Logger) {
  if (!result.errors?.length) return;
  const codes = new Set(record?.errors);
  for (const err of result.errors) {
    const code = err.extensions?.code;
    const cause = err.originalError;
    if (cause && !(cause instanceof GraphQLError)) {
      // A resolver threw something other than a GraphQLError: a bug, masked for the caller.
      codes.add("INTERNAL");
      log.warn(
        { reqId: record?.id, operation: record?.operation, err: String(cause), stack: cause.stack },
        "unexpected error in a GraphQL request",
      );
    } else codes.add(typeof code === "string" ? code : "GRAPHQL_ERROR"); // e.g. a variable of the wrong type
  }
  if (record) record.errors = [...codes];
}

/** Fills the request record with the operation and the errors, and logs unexpected ones. */
export function useRequestLog(log: Logger): Plugin {
  return {
    onExecute({ args }) {
      const record = recordOf(args.contextValue);
      if (record) record.operation = operationLabel(args.document, args.operationName);
      return {
        onExecuteDone({ result }) {
          if (Symbol.asyncIterator in (result as object)) return;
          noteErrors(record, result as ExecutionResult, log);
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
        if (record && result.length)
          record.errors = [...new Set([...(record.errors ?? []), "GRAPHQL_VALIDATION_FAILED"])];
      };
    },
  };
}
