// kgql's settings: every flag can also be given as an environment variable (KGQL_ plus the flag
// in upper snake case: --request-timeout -> KGQL_REQUEST_TIMEOUT), which is how a Deployment
// usually configures a container. A flag given on the command line wins over its variable.
// One table drives the parser, the environment lookup and the help text.
import { parseArgs } from "node:util";
import { DEFAULT_BIG_QUERY_MS } from "./server/big-query-lane.ts";
import { DEFAULT_MAX_COST } from "./server/cost.ts";
import { DEFAULT_REQUEST_TIMEOUT_MS } from "./server/deadline.ts";

interface Option {
  type: "string" | "boolean";
  /** Repeatable flag; its variable holds a comma-separated list. */
  multiple?: boolean;
  default?: string;
  /** Help: the value's placeholder ("" for booleans) and what it does. */
  arg?: string;
  help: string;
  /** The environment variable, when not KGQL_<FLAG>. */
  env?: string;
}

export const OPTIONS = {
  kubeconfig: {
    type: "string",
    arg: "<path>",
    help: "kubeconfig to use (default: $KUBECONFIG, then ~/.kube/config, then in-cluster)",
  },
  context: { type: "string", arg: "<name>", help: "kubeconfig context" },
  cluster: {
    type: "string",
    multiple: true,
    arg: "<name>=<kubeconfig>[:<context>]",
    help: "serve this cluster too (repeatable; NAME=in-cluster for the service account); the first is the default cluster, which root fields read when their cluster argument is left out. Not with --kubeconfig, --context or --demo",
  },
  namespaces: {
    type: "string",
    multiple: true,
    arg: "<ns>[,<ns>...]",
    help: "scoped mode: watch the namespaced kinds only in these namespaces (one list+watch per namespace per kind; cluster-scoped kinds stay cluster-wide), for RBAC granted by a Role per namespace; other namespaces are refused (repeatable or comma-separated)",
  },
  host: { type: "string", default: "127.0.0.1", arg: "<addr>", help: "listen address" },
  port: { type: "string", default: "4000", arg: "<n>", help: "listen port" },
  demo: { type: "boolean", help: "serve the built-in simulated cluster (no real cluster needed)" },
  auth: {
    type: "string",
    default: "none",
    arg: "none|kubernetes",
    help: "none (loopback only), or check each caller's bearer token (TokenReview) and serve only what their RBAC lets them list (SubjectAccessReview); with several clusters each cluster reviews the token for itself, and fleet queries leave out (and name in forbiddenClusters) the clusters that refuse it",
  },
  insecure: { type: "boolean", help: "allow --auth none on a non-loopback address" },
  "enable-mutations": {
    type: "boolean",
    help: "serve GraphQL mutations (scale, restart, delete, cordon/drain, suspend, server-side apply), sent as the caller: with --auth kubernetes by impersonating them, with --auth none with the kubeconfig's own credentials",
  },
  "disable-introspection": { type: "boolean", help: "reject introspection queries" },
  "disable-graphiql": { type: "boolean", help: "do not serve GraphiQL to browsers" },
  "disable-ui": { type: "boolean", help: "do not serve the topology explorer page at /ui" },
  "disable-watch-list": {
    type: "boolean",
    help: "sync with paged lists then watches, not watch-list streams (servers without the WatchList gate fall back by themselves)",
  },
  resources: {
    type: "string",
    multiple: true,
    arg: "<resource>",
    help: "serve these resources with typed GraphQL generated from the apiserver's OpenAPI (repeatable or comma-separated): <resource>.<group> (widgets.example.com: its preferred version), group/version/resource (argoproj.io/v1alpha1/applications; core: v1/configmaps), or all (every served resource that is not a built-in kind). The schema follows their CRDs as they are added, changed or removed",
  },
  "sync-timeout": {
    type: "string",
    default: "10",
    arg: "<s>",
    help: "how long a query waits for a kind's first sync",
  },
  "request-timeout": {
    type: "string",
    default: String(DEFAULT_REQUEST_TIMEOUT_MS / 1000),
    arg: "<s>",
    help: "answer every request within this, whatever it waits for (token and access reviews, syncs)",
  },
  "max-cost": {
    type: "string",
    default: String(DEFAULT_MAX_COST),
    arg: "<n>",
    help: "refuse queries estimated to resolve more objects than this (estimated from the cache sizes)",
  },
  "big-query-ms": {
    type: "string",
    default: String(DEFAULT_BIG_QUERY_MS),
    arg: "<ms>",
    help: "queries whose last run took this long take turns, so they cannot starve small ones (off: Infinity)",
  },
  "cors-origin": {
    type: "string",
    multiple: true,
    arg: "<url>",
    help: "let web pages from this origin call kgql from a browser (repeatable; none by default)",
  },
  "log-level": {
    type: "string",
    default: "info",
    arg: "<level>",
    help: "pino log level: fatal, error, warn, info, debug, trace or silent",
  },
  help: { type: "boolean", help: "this text" },
} satisfies Record<string, Option>;

