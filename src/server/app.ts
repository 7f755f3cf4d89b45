// The graphql-yoga app: schema from SDL + generated resolvers, JIT execution, cache plugins.
import { useGraphQlJit } from "@envelop/graphql-jit";
import { EnvelopArmorPlugin } from "@escape.tech/graphql-armor";
import {
  type ASTVisitor,
  GraphQLError,
  getOperationAST,
  Kind,
  NoSchemaIntrospectionCustomRule,
  type ValidationContext,
} from "graphql";
import { createYoga, type Plugin, type YogaServerInstance } from "graphql-yoga";
import type { AccessReviewer } from "../auth/access-reviewer.ts";
import type { TokenAuthenticator } from "../auth/authenticator.ts";
import { RequestContext } from "../resolvers/context.ts";
import type { Gateway } from "../resolvers/gateway.ts";
import { buildSchema } from "../resolvers/index.ts";
import { authenticate, useKubernetesAuthorization } from "./auth-plugin.ts";
import type { Metrics } from "./metrics.ts";
import { useCacheExtensions, useCacheSync } from "./plugins.ts";

export const MAX_DEPTH = 12;
export const MAX_ALIASES = 30;
export const MAX_TOKENS = 5000;

export interface AppOptions {
  graphiql?: boolean;
  /** Answer introspection queries (default true). */
  introspection?: boolean;
  /** --auth kubernetes: authenticate callers and filter by their RBAC. */
  auth?: { authenticator: TokenAuthenticator; reviewer: AccessReviewer };
  metrics?: Metrics;
  extraPlugins?: Plugin[];
  /**
   * Browser origins allowed to call the API cross-origin (CORS). None by default: a page on
   * another site must not read the cluster through a gateway on the user's machine.
   */
  corsOrigins?: string[];
}

/**
 * graphql-js validation accepts an operation whose root type the schema lacks (it only fails at
 * execution, here as a 500): kgql has no mutations, so say so during validation.
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
      context.reportError(
        new GraphQLError(
          `kgql has no ${node.operation}s: it serves cached cluster state read-only; send a query (or a subscription)`,
          { nodes: node },
        ),
      );
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
  return {
    onExecute({ args }) {
      // The operation's own name: clients often send named queries without operationName.
      let name = getOperationAST(args.document, args.operationName)?.name?.value ?? "anonymous";
      if (!labels.has(name)) {
        if (labels.size < MAX_OPERATION_LABELS) labels.add(name);
        else name = "other";
      }
      const end = metrics.requestDuration.startTimer({ operation: name });
      return { onExecuteDone: () => void end() };
    },
  };
}

export function createApp(
  gateway: Gateway,
  opts: AppOptions = {},
): YogaServerInstance<object, RequestContext> {
  const schema = buildSchema();
  // Plain JSON queries from non-browser clients skip yoga's fetch layer (server/fast-path.ts):
  // they run every envelop hook below (parse, validate, context, execute), but not yoga's
  // request-level hooks (onRequest, onRequestParse, onParams, onResponse). Put per-operation
  // logic in envelop hooks.
  const plugins: Plugin[] = [
    // Queries run JIT-compiled; subscriptions use graphql-js, whose subscribe() passes field
    // arguments to subscribe resolvers (graphql-jit's compiled subscribe did not).
    useGraphQlJit(
      {},
      {
        enableIf: (args) =>
          !args.document.definitions.some(
            (d) => d.kind === Kind.OPERATION_DEFINITION && d.operation === "subscription",
          ),
      },
    ) as Plugin,
    // Static limits on the document (graphql-armor): depth, aliases, tokens. Each rejection is a
    // GraphQL error naming the limit and its value.
    EnvelopArmorPlugin({
      maxDepth: { n: MAX_DEPTH },
      maxAliases: { n: MAX_ALIASES },
      maxTokens: { n: MAX_TOKENS },
      maxDirectives: { n: 50 },
      costLimit: { enabled: false },
      blockFieldSuggestion: { enabled: false },
    }) as Plugin,
    useKnownOperationTypes(),
    ...(opts.introspection === false ? [useNoIntrospection()] : []),
    useCacheSync(gateway),
    useCacheExtensions(gateway),
    ...(opts.auth ? [useKubernetesAuthorization(gateway, opts.auth.reviewer)] : []),
    ...(opts.metrics ? [useRequestMetrics(opts.metrics)] : []),
    ...(opts.extraPlugins ?? []),
  ];
  return createYoga<object, RequestContext>({
    schema,
    graphqlEndpoint: "/graphql",
    graphiql: opts.graphiql ?? true,
    cors: opts.corsOrigins?.length ? { origin: opts.corsOrigins, credentials: false } : false,
    landingPage: false,
    plugins,
    context: async (initial) => {
      const ctx = new RequestContext(gateway);
      // Authentication happens before anything else; authorization needs the operation, so it
      // runs in the plugin just before execution.
      if (opts.auth)
        Object.assign(ctx, { user: await authenticate(opts.auth.authenticator, initial as never) });
      return ctx;
    },
    logging: false,
  });
}
