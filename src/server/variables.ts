// Variable values checked by graphql-js before execution, for its error messages.
//
// graphql-jit coerces variables with compiled code whose errors name the wrong variable for a
// nested input ({"o": {"field": "X"}} is reported as `Variable "$field" got invalid value "X"`)
// and carry no code. graphql-js's coercion says where the bad value is (`at "o.field"`) and what
// the enum allows. It runs only for operations that declare variables; a valid request pays one
// coercion of its (small) variables.
import { type ExecutionArgs, GraphQLError, getVariableValues } from "graphql";
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

/** Refuses, before execution, variables that do not fit their declared types (BAD_USER_INPUT). */
export function useVariableCoercionErrors(): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const errors = variableErrors(args);
      if (errors) setResultAndStopExecution({ errors });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const errors = variableErrors(args);
      if (errors) setResultAndStopExecution({ errors });
    },
  };
}
