// The typed resources (--resources) in the request pipeline:
// - the schema is rebuilt and swapped in when the typed resources change (CRDs added, changed
//   or removed): envelop's setSchema, so every later parse/validate/execute uses the new one,
//   while open subscriptions keep the schema they started with (their own execution);
// - compiled queries (graphql-jit) are kept per schema, so no plan compiled against an old
//   schema runs against a new one (the parsed document is shared across schemas);
// - a field of a removed resource gets a validation error saying why it is gone;
// - before execution, the typed resources an operation reads are started (on first use),
//   synced (bounded) and authorized for the caller, as resources(...) does in its resolver:
//   nested fields (Namespace.<typed list>, owners) read them synchronously.
import { useGraphQlJit } from "@envelop/graphql-jit";
import {
  type ASTVisitor,
  type ExecutionArgs,
  GraphQLError,
  type GraphQLSchema,
  type ValidationContext,
} from "graphql";
import type { Plugin } from "graphql-yoga";
import type { RequestContext } from "../resolvers/context.ts";
import { cachedResource } from "../resolvers/query.ts";
import type { TypedResources } from "../typed/registry.ts";
import type { TypedSchema } from "../typed/types.ts";
import { operationReads } from "./plugins.ts";

/** Swaps the schema in whenever the typed resources change (`rebuild` makes the new one). */
export function useSchemaReload(
  typed: TypedResources,
  rebuild: (next: TypedSchema) => GraphQLSchema,
): Plugin {
  return {
    onPluginInit({ setSchema }) {
      typed.onChange((next) => {
        setSchema(rebuild(next));
      });
    },
  };
}

/** graphql-jit with its compiled queries per schema (its own cache is per document only). */
export function useGraphQlJitPerSchema(...args: Parameters<typeof useGraphQlJit>): Plugin {
  const bySchema = new WeakMap<GraphQLSchema, Plugin>();
  const forSchema = (schema: GraphQLSchema): Plugin => {
    let plugin = bySchema.get(schema);
    if (!plugin) {
      plugin = useGraphQlJit(...args) as Plugin;
      bySchema.set(schema, plugin);
    }
    return plugin;
  };
  return {
    onExecute: (payload) => forSchema(payload.args.schema).onExecute!(payload as never),
    onSubscribe: (payload) => forSchema(payload.args.schema).onSubscribe!(payload as never),
  };
}

/** A root field of a typed resource that is gone: say so, not only "Cannot query field". */
export function useRemovedFieldErrors(typed: TypedResources): Plugin {
  const rule = (context: ValidationContext): ASTVisitor => ({
    Field(node) {
      const parent = context.getParentType();
      const schema = context.getSchema();
      if (parent !== schema.getQueryType() && parent !== schema.getSubscriptionType()) return;
      if (parent?.getFields()[node.name.value]) return;
      const why = typed.removedField(node.name.value);
      if (why) context.reportError(new GraphQLError(`${node.name.value}: ${why}`, { nodes: node }));
    },
  });
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(rule);
    },
  };
}

/**
 * Starts, syncs and authorizes the typed resources an operation reads, before it runs (after
 * authentication and authorization set up the context, before the cost estimate, which sizes
 * them): what a resources(...) field does in its resolver. Its errors (NOT_SYNCED, a resource
 * no longer served, a review that failed) are the answer.
 */
export function useTypedResourceAccess(): Plugin {
  const prepare = async (args: ExecutionArgs, stop: (r: { errors: GraphQLError[] }) => void) => {
    const kinds = operationReads(args.schema, args.document).typed;
    if (kinds.length === 0) return;
    const ctx = args.contextValue as RequestContext;
    try {
      await Promise.all(
        kinds.map((k) => cachedResource(ctx, { group: k.group, version: k.version, resource: k.resource })),
      );
    } catch (err) {
      if (err instanceof GraphQLError) stop({ errors: [err] });
      else throw err;
    }
  };
  return {
    onExecute: ({ args, setResultAndStopExecution }) => prepare(args, setResultAndStopExecution),
    onSubscribe: ({ args, setResultAndStopExecution }) => prepare(args, setResultAndStopExecution),
  };
}
