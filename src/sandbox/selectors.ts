// labelSelector and fieldSelector for list and watch, as the apiserver applies them. Field
// selectors support only the fields each kind registers (see resources.ts): anything else is a
// 400, like "field label not supported: spec.foo" from a real server.
import { LabelSelectorError, parseLabelSelector } from "../informers/labels.ts";
import type { KubeObject } from "../informers/types.ts";
import { badRequest, SandboxError } from "./errors.ts";
import type { SandboxResource } from "./resources.ts";

export type Predicate = (obj: KubeObject) => boolean;

interface FieldRequirement {
  path: string[];
  value: string;
  equal: boolean;
}

/** undefined when nothing is filtered. Throws SandboxError (400) for a malformed selector. */
export function selectorPredicate(
  res: SandboxResource,
  labelSelector: string | undefined,
  fieldSelector: string | undefined,
): Predicate | undefined {
  const tests: Predicate[] = [];
  if (labelSelector?.trim()) {
    let sel: ReturnType<typeof parseLabelSelector>;
    try {
      sel = parseLabelSelector(labelSelector);
    } catch (err) {
      const msg = err instanceof LabelSelectorError ? err.message : String(err);
      throw new SandboxError(badRequest(`unable to parse requirement: ${msg}`));
    }
    tests.push((o) => sel.matches(o.metadata.labels));
  }
  if (fieldSelector?.trim()) {
    const reqs = parseFieldSelector(res, fieldSelector);
    tests.push((o) => reqs.every((r) => (fieldValue(o, r.path) === r.value) === r.equal));
  }
  if (tests.length === 0) return undefined;
  if (tests.length === 1) return tests[0];
  return (o) => tests.every((t) => t(o));
}

function parseFieldSelector(res: SandboxResource, text: string): FieldRequirement[] {
  const out: FieldRequirement[] = [];
  for (const term of text.split(",")) {
    const t = term.trim();
    if (!t) continue;
    const m = /^([^!=]+)(==|!=|=)(.*)$/.exec(t);
    if (!m) throw new SandboxError(badRequest(`invalid selector: '${text}'; can't understand '${t}'`));
    const field = m[1]!.trim();
    if (field !== "metadata.name" && field !== "metadata.namespace" && !res.fieldLabels.includes(field)) {
      throw new SandboxError(badRequest(`field label not supported: ${field}`));
    }
    // Events' "source" selects on source.component.
    const path = field === "source" ? ["source", "component"] : field.split(".");
    out.push({ path, value: m[3]!.trim(), equal: m[2] !== "!=" });
  }
  return out;
}

function fieldValue(obj: KubeObject, path: string[]): string {
  let v: unknown = obj;
  for (const p of path) {
    if (v === null || typeof v !== "object") return "";
    v = (v as Record<string, unknown>)[p];
  }
  if (v === undefined || v === null) return "";
  return typeof v === "string" ? v : String(v);
}
