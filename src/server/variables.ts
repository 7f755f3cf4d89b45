// Variable values checked by graphql-js before execution, for its error messages.
//
// graphql-jit coerces variables with compiled code whose errors name the wrong variable for a
// nested input ({"o": {"field": "X"}} is reported as `Variable "$field" got invalid value "X"`)
// and carry no code. graphql-js's coercion says where the bad value is (`at "o.field"`) and what
// the enum allows.
import { type ExecutionArgs, type ExecutionResult, GraphQLError, getVariableValues } from "graphql";
import type { Plugin } from "graphql-yoga";
import { operationOf } from "./operation.ts";

/** graphql-js's coercion errors for the request's variables, with a code; none when they fit. */
function variableErrors(args: ExecutionArgs): GraphQLError[] | undefined {
  const definitions = operationOf(args.document, args.operationName)?.variableDefinitions;
  if (!definitions?.length) return undefined;
  const coerced = getVariableValues(
    args.schema,
    definitions,
    (args.variableValues ?? {}) as Record<string, unknown>,
    { maxErrors: 10 },
  );
  return coerced.errors?.map(
    (err) => new GraphQLError(err.message, { nodes: err.nodes, extensions: { code: "BAD_USER_INPUT" } }),
  );
}

/**
 * Answers a request whose variables do not fit their declared types with graphql-js's errors
 * (BAD_USER_INPUT). Checked only when execution produced errors and no data, which is what
 * a failed coercion gives: a valid request pays nothing.
 */
export function useVariableCoercionErrors(): Plugin {
  return {
    onExecute({ args }) {
      return {
        onExecuteDone({ result, setResult }) {
          if (!failedWithoutData(result)) return;
          const errors = variableErrors(args);
          if (errors) setResult({ errors });
        },
      };
    },
    onSubscribe({ args }) {
      return {
        onSubscribeResult({ result, setResult }) {
          if (!failedWithoutData(result)) return;
          const errors = variableErrors(args);
          if (errors) setResult({ errors });
        },
      };
    },
  };
}

/** An execution result (not a stream) with errors and no data. */
function failedWithoutData(result: unknown): boolean {
  if (typeof result !== "object" || result === null || Symbol.asyncIterator in result) return false;
  const r = result as ExecutionResult;
  return r.data == null && (r.errors?.length ?? 0) > 0;
}
