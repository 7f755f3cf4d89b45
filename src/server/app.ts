// The graphql-yoga app: schema from SDL + generated resolvers, JIT execution, cache plugins.
import { useGraphQlJit } from "@envelop/graphql-jit";
import { EnvelopArmorPlugin } from "@escape.tech/graphql-armor";
import { Kind, NoSchemaIntrospectionCustomRule } from "graphql";
import { createSchema, createYoga, type Plugin, type YogaServerInstance } from "graphql-yoga";
import type { AccessReviewer } from "../auth/access-reviewer.ts";
import type { TokenAuthenticator } from "../auth/authenticator.ts";
import { RequestContext } from "../resolvers/context.ts";
import type { Gateway } from "../resolvers/gateway.ts";
import { buildResolvers } from "../resolvers/index.ts";
import { buildTypeDefs } from "../schema/index.ts";
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
}

/** Rejects introspection (--disable-introspection) with graphql's own validation rule. */
function useNoIntrospection(): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };
}

function useRequestMetrics(metrics: Metrics): Plugin {
  return {
    onExecute({ args }) {
      const end = metrics.requestDuration.startTimer({ operation: args.operationName ?? "anonymous" });
      return { onExecuteDone: () => void end() };
    },
  };
}

export function createApp(
  gateway: Gateway,
  opts: AppOptions = {},
): YogaServerInstance<object, RequestContext> {
  const schema = createSchema<RequestContext>({
    typeDefs: buildTypeDefs(),
    resolvers: buildResolvers() as never,
  });
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
