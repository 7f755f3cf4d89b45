// The operation a request runs, found once per parsed document and operation name and shared by
// every hook that needs it (the fast path's type check, the request log, metrics, the cost
// limit) instead of each calling getOperationAST, a walk over the document's definitions.
// Keyed on the document, which yoga's parse cache reuses for the same query text, so the
// lookup is usually done once per distinct query, not once per request.
import { type DocumentNode, getOperationAST, type OperationDefinitionNode } from "graphql";

/** Per document: the operation found for each operation name asked (undefined: no name given). */
const found = new WeakMap<DocumentNode, Map<string | undefined, OperationDefinitionNode>>();

/** getOperationAST(document, operationName), memoized. */
export function operationOf(
  document: DocumentNode,
  operationName?: string | null,
): OperationDefinitionNode | null {
  const name = operationName ?? undefined;
  const byName = found.get(document);
  const cached = byName?.get(name);
  if (cached) return cached;
  const operation = getOperationAST(document, name);
  // Misses are not kept: names come from clients, and made-up ones must not grow the map.
  if (operation) {
    if (byName) byName.set(name, operation);
    else found.set(document, new Map([[name, operation]]));
  }
  return operation ?? null;
}

/** The operation's own name ("anonymous" without one): clients often omit operationName. */
export function operationLabel(document: DocumentNode, operationName?: string | null): string {
  return operationOf(document, operationName)?.name?.value ?? "anonymous";
}