export type Flags = {
  [K in keyof typeof OPTIONS]: (typeof OPTIONS)[K] extends { multiple: true }
    ? string[]
    : (typeof OPTIONS)[K]["type"] extends "boolean"
      ? boolean
      : (typeof OPTIONS)[K] extends { default: string }
        ? string
        : string | undefined;
};

/** A flag or variable with a bad value; main prints it as one line. */
export class ConfigError extends Error {}

export function envName(flag: string): string {
  return (
    (OPTIONS[flag as keyof typeof OPTIONS] as Option).env ?? `KGQL_${flag.toUpperCase().replaceAll("-", "_")}`
  );
}

function fromEnv(
  flag: string,
  option: Option,
  env: NodeJS.ProcessEnv,
): string | boolean | string[] | undefined {
  const name = envName(flag);
  const raw = env[name];
  if (raw === undefined || raw === "") return undefined;
  if (option.type === "boolean") {
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    throw new ConfigError(`invalid ${name}="${raw}": use true or false`);
  }
  if (option.multiple)
    return raw
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
  return raw;
}

/**
 * parseArgs' complaint in one line. A value starting with a dash (`--max-cost -1`) is refused
 * as "ambiguous" in three lines: say how to pass it instead.
 */
function argumentProblem(err: Error & { code?: string }, argv: string[]): string {
  const ambiguous = /^Option '(--[\w-]+)' argument is ambiguous/.exec(err.message);
  if (err.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && ambiguous) {
    const flag = ambiguous[1]!;
    // parseArgs stops at the first ambiguous one: the first occurrence followed by a dash.
    const at = argv.findIndex((a, i) => a === flag && argv[i + 1]?.startsWith("-"));
    const value = argv[at + 1] ?? "";
    return `${flag} is followed by "${value}", which starts with a dash: write ${flag}=${value} if it is the value`;
  }
  return err.message.replaceAll("\n", " ");
}

/** Flags from argv, then KGQL_* variables for the flags not given, then defaults. */
export function parseConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): Flags {
  let parsed: Record<string, unknown>;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      options: Object.fromEntries(
        Object.entries(OPTIONS).map(([name, o]) => [name, { type: o.type, multiple: "multiple" in o }]),
      ) as never,
    }).values;
  } catch (err) {
    throw new ConfigError(`${argumentProblem(err as Error & { code?: string }, argv)} (see kgql --help)`);
  }
  const out: Record<string, unknown> = {};
  for (const [name, o] of Object.entries(OPTIONS) as [string, Option][]) {
    if (name === "help") {
      out[name] = parsed[name] ?? false;
      continue;
    }
    out[name] =
      parsed[name] ??
      fromEnv(name, o, env) ??
      o.default ??
      (o.type === "boolean" ? false : o.multiple ? [] : undefined);
  }
  return out as Flags;
}

/** The --help text, generated from the table. */
export function helpText(): string {
  const lines = ["kgql: a GraphQL API over cached Kubernetes cluster state", "", "Usage: kgql [flags]"];
  for (const [name, o] of Object.entries(OPTIONS) as [string, Option][]) {
    const head = `  --${name}${o.arg ? ` ${o.arg}` : ""}`;
    const extra = [
      o.default !== undefined ? `default ${o.default}` : "",
      name === "help" ? "" : `env ${envName(name)}`,
    ].filter(Boolean);
    const text = `${o.help}${extra.length ? ` (${extra.join("; ")})` : ""}`;
    lines.push(head.length < 26 ? `${head.padEnd(26)}${text}` : `${head}\n${" ".repeat(26)}${text}`);
  }
  lines.push("", "A flag given on the command line wins over its environment variable.", "");
  return lines.join("\n");
}
