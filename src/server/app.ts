// The graphql-yoga app: schema from SDL + generated resolvers, JIT execution, cache plugins.
import { EnvelopArmorPlugin } from "@escape.tech/graphql-armor";
import {
  type ASTVisitor,
  type ExecutionResult,
  GraphQLError,
  Kind,
  NoSchemaIntrospectionCustomRule,
  type ValidationContext,
} from "graphql";
import { createYoga, type Plugin, type YogaServerInstance } from "graphql-yoga";
import type { AccessReviewer } from "../auth/access-reviewer.ts";
import type { TokenAuthenticator } from "../auth/authenticator.ts";
import type { ClusterRegistry } from "../clusters/registry.ts";
import { RequestContext, SEE_EVERYTHING, SEE_NOTHING } from "../resolvers/context.ts";
import { exceededLimit, limitExceeded } from "../resolvers/errors.ts";
import type { Gateway } from "../resolvers/gateway.ts";
import { buildSchema } from "../resolvers/index.ts";
import { useSharedSubscriptionResults } from "../subscriptions/shared-results.ts";
import type { TypedResources } from "../typed/registry.ts";
import {
  AUTHORIZATION_HEADER,
  authenticate,
  authorizationOf,
  type ClusterAuth,
  ON_AUTHENTICATED,
  useFleetAuthorization,
  useKubernetesAuthorization,
} from "./auth-plugin.ts";
import { useBigQueryLane } from "./big-query-lane.ts";
import { DEFAULT_MAX_COST, useCostLimit } from "./cost.ts";
import { DEFAULT_REQUEST_TIMEOUT_MS, deadlineFrom } from "./deadline.ts";
import type { Metrics } from "./metrics.ts";
import { operationLabel } from "./operation.ts";
import { useCacheExtensions, useCacheSync, useExecutionDeadline } from "./plugins.ts";
import { type Logger, loggedMaskedErrors, recordOf, useRequestLog } from "./request-log.ts";
import { useRequestParseErrors } from "./request-parse.ts";
import {
  useGraphQlJitPerSchema,
  useRemovedFieldErrors,
  useSchemaReload,
  useTypedResourceAccess,
} from "./typed-resources.ts";
import { useUnacceptedStreams } from "./unaccepted-stream.ts";
import { useVariableCoercionErrors } from "./variables.ts";

export const MAX_DEPTH = 12;
export const MAX_ALIASES = 30;
export const MAX_TOKENS = 5000;
export const MAX_DIRECTIVES = 50;

/**
 * One graphql-armor limit, whose rejection is kgql's LIMIT_EXCEEDED error (armor's own says
 * "Syntax Error: ..." and has no code). Depth, aliases and directives are validation rules:
 * the error is reported as a validation error. The token limit runs while parsing, without a
 * validation context: the error is thrown, as armor would throw its own.
 */
function armorLimit(limit: string, max: number, what: (found: string) => string, advice: string) {
  return {
    n: max,
    propagateOnRejection: false,
    onReject: [
      (context: ValidationContext | null, armorError: GraphQLError) => {
        // armor says how much it found only in its message ("..., found 15.").
        const found = /found (\d+)/.exec(armorError.message)?.[1] ?? "more";
        const error = limitExceeded(`${what(found)} the limit of ${max} (${limit}); ${advice}`, limit, max);
        if (!context) throw error;
        context.reportError(error);
      },
    ],
  };
}

export interface AppOptions {
  graphiql?: boolean;
  /** Answer introspection queries (default true). */
  introspection?: boolean;
  /** --auth kubernetes: authenticate callers and filter by their RBAC. */
  auth?: {
    authenticator: TokenAuthenticator;
    reviewer: AccessReviewer;
    /** With several clusters: each cluster's own reviewers, by name (the default's are the above). */
    clusters?: ReadonlyMap<string, ClusterAuth>;
  };
  metrics?: Metrics;
  extraPlugins?: Plugin[];
  /**
   * Browser origins allowed to call the API cross-origin (CORS). None by default: a page on
   * another site must not read the cluster through a gateway on the user's machine.
   */
  corsOrigins?: string[];
  /** Queries whose estimated cost (objects resolved, from the cache sizes) exceeds this are refused. */
  maxCost?: number;
  /** Each request is answered within this (ms), whatever it waits for. */
  requestTimeoutMs?: number;
  /** Unexpected errors, with the request id. */
  log?: Logger;
  /** Execution time (ms) from which a query document takes turns with other big ones. */
  bigQueryMs?: number;
  /** Every cluster served, `gateway`'s (the default) first; without it, only `gateway`'s. */
  clusters?: ClusterRegistry;
  /** Serve mutations (--enable-mutations), each written to `log` as an audit line. */
  mutations?: boolean;
  /** Typed resources (--resources): their types are in the schema, which follows their changes. */
  typed?: TypedResources;
}

