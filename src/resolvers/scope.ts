// Scoped mode (--namespaces a,b): kgql watches only those namespaces' objects, so a question
// about another namespace has no true answer here. It is refused naming the scope, rather than
// answered empty, which would read as "that namespace has nothing".
import type { RequestContext } from "./context.ts";
import { userError } from "./errors.ts";

/** The namespaces a gateway is scoped to, or undefined when it watches every namespace. */
function namespaceScope(ctx: RequestContext): readonly string[] | undefined {
  return ctx.gateway?.factory.namespaces;
}

/** Whether a namespace's objects are served here (always, without a scope). */
export function inScope(ctx: RequestContext, namespace: string): boolean {
  const scope = namespaceScope(ctx);
  return scope === undefined || scope.includes(namespace);
}

/** BAD_USER_INPUT naming the scope for a namespace argument outside it. */
export function checkInScope(ctx: RequestContext, namespace: string | null | undefined): void {
  if (!namespace || inScope(ctx, namespace)) return;
  const scope = namespaceScope(ctx)!;
  throw userError(
    `namespace "${namespace}" is outside this gateway's scope: it watches only ${scope.map((n) => `"${n}"`).join(", ")} (--namespaces)`,
    "BAD_USER_INPUT",
    { argument: "namespace", namespaces: scope },
  );
}
