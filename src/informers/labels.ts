// Kubernetes label selectors, parsed by hand with apimachinery's grammar and validation:
// equality (a=b, a==b, a!=b), set-based (a in (x,y), a notin (x), a, !a) and integer
// comparisons (a>1, a<3), comma-separated, whitespace tolerant.
//
// Matching is on the hot path of every list query: `matches` walks a precompiled array and
// allocates nothing.

export type Operator = "=" | "!=" | "in" | "notin" | "exists" | "!" | "gt" | "lt";

export interface Requirement {
  readonly key: string;
  readonly operator: Operator;
  /** One value for =, !=, gt, lt; one or more (sorted, distinct) for in/notin; none for exists and !. */
  readonly values: readonly string[];
}

/** A selector that does not parse or validate; the message says what, where and what was expected. */
export class LabelSelectorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LabelSelectorError";
  }
}

// ---------------------------------------------------------------------------------------------
// Validation (apimachinery's IsQualifiedName for keys, IsValidLabelValue for values)

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const NAME_CHARSET = 'letters, digits, "-", "_" or ".", and start and end with a letter or digit';

/** Why `key` is not a valid label key, or undefined when it is. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf("/");
  let name = key;
  if (slash >= 0) {
    if (key.indexOf("/", slash + 1) >= 0) return 'a key has at most one "/" (prefix/name)';
    const prefix = key.slice(0, slash);
    name = key.slice(slash + 1);
    if (prefix.length === 0) return 'the prefix before "/" must not be empty';
    if (prefix.length > 253) return `the prefix must be at most 253 characters (has ${prefix.length})`;
    if (!DNS_SUBDOMAIN.test(prefix)) {
      return `the prefix ${quote(prefix)} must be a DNS subdomain: lowercase letters, digits, "-" and ".", starting and ending with a letter or digit`;
    }
  }
  if (name.length === 0) return "the name part must not be empty";
  if (name.length > 63) return `the name part must be at most 63 characters (has ${name.length})`;
  if (!NAME.test(name)) return `the name part must consist of ${NAME_CHARSET}`;
  return undefined;
}

/** Why `value` is not a valid label value, or undefined when it is ("" is valid). */
export function labelValueProblem(value: string): string | undefined {
  if (value.length > 63) return `a value must be at most 63 characters (has ${value.length})`;
  if (value.length > 0 && !NAME.test(value)) return `a value must be empty or consist of ${NAME_CHARSET}`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Integer comparison for gt/lt: exact over int64, allocation-free

const INT64_MAX = "9223372036854775807";

/** The bound of a gt/lt requirement: its digits without leading zeros ("" is zero); undefined if not an int64 >= 0. */
function intBound(text: string): string | undefined {
  if (text.length === 0) return undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  let i = 0;
  while (i < text.length && text.charCodeAt(i) === 48) i++;
  const digits = text.slice(i);
  if (digits.length > 19 || (digits.length === 19 && digits > INT64_MAX)) return undefined;
  return digits;
}

/**
 * Compares a label value, read as apimachinery reads it (strconv.ParseInt, base 10, 64 bits), with
 * a bound from intBound: negative, zero or positive; NaN when the value is not an int64 (then
 * neither gt nor lt matches). Label values never carry a sign.
 */
function compareInt(value: string, bound: string): number {
  const n = value.length;
  if (n === 0) return Number.NaN;
  for (let j = 0; j < n; j++) {
    const c = value.charCodeAt(j);
    if (c < 48 || c > 57) return Number.NaN;
  }
  let start = 0;
  while (start < n && value.charCodeAt(start) === 48) start++;
  const len = n - start;
  if (len > 19) return Number.NaN;
  if (len === 19) {
    for (let j = 0; j < 19; j++) {
      const d = value.charCodeAt(start + j) - INT64_MAX.charCodeAt(j);
      if (d < 0) break;
      if (d > 0) return Number.NaN;
    }
  }
  if (len !== bound.length) return len - bound.length;
  for (let j = 0; j < len; j++) {
    const d = value.charCodeAt(start + j) - bound.charCodeAt(j);
    if (d !== 0) return d;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// The selector

/** A requirement prepared for matching. */
interface Check {
  readonly key: string;
  readonly operator: Operator;
  /** The value for = and !=; the canonical integer bound for gt/lt. */
  readonly value: string;
  readonly values: readonly string[];
  /** A set for in/notin with many values; a short array is searched faster. */
  readonly set: ReadonlySet<string> | undefined;
}

const SET_THRESHOLD = 8;
const NO_VALUES: readonly string[] = [];

export class LabelSelector {
  /** Sorted by key (as apimachinery does), so equal selectors print the same. */
  readonly requirements: readonly Requirement[];
  private readonly checks: readonly Check[];
  /** Matches nothing at all (a Service without selector, an absent workload selector). */
  private readonly nothing: boolean;
  private text: string | undefined;

  /**
   * Requirements are taken as they are, not validated (use parseLabelSelector or the
   * selectorFrom* functions for outside input); they are sorted by key, set values sorted and
   * deduplicated.
   */
  constructor(requirements: readonly Requirement[], nothing = false) {
    const reqs = requirements.map(normalize).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    this.requirements = reqs;
    this.checks = reqs.map(compile);
    this.nothing = nothing;
  }

  /** The selector that matches every object (the empty selector). */
  static everything(): LabelSelector {
    return EVERYTHING;
  }

  /** The selector that matches no object. */
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
    const checks = this.checks;
    for (let i = 0; i < checks.length; i++) {
      const c = checks[i]!;
      // The typeof test ignores what a plain object inherits (a label key may be "constructor").
      const raw = labels ? labels[c.key] : undefined;
      const value = typeof raw === "string" ? raw : undefined;
      switch (c.operator) {
        case "=":
          if (value !== c.value) return false;
          break;
        case "!=":
          if (value === c.value) return false;
          break;
        case "in":
          if (value === undefined || !(c.set ? c.set.has(value) : c.values.includes(value))) return false;
          break;
        case "notin":
          if (value !== undefined && (c.set ? c.set.has(value) : c.values.includes(value))) return false;
          break;
        case "exists":
          if (value === undefined) return false;
          break;
        case "!":
          if (value !== undefined) return false;
          break;
        case "gt":
          if (value === undefined || !(compareInt(value, c.value) > 0)) return false;
          break;
        case "lt":
          if (value === undefined || !(compareInt(value, c.value) < 0)) return false;
          break;
      }
    }
    return true;
  }

  /** Canonical selector syntax, which parses back to an equal selector; "" for everything. */
  toString(): string {
    if (this.text === undefined) {
      this.text = this.nothing ? "<nothing>" : this.requirements.map(requirementString).join(",");
    }
    return this.text;
  }
}

function normalize(r: Requirement): Requirement {
  if (r.operator !== "in" && r.operator !== "notin") return r;
  const values = [...new Set(r.values)].sort();
  return { key: r.key, operator: r.operator, values };
}

function compile(r: Requirement): Check {
  const first = r.values[0] ?? "";
  let value = first;
  if (r.operator === "gt" || r.operator === "lt") {
    const bound = intBound(first);
    if (bound === undefined) {
      throw new LabelSelectorError(
        `invalid label selector: ${r.key} ${r.operator} needs a non-negative integer, got ${quote(first)}`,
      );
    }
    value = bound;
  }
  const set =
    (r.operator === "in" || r.operator === "notin") && r.values.length > SET_THRESHOLD
      ? new Set(r.values)
      : undefined;
  return { key: r.key, operator: r.operator, value, values: r.values, set };
}

function requirementString(r: Requirement): string {
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
}

const EVERYTHING = new LabelSelector([]);
const NOTHING = new LabelSelector([], true);

// ---------------------------------------------------------------------------------------------
// The parser: a small lexer with apimachinery's tokens, and recursive descent over it

type Token = "ident" | "in" | "notin" | "!" | "!=" | "=" | "==" | ">" | "<" | "(" | ")" | "," | "end";

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

/** The characters that end an identifier: = ! ( ) , > < */
function isSymbol(c: number): boolean {
  return c === 61 || c === 33 || c === 40 || c === 41 || c === 44 || c === 62 || c === 60;
}

const MAX_QUOTED = 100;

function quote(s: string): string {
  return JSON.stringify(s.length > MAX_QUOTED ? `${s.slice(0, MAX_QUOTED)}…` : s);
}

class Parser {
  private readonly text: string;
  private pos = 0;
  /** The current token, its text and the index where it starts. */
  private tok: Token = "end";
  private lit = "";
  private start = 0;

  constructor(text: string) {
    this.text = text;
    this.next();
  }

  /** The current token (a method, so that TypeScript does not keep a narrowed type across next()). */
  private token(): Token {
    return this.tok;
  }

  /** Moves to the next token. */
  private next(): void {
    const s = this.text;
    let i = this.pos;
    while (i < s.length && isSpace(s.charCodeAt(i))) i++;
    this.start = i;
    if (i >= s.length) {
      this.tok = "end";
      this.lit = "";
      this.pos = i;
      return;
    }
    const c = s.charCodeAt(i);
    if (isSymbol(c)) {
      const two = (c === 33 || c === 61) && s.charCodeAt(i + 1) === 61; // "!=" or "=="
      this.lit = s.slice(i, two ? i + 2 : i + 1);
      this.tok = this.lit as Token;
      this.pos = i + this.lit.length;
      return;
    }
    let j = i + 1;
    while (j < s.length && !isSpace(s.charCodeAt(j)) && !isSymbol(s.charCodeAt(j))) j++;
    this.lit = s.slice(i, j);
    this.tok = this.lit === "in" || this.lit === "notin" ? this.lit : "ident";
    this.pos = j;
  }

  /** Positions in messages count from 1; the end of the text is length + 1. */
  private fail(expected: string): never {
    const found = this.tok === "end" ? "the end of the selector" : quote(this.lit);
    throw new LabelSelectorError(
      `invalid label selector ${quote(this.text)}: expected ${expected} at position ${this.start + 1}, found ${found}`,
    );
  }

  private invalid(what: string, text: string, at: number, problem: string): never {
    throw new LabelSelectorError(
      `invalid label selector ${quote(this.text)}: ${what} ${quote(text)} at position ${at + 1} is invalid: ${problem}`,
    );
  }

  parse(): LabelSelector {
    if (this.token() === "end") return EVERYTHING;
    const reqs: Requirement[] = [];
    for (;;) {
      reqs.push(this.requirement());
      if (this.token() === "end") break;
      if (this.token() !== ",") this.fail('"," or the end');
      this.next();
    }
    return new LabelSelector(reqs);
  }

  private key(): string {
    const tok = this.token();
    if (tok !== "ident")
      this.fail(tok === "in" || tok === "notin" ? "a label key, not a keyword," : "a label key");
    const key = this.lit;
    const problem = labelKeyProblem(key);
    if (problem) this.invalid("key", key, this.start, problem);
    this.next();
    return key;
  }

  /** A value where one may stand: an identifier (keywords count as values there), else "". */
  private optionalValue(): string {
    const tok = this.token();
    if (tok !== "ident" && tok !== "in" && tok !== "notin") return "";
    const value = this.lit;
    const problem = labelValueProblem(value);
    if (problem) this.invalid("value", value, this.start, problem);
    this.next();
    return value;
  }

  private requirement(): Requirement {
    if (this.token() === "!") {
      this.next();
      return { key: this.key(), operator: "!", values: NO_VALUES };
    }
    const key = this.key();
    const op = this.token();
    switch (op) {
      case "end":
      case ",":
        return { key, operator: "exists", values: NO_VALUES };
      case "=":
      case "==":
      case "!=": {
        this.next();
        const next = this.token();
        // Nothing after the operator is the empty value ("a=" or "a=,b").
        if (next !== "end" && next !== "," && next !== "ident" && next !== "in" && next !== "notin") {
          this.fail("a value");
        }
        return { key, operator: op === "!=" ? "!=" : "=", values: [this.optionalValue()] };
      }
      case ">":
      case "<": {
        this.next();
        const isIdent = this.token() === "ident";
        const value = isIdent ? this.lit : "";
        if (intBound(value) === undefined) {
          if (isIdent)
            this.invalid("value", value, this.start, `"${op}" needs a non-negative 64-bit integer`);
          this.fail(`an integer after "${op}"`);
        }
        this.next();
        return { key, operator: op === ">" ? "gt" : "lt", values: [value] };
      }
      case "in":
      case "notin": {
        this.next();
        if (this.token() !== "(") this.fail(`"(" after "${op}"`);
        this.next();
        // Items may be empty, as in apimachinery: "()" is {""}, "(a,)" is {a, ""}.
        const values: string[] = [];
        for (;;) {
          values.push(this.optionalValue());
          if (this.token() === ")") break;
          if (this.token() !== ",") this.fail('")" or ","');
          this.next();
        }
        this.next();
        return { key, operator: op, values };
      }
      default:
        return this.fail('"=", "==", "!=", "in", "notin", ">", "<", "," or the end');
    }
  }
}

/**
 * Parses Kubernetes label selector syntax (as `kubectl -l` and `?labelSelector=`); "" (or only
 * whitespace) selects everything. Throws LabelSelectorError saying what was expected and where.
 * As in apimachinery, "in" and "notin" are keywords where a key stands (not where a value does).
 */
export function parseLabelSelector(text: string): LabelSelector {
  return new Parser(text).parse();
}

// ---------------------------------------------------------------------------------------------
// Selectors from objects

/**
 * A Service's `spec.selector` map. An absent or empty map selects NOTHING (a Service without a
 * selector has manually managed endpoints), so this returns `LabelSelector.nothing()` for it:
 * test `isNothing()` to skip the lookup. Keys and values are taken as the apiserver validated them.
 */
export function selectorFromMap(map: Record<string, string> | undefined | null): LabelSelector {
  if (!map) return NOTHING;
  const reqs: Requirement[] = [];
  for (const key in map) reqs.push({ key, operator: "=", values: [map[key]!] });
  return reqs.length > 0 ? new LabelSelector(reqs) : NOTHING;
}

export interface LabelSelectorRequirementJson {
  key: string;
  operator: string;
  values?: string[];
}

/** metav1.LabelSelector as it appears in object specs. */
export interface MetaLabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirementJson[];
}

const EXPRESSION_OPERATORS: Record<string, Operator> = {
  In: "in",
  NotIn: "notin",
  Exists: "exists",
  DoesNotExist: "!",
};

/**
 * A workload's `spec.selector` (metav1.LabelSelector), as apimachinery's LabelSelectorAsSelector:
 * absent (undefined/null) selects NOTHING, an empty object selects EVERYTHING. Throws
 * LabelSelectorError for an unknown operator, In/NotIn without values, Exists/DoesNotExist with
 * values, or an invalid key or value.
 */
export function selectorFromLabelSelector(sel: MetaLabelSelector | undefined | null): LabelSelector {
  if (!sel) return NOTHING;
  const reqs: Requirement[] = [];
  const bad = (where: string, problem: string): never => {
    throw new LabelSelectorError(`invalid label selector: ${where}: ${problem}`);
  };
  const matchLabels = sel.matchLabels;
  if (matchLabels) {
    for (const key in matchLabels) {
      const value = matchLabels[key]!;
      const problem = labelKeyProblem(key) ?? labelValueProblem(value);
      if (problem) bad(`matchLabels ${quote(key)}`, problem);
      reqs.push({ key, operator: "=", values: [value] });
    }
  }
  const expressions = sel.matchExpressions ?? [];
  for (let i = 0; i < expressions.length; i++) {
    const e = expressions[i]!;
    const where = `matchExpressions[${i}] (key ${quote(String(e.key))})`;
    const operator = Object.hasOwn(EXPRESSION_OPERATORS, e.operator)
      ? EXPRESSION_OPERATORS[e.operator]
      : undefined;
    if (!operator) {
      return bad(
        where,
        `operator ${quote(String(e.operator))} is not one of In, NotIn, Exists, DoesNotExist`,
      );
    }
    const keyProblem = labelKeyProblem(e.key);
    if (keyProblem) bad(where, keyProblem);
    const values = e.values ?? [];
    if ((operator === "in" || operator === "notin") && values.length === 0) {
      bad(where, `operator ${e.operator} needs at least one value`);
    }
    if ((operator === "exists" || operator === "!") && values.length > 0) {
      bad(where, `operator ${e.operator} takes no values`);
    }
    for (const v of values) {
      const problem = labelValueProblem(v);
      if (problem) bad(`${where} value ${quote(v)}`, problem);
    }
    reqs.push({ key: e.key, operator, values });
  }
  return reqs.length > 0 ? new LabelSelector(reqs) : EVERYTHING;
}