/**
 * graphql-js validation accepts an operation whose root type the schema lacks (it only fails at
 * execution, here as a 500): without --enable-mutations kgql has no mutations, so say so during
 * validation.
 */
const KnownOperationTypes = (context: ValidationContext): ASTVisitor => ({
  OperationDefinition(node) {
    const schema = context.getSchema();
    const root =
      node.operation === "query"
        ? schema.getQueryType()
        : node.operation === "mutation"
          ? schema.getMutationType()
          : schema.getSubscriptionType();
    if (!root) {
      const message =
        node.operation === "mutation"
          ? "kgql has no mutations unless started with --enable-mutations (KGQL_ENABLE_MUTATIONS=true); without it, it serves cached cluster state read-only"
          : `kgql has no ${node.operation}s: it serves cached cluster state read-only; send a query (or a subscription)`;
      context.reportError(new GraphQLError(message, { nodes: node }));
    }
  },
});

function useKnownOperationTypes(): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(KnownOperationTypes);
    },
  };
}

/** Rejects introspection (--disable-introspection) with graphql's own validation rule. */
function useNoIntrospection(): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };
}

/** Distinct operation names kept as metric labels; later ones count as "other". */
const MAX_OPERATION_LABELS = 200;

function useRequestMetrics(metrics: Metrics): Plugin {
  // Operation names come from clients: bounded, so that made-up names cannot grow /metrics.
  const labels = new Set<string>();
  const countRefusals = (result: unknown) => {
    for (const err of (result as ExecutionResult).errors ?? []) {
      const limit = exceededLimit(err);
      if (limit) metrics.limitRejections.inc({ limit });
    }
  };
  return {
    onExecute({ args }) {
      let name = operationLabel(args.document, args.operationName);
      if (!labels.has(name)) {
        if (labels.size < MAX_OPERATION_LABELS) labels.add(name);
        else name = "other";
      }
      const end = metrics.requestDuration.startTimer({ operation: name });
      return {
        onExecuteDone: ({ result }) => {
          end();
          countRefusals(result);
        },
      };
    },
    // A subscription refused before its stream starts (maxCost, maxSubscriptions) is a result
    // with errors instead of a stream.
    onSubscribe() {
      return {
        onSubscribeResult: ({ result }) => {
          if (!(Symbol.asyncIterator in (result as object))) countRefusals(result);
        },
      };
    },
  };
}

