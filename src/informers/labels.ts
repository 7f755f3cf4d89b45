// Kubernetes label selectors, parsed by hand (no kept npm library implements the full
// apimachinery grammar): equality (a=b, a==b, a!=b), set-based (a in (x,y), a notin (x), a, !a)
// and numeric comparisons (a>1, a<3).

export type Operator = "=" | "!=" | "in" | "notin" | "exists" | "!" | "gt" | "lt";

export interface Requirement {
  readonly key: string;
  readonly operator: Operator;
  readonly values: readonly string[];
}

export class LabelSelectorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LabelSelectorError";
  }
}

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function keyProblem(key: string): string | undefined {
  const slash = key.indexOf("/");
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    return `prefix "${prefix}" must be a DNS subdomain (lowercase letters, digits, '-' and '.')`;
  }
  if (name.length === 0 || name.length > 63) return "name part must be 1-63 characters";
  if (!NAME.test(name)) {
    return "name part must consist of alphanumerics, '-', '_' or '.', and start and end with an alphanumeric";
  }
  return undefined;
}

function valueProblem(value: string): string | undefined {
  if (value.length > 63) return "must be at most 63 characters";
  if (value.length > 0 && !NAME.test(value)) {
    return "must consist of alphanumerics, '-', '_' or '.', and start and end with an alphanumeric";
  }
  return undefined;
}

export class LabelSelector {
  readonly requirements: readonly Requirement[];
  /** Matches nothing at all (e.g. a Service without selector). */
  private readonly nothing: boolean;

  constructor(requirements: readonly Requirement[], nothing = false) {
    this.requirements = requirements;
    this.nothing = nothing;
  }

  static everything(): LabelSelector {
    return EVERYTHING;
  }

  static nothing(): LabelSelector {
    return NOTHING;
  }

  isEverything(): boolean {
    return !this.nothing && this.requirements.length === 0;
  }

  isNothing(): boolean {
    return this.nothing;
  }

  matches(labels: Record<string, string> | undefined): boolean {
    if (this.nothing) return false;
    const reqs = this.requirements;
    for (let i = 0; i < reqs.length; i++) {
      const r = reqs[i]!;
      const value = labels?.[r.key];
      switch (r.operator) {
        case "=":
          if (value !== r.values[0]) return false;
          break;
        case "!=":
          if (value === r.values[0]) return false;
          break;
        case "in":
          if (value === undefined || !r.values.includes(value)) return false;
          break;
        case "notin":
          if (value !== undefined && r.values.includes(value)) return false;
          break;
        case "exists":
          if (value === undefined) return false;
          break;
        case "!":
          if (value !== undefined) return false;
          break;
        case "gt":
        case "lt": {
          if (value === undefined || !/^-?\d+$/.test(value)) return false;
          const n = Number(value);
          const bound = Number(r.values[0]);
          if (r.operator === "gt" ? !(n > bound) : !(n < bound)) return false;
          break;
        }
      }
    }
    return true;
  }

  toString(): string {
    if (this.nothing) return "<nothing>";
    return this.requirements
      .map((r) => {
        switch (r.operator) {
          case "exists":
            return r.key;
          case "!":
            return `!${r.key}`;
          case "in":
          case "notin":
            return `${r.key} ${r.operator} (${r.values.join(",")})`;
          case "gt":
            return `${r.key}>${r.values[0]}`;
          case "lt":
            return `${r.key}<${r.values[0]}`;
          default:
            return `${r.key}${r.operator}${r.values[0]}`;
        }
      })
      .join(",");
  }
}

const EVERYTHING = new LabelSelector([]);
const NOTHING = new LabelSelector([], true);

/** A tokenizer-free recursive-descent parser over the selector text. */
class Parser {
  private pos = 0;
  private readonly text: string;
  constructor(text: string) {
    this.text = text;
  }

  fail(expected: string): never {
    const at =
      this.pos >= this.text.length ? "end of input" : `"${this.text.slice(this.pos, this.pos + 10)}"`;
    throw new LabelSelectorError(
      `invalid label selector "${this.text}": expected ${expected} at position ${this.pos} (found ${at})`,
    );
  }

  skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos]!)) this.pos++;
  }

  atEnd(): boolean {
    this.skipSpace();
    return this.pos >= this.text.length;
  }

  peek(s: string): boolean {
    this.skipSpace();
    return this.text.startsWith(s, this.pos);
  }

  eat(s: string): boolean {
    if (this.peek(s)) {
      this.pos += s.length;
      return true;
    }
    return false;
  }

  /** A key or value: everything up to a delimiter. */
  word(): string {
    this.skipSpace();
    const start = this.pos;
    while (this.pos < this.text.length && !/[\s,()=!<>]/.test(this.text[this.pos]!)) this.pos++;
    return this.text.slice(start, this.pos);
  }

  keyword(): string | undefined {
    this.skipSpace();
    const m = /^(in|notin)(?=[\s(])/.exec(this.text.slice(this.pos));
    if (!m) return undefined;
    this.pos += m[1]!.length;
    return m[1];
  }

  key(): string {
    const start = this.pos;
    const k = this.word();
    if (!k) this.fail("a label key");
    const problem = keyProblem(k);
    if (problem) {
      this.pos = start;
      this.skipSpace();
      throw new LabelSelectorError(
        `invalid label selector "${this.text}": key "${k}" at position ${this.pos}: ${problem}`,
      );
    }
    return k;
  }

  value(): string {
    this.skipSpace();
    const at = this.pos;
    const v = this.word();
    const problem = valueProblem(v);
    if (problem)
      throw new LabelSelectorError(
        `invalid label selector "${this.text}": value "${v}" at position ${at} ${problem}`,
      );
    return v;
  }

  requirement(): Requirement {
    if (this.eat("!")) return { key: this.key(), operator: "!", values: [] };
    const key = this.key();
    if (this.atEnd() || this.peek(",")) return { key, operator: "exists", values: [] };
    if (this.eat("==") || this.eat("=")) return { key, operator: "=", values: [this.value()] };
    if (this.eat("!=")) return { key, operator: "!=", values: [this.value()] };
    if (this.eat(">") || this.eat("<")) {
      const op = this.text[this.pos - 1] === ">" ? "gt" : "lt";
      this.skipSpace();
      const at = this.pos;
      const v = this.word();
      if (!/^-?\d+$/.test(v)) {
        this.pos = at;
        this.fail(`an integer after "${op === "gt" ? ">" : "<"}"`);
      }
      return { key, operator: op, values: [v] };
    }
    const kw = this.keyword();
    if (kw) {
      if (!this.eat("(")) this.fail(`"(" after "${kw}"`);
      const values: string[] = [];
      if (!this.peek(")")) {
        do values.push(this.value());
        while (this.eat(","));
      }
      if (!this.eat(")")) this.fail('")" or ","');
      if (values.length === 0) this.fail(`at least one value for "${kw}"`);
      return { key, operator: kw as "in" | "notin", values };
    }
    return this.fail('"=", "==", "!=", "in", "notin", ">", "<", "," or the end');
  }

  selector(): LabelSelector {
    if (this.atEnd()) return EVERYTHING;
    const reqs: Requirement[] = [];
    do reqs.push(this.requirement());
    while (this.eat(","));
    if (!this.atEnd()) this.fail('"," or the end');
    return new LabelSelector(reqs);
  }
}

/** Parses Kubernetes label selector syntax; "" selects everything. Throws LabelSelectorError. */
export function parseLabelSelector(text: string): LabelSelector {
  return new Parser(text).selector();
}

/**
 * A Service's `spec.selector` map. An absent or empty map selects NOTHING (a Service without
 * selector has manually managed endpoints), so this returns LabelSelector.nothing() for it.
 */
export function selectorFromMap(map: Record<string, string> | undefined): LabelSelector {
  if (!map) return NOTHING;
  const reqs = Object.entries(map).map(([key, v]): Requirement => ({ key, operator: "=", values: [v] }));
  return reqs.length ? new LabelSelector(reqs) : NOTHING;
}

export interface MetaLabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/**
 * A workload's `spec.selector` (metav1.LabelSelector): absent selects nothing, an empty object
 * selects everything, as apimachinery's LabelSelectorAsSelector.
 */
export function selectorFromLabelSelector(sel: MetaLabelSelector | undefined | null): LabelSelector {
  if (!sel) return NOTHING;
  const reqs: Requirement[] = [];
  for (const [key, v] of Object.entries(sel.matchLabels ?? {}))
    reqs.push({ key, operator: "=", values: [v] });
  for (const e of sel.matchExpressions ?? []) {
    const values = e.values ?? [];
    switch (e.operator) {
      case "In":
        reqs.push({ key: e.key, operator: "in", values });
        break;
      case "NotIn":
        reqs.push({ key: e.key, operator: "notin", values });
        break;
      case "Exists":
        reqs.push({ key: e.key, operator: "exists", values: [] });
        break;
      case "DoesNotExist":
        reqs.push({ key: e.key, operator: "!", values: [] });
        break;
      default:
        throw new LabelSelectorError(`invalid label selector operator "${e.operator}"`);
    }
  }
  return reqs.length ? new LabelSelector(reqs) : EVERYTHING;
}
