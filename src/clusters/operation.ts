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

/**
 * Whether some root field of the operation reads the default cluster: it leaves the cluster
 * argument out, names the default one, or cannot be told (a fragment at the root).
 */
export function readsDefaultCluster(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
  defaultName: string,
): boolean {
  const operation = operationOf(document, operationName);
  if (!operation) return true;
  const root = operation.operation === "subscription" ? schema.getSubscriptionType() : schema.getQueryType();
  const fields = root?.getFields() ?? {};
  for (const selection of operation.selectionSet.selections) {
    if (selection.kind !== Kind.FIELD) return true;
    const field = fields[selection.name.value];
    // __typename, and fields about the fleet itself (clusters), read no cluster's caches.
    if (!field?.args.some((a) => a.name === CLUSTER_ARGUMENT)) continue;
    const arg = selection.arguments?.find((a) => a.name.value === CLUSTER_ARGUMENT);
    const name = arg ? argumentValue(arg.value, variables, operation) : undefined;
    if (name === undefined || name === null || name === defaultName) return true;
  }
  return false;
}

/**
 * The clusters the operation's root fields read: the ones named, the default one for fields
 * that leave the argument out, every cluster for "*" (and for what cannot be told: a fragment at
 * the root, an operation not found). Unknown names are left out (the field refuses them).
 */
export function clustersRead(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
  all: readonly string[],
): string[] {
  const operation = operationOf(document, operationName);
  if (!operation) return [...all];
  const root = operation.operation === "subscription" ? schema.getSubscriptionType() : schema.getQueryType();
  const fields = root?.getFields() ?? {};
  const read = new Set<string>();
  for (const selection of operation.selectionSet.selections) {
    if (selection.kind !== Kind.FIELD) return [...all];
    const field = fields[selection.name.value];
    if (!field?.args.some((a) => a.name === CLUSTER_ARGUMENT)) continue;
    const arg = selection.arguments?.find((a) => a.name.value === CLUSTER_ARGUMENT);
    const name = arg ? argumentValue(arg.value, variables, operation) : undefined;
    if (name === ALL_CLUSTERS) return [...all];
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
