// Talking to kgql from the page: queries over HTTP (fetch), subscriptions over one WebSocket
// (graphql-ws multiplexes every kind's stream on it; SSE would take one of the browser's six
// HTTP/1.1 connections per stream). The caller's token, when kgql runs with --auth kubernetes,
// is kept for the tab only (sessionStorage) and sent on both.
import { type Client, createClient } from "graphql-ws";

const TOKEN_KEY = "kgql-token";

export const getToken = (): string | null => sessionStorage.getItem(TOKEN_KEY);
export const setToken = (token: string | null): void => {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
};

/** kgql said the caller is not authenticated (HTTP 401): no token, or one it rejected. */
export class AuthError extends Error {}

export interface GqlError {
  message: string;
  extensions?: { code?: string };
}

/** A GraphQL answer with errors: the first error's message, the code kept for callers. */
export class QueryError extends Error {
  readonly code: string | undefined;
  constructor(errors: GqlError[]) {
    super(errors.map((e) => e.message).join("; "));
    this.code = errors[0]?.extensions?.code;
  }
}

/**
 * The cluster the page shows (null: the gateway's default). Every query and stream of the page
 * declares `$cluster`, and gql() always sends it, so switching clusters is one assignment.
 */
let cluster: string | null = null;
export const getCluster = (): string | null => cluster;
export const setCluster = (name: string | null): void => {
  cluster = name;
};

export const graphqlUrl = (): string => new URL("/graphql", location.href).toString();

export async function gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const token = getToken();
  const res = await fetch(graphqlUrl(), {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/json",
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables: { cluster, ...variables } }),
  });
  const body = (await res.json().catch(() => ({}))) as { data?: T; errors?: GqlError[] };
  if (res.status === 401) throw new AuthError(body.errors?.[0]?.message ?? "authentication required");
  if (body.errors?.length && !body.data) throw new QueryError(body.errors);
  if (!body.data) throw new Error(`kgql answered HTTP ${res.status} without data`);
  return body.data;
}

/**
 * The WebSocket client. Retries are the streams' job (streams.ts): graphql-ws would resubscribe
 * with the original variables, i.e. `initial: true`, where a stream resumes from its last
 * resourceVersion instead.
 */
export function wsClient(onState: (connected: boolean) => void): Client {
  const url = graphqlUrl().replace(/^http/, "ws");
  const client = createClient({
    url,
    lazy: true,
    retryAttempts: 0,
    keepAlive: 10_000,
    connectionParams: () => {
      const token = getToken();
      return token ? { authorization: `Bearer ${token}` } : {};
    },
  });
  client.on("connected", () => onState(true));
  client.on("closed", () => onState(false));
  return client;
}
