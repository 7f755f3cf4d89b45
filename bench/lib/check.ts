// Answers are compared after normalisation, so that two correct servers that order a plain list
// differently (a Service's pods, a Namespace's pods) still agree, and a wrong one never does:
// arrays of named objects are sorted by (namespace, name), object keys are sorted.

/** A canonical form of a GraphQL `data` value. */
export function normalise(value: unknown): unknown {
  if (Array.isArray(value)) {
    const items = value.map(normalise);
    if (items.every((v) => v !== null && typeof v === "object" && typeof (v as Named).name === "string")) {
      (items as Named[]).sort(
        (a, b) => compare(a.namespace ?? "", b.namespace ?? "") || compare(a.name, b.name),
      );
    }
    return items;
  }
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) out[k] = normalise((value as Record<string, unknown>)[k]);
    return out;
  }
  return value;
}

interface Named {
  name: string;
  namespace?: string;
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The canonical JSON text of a `data` value: equal texts mean equal answers. */
export function canonical(data: unknown): string {
  return JSON.stringify(normalise(data));
}

export interface Verdict {
  ok: boolean;
  /** Why not, in one line. */
  reason?: string;
}

/** Checks one HTTP response body against the expected canonical `data`. */
export function checkBody(status: number, body: string, expected: string): Verdict {
  if (status !== 200) return { ok: false, reason: `HTTP ${status}: ${body.slice(0, 200)}` };
  let json: { data?: unknown; errors?: { message?: string }[] };
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, reason: `not JSON: ${body.slice(0, 200)}` };
  }
  if (json.errors?.length) return { ok: false, reason: `errors: ${json.errors[0]?.message ?? "?"}` };
  const got = canonical(json.data);
  if (got === expected) return { ok: true };
  return { ok: false, reason: `wrong answer: ${firstDifference(got, expected)}` };
}

/** Where two canonical texts first differ, with a little context. */
export function firstDifference(got: string, want: string): string {
  let i = 0;
  while (i < got.length && i < want.length && got[i] === want[i]) i++;
  const from = Math.max(0, i - 60);
  return `at ${i} of ${want.length} chars: got ...${got.slice(from, i + 60)}... want ...${want.slice(from, i + 60)}...`;
}