export function createApp(
  gateway: Gateway,
  opts: AppOptions = {},
): YogaServerInstance<object, RequestContext> {
  const schemaOptions = { mutations: opts.mutations ? { audit: opts.log } : undefined };
  const schema = buildSchema({ ...schemaOptions, typed: opts.typed?.current() });
  // --auth kubernetes with several clusters: each reviews the caller for itself.
  const fleetAuth = opts.auth?.clusters && opts.auth.clusters.size > 1 ? opts.auth.clusters : undefined;
  // Plain JSON queries from non-browser clients skip yoga's fetch layer (server/fast-path.ts):
  // they run every envelop hook below (parse, validate, context, execute), but not yoga's
  // request-level hooks (onRequest, onRequestParse, onParams, onResponse). Put per-operation
  // logic in envelop hooks.
  const plugins: Plugin[] = [
    // Queries run JIT-compiled; subscriptions use graphql-js, whose subscribe() passes field
    // arguments to subscribe resolvers (graphql-jit's compiled subscribe did not).
    // Compiled per schema: the schema changes with the typed resources (--resources).
    useGraphQlJitPerSchema(
      {},
      {
        enableIf: (args) =>
          !args.document.definitions.some(
            (d) => d.kind === Kind.OPERATION_DEFINITION && d.operation === "subscription",
          ),
      },
    ),
    ...(opts.typed
      ? [
          useSchemaReload(opts.typed, (next) => buildSchema({ ...schemaOptions, typed: next })),
          useRemovedFieldErrors(opts.typed),
        ]
      : []),
    // Static limits on the document (graphql-armor): depth, aliases, tokens. Each rejection is a
    // LIMIT_EXCEEDED error naming the limit and its value (armorLimit).
    EnvelopArmorPlugin({
      maxDepth: armorLimit(
        "maxDepth",
        MAX_DEPTH,
        (found) => `query too deep: its depth of ${found} exceeds`,
        "select fewer nested fields, or split the query",
      ),
      maxAliases: armorLimit(
        "maxAliases",
        MAX_ALIASES,
        (found) => `too many aliases: ${found} exceed`,
        "split the query",
      ),
      maxTokens: armorLimit(
        "maxTokens",
        MAX_TOKENS,
        () => "query too long: its tokens exceed",
        "split the query, or pass values as variables",
      ),
      maxDirectives: armorLimit(
        "maxDirectives",
        MAX_DIRECTIVES,
        (found) => `too many directives: ${found} exceed`,
        "split the query",
      ),
      costLimit: { enabled: false },
      blockFieldSuggestion: { enabled: false },
    }) as Plugin,
    useKnownOperationTypes(),
    // Subscription events: executed and serialized once per distinct operation and visibility.
    useSharedSubscriptionResults(),
    ...(opts.introspection === false ? [useNoIntrospection()] : []),
    // Only a logger reads what it records (the request lines, unexpected errors).
    ...(opts.log ? [useRequestLog()] : []),
    // GET and form parameters that are not valid JSON, unsupported content types: 400 and 415
    // errors that say why (yoga's request parsing; the fast paths take neither).
    useRequestParseErrors(),
    // A subscription whose events the request accepts in no media type: a 406 that says why,
    // and the stream yoga had started ended (yoga's own processors come first).
    useUnacceptedStreams(),
    // Before the waits and limits below: durations include them, refusals are counted.
    ...(opts.metrics ? [useRequestMetrics(opts.metrics)] : []),
    // A request that failed without data is checked for variables that do not fit, for
    // graphql-js's messages (graphql-jit's name the wrong variable).
    useVariableCoercionErrors(),
    useExecutionDeadline(),
    useCacheSync(gateway, opts.clusters),
    useCacheExtensions(gateway, opts.clusters),
    ...(opts.auth
      ? [
          fleetAuth && opts.clusters
            ? useFleetAuthorization(opts.clusters, fleetAuth)
            : useKubernetesAuthorization(gateway, opts.auth.reviewer),
        ]
      : []),
    // After authorization (decides the caller's access to them), before the cost limit (sizes them).
    ...(opts.typed ? [useTypedResourceAccess()] : []),
    // After the sync wait (the sizes are known) and authorization (sized by what the caller sees).
    useCostLimit(gateway, opts.maxCost ?? DEFAULT_MAX_COST, opts.clusters),
    ...(opts.extraPlugins ?? []),
    // Last: it wraps the execute function the plugins above settled on.
    useBigQueryLane({ bigMs: opts.bigQueryMs }),
  ];
  return createYoga<object, RequestContext>({
    schema,
    graphqlEndpoint: "/graphql",
    graphiql: opts.graphiql ?? true,
    cors: opts.corsOrigins?.length ? { origin: opts.corsOrigins, credentials: false } : false,
    landingPage: false,
    plugins,
    // Masked as yoga masks them; with a logger, each one is logged with the request id.
    ...(opts.log ? { maskedErrors: loggedMaskedErrors(opts.log) } : {}),
    context: async (initial) => {
      const deadline = deadlineFrom(opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
      // With --auth, nothing is visible until the authorization plugin decides what is.
      const ctx = new RequestContext(
        gateway,
        opts.auth ? SEE_NOTHING : SEE_EVERYTHING,
        deadline,
        opts.clusters,
      );
      // Authentication happens before anything else; authorization needs the operation, so it
      // runs in the plugin just before execution.
      if (opts.auth && fleetAuth) {
        // Each cluster reviews the token when the operation reads it (useFleetAuthorization): a
        // cluster that is down must not hold up the others. Only its form is checked here.
        const authorization = authorizationOf(initial as never);
        if (!/^Bearer\s+\S+\s*$/i.test(authorization ?? ""))
          await authenticate(opts.auth.authenticator, authorization, deadline); // throws the 401
        const record = recordOf(initial);
        Object.assign(ctx, {
          [AUTHORIZATION_HEADER]: authorization,
          // The request line names the user as the first cluster that authenticated it did.
          [ON_AUTHENTICATED]: (username: string) => {
            if (record) record.user ??= username;
          },
        });
      } else if (opts.auth) {
        const { authenticator } = opts.auth;
        const authorization = authorizationOf(initial as never);
        const user = await authenticate(authenticator, authorization, deadline);
        Object.assign(ctx, { user });
        // A subscription outlives its request: its re-checks ask again whether the token is
        // still valid (expired, revoked, its service account deleted), not only what it may see.
        ctx.access.reauthenticate = () => authenticate(authenticator, authorization);
        const record = recordOf(initial);
        if (record) record.user = user.username;
      }
      return ctx;
    },
    logging: false,
  });
}
