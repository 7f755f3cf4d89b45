// Which clusters an operation's root fields name (their cluster argument, a literal or a
// variable), so that the default cluster's caches are waited for only by operations that read
// it: a query about another cluster must not wait on a default cluster that is down.
import {
  type DocumentNode,
  type GraphQLSchema,
  Kind,
  type OperationDefinitionNode,
  type ValueNode,
} from "graphql";
import { ALL_CLUSTERS, CLUSTER_ARGUMENT } from "../schema/index.ts";

/** A root field the cluster of which cannot be told (a fragment at the root, no operation). */
const UNKNOWN = Symbol("unknown");

/**
 * The cluster argument of each root field of the operation that takes one: the name given, or
 * undefined (null) when left out; UNKNOWN when it cannot be told. Fields without the argument
 * (__typename, clusters) read no cluster's caches and are skipped.
 */
function* rootClusterArguments(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
): Generator<unknown> {
  const operation = operationOf(document, operationName);
  if (!operation) {
    yield UNKNOWN;
    return;
  }
  const root =
    operation.operation === "subscription"
      ? schema.getSubscriptionType()
      : operation.operation === "mutation"
        ? schema.getMutationType()
        : schema.getQueryType();
  const fields = root?.getFields() ?? {};
  for (const selection of operation.selectionSet.selections) {
    if (selection.kind !== Kind.FIELD) {
      yield UNKNOWN;
      continue;
    }
    if (!fields[selection.name.value]?.args.some((a) => a.name === CLUSTER_ARGUMENT)) continue;
    const arg = selection.arguments?.find((a) => a.name.value === CLUSTER_ARGUMENT);
    yield arg ? argumentValue(arg.value, variables, operation) : undefined;
  }
}

/**
 * Whether some root field of the operation reads the default cluster: it leaves the cluster
 * argument out, names the default one, or cannot be told. "*" does not count: a fleet field
 * waits for no cluster.
 */
export function readsDefaultCluster(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
  defaultName: string,
): boolean {
  for (const name of rootClusterArguments(schema, document, operationName, variables))
    if (name === UNKNOWN || name === undefined || name === null || name === defaultName) return true;
  return false;
}

/**
 * The clusters the operation's root fields read: the ones named, the default one for fields
 * that leave the argument out, every cluster for "*" and for what cannot be told. Unknown names
 * are left out (the field refuses them).
 */
export function clustersRead(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
  all: readonly string[],
): string[] {
  const read = new Set<string>();
  for (const name of rootClusterArguments(schema, document, operationName, variables)) {
    if (name === UNKNOWN || name === ALL_CLUSTERS) return [...all];
    const named = typeof name === "string" ? name : all[0]!;
    if (all.includes(named)) read.add(named);
  }
  return all.filter((n) => read.has(n));
}

function operationOf(
  document: DocumentNode,
  operationName: string | null | undefined,
): OperationDefinitionNode | undefined {
  const operations = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  if (!operationName) return operations.length === 1 ? operations[0] : undefined;
  return operations.find((o) => o.name?.value === operationName);
}

function argumentValue(
  node: ValueNode,
  variables: Record<string, unknown> | null | undefined,
  operation?: OperationDefinitionNode,
): unknown {
  if (node.kind === Kind.VARIABLE) {
    const value = variables?.[node.name.value];
    if (value !== undefined) return value;
    // Left out: the operation's default for it, which execution will use too.
    const def = operation?.variableDefinitions?.find((d) => d.variable.name.value === node.name.value);
    return def?.defaultValue ? argumentValue(def.defaultValue, undefined) : undefined;
  }
  if (node.kind === Kind.NULL) return null;
  return "value" in node ? node.value : undefined;
}
