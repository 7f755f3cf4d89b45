// The kgql command line: parse flags, connect to a cluster (or the built-in demo cluster) and
// serve GraphQL. Errors are one clear line on stderr and a non-zero exit, never a stack trace.
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import pino from "pino";
import { type ClusterSpec, IN_CLUSTER, parseClusterSpecs } from "./clusters/spec.ts";
import { ConfigError, envName, helpText, parseConfig } from "./config.ts";
import { KubeClient } from "./informers/client.ts";
import { createLogger } from "./log.ts";
import { SandboxCluster, seedDemo, startChurn } from "./sandbox/index.ts";
import { startGatewayServer } from "./server/index.ts";
import { parseResourceEntries, ResourceEntryError } from "./typed/entries.ts";

class UsageError extends Error {}

type Flags = ReturnType<typeof parseConfig>;

function parse(argv: string[]): Flags {
  try {
    return parseConfig(argv);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
}

/** A flag's bad value, naming the flag, its environment variable (either may have set it) and what to give. */
function invalid(flags: Flags, name: keyof Flags & string, hint: string): UsageError {
  return new UsageError(`invalid --${name} "${flags[name]}" (${envName(name)}): ${hint}`);
}

/** A positive number of seconds from a flag (or its variable), in ms. */
function seconds(flags: Flags, name: "sync-timeout" | "request-timeout"): number {
  const value = Number(flags[name]);
  if (!(value > 0) || !Number.isFinite(value))
    throw invalid(flags, name, "give a positive number of seconds");
  return value * 1000;
}

/** Namespace names are DNS labels (RFC 1123). */
const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** --namespaces (repeatable, each comma-separated too): the scope, or undefined for none. */
function scopedNamespaces(flags: Flags): string[] | undefined {
  const names = flags.namespaces.flatMap((v) => v.split(",")).map((n) => n.trim());
  for (const name of names) {
    if (!NAMESPACE_NAME.test(name))
      throw invalid(
        flags,
        "namespaces",
        `"${name}" is not a namespace name (lowercase letters, digits and dashes)`,
      );
  }
  return names.length ? [...new Set(names)] : undefined;
}

/** How long shutdown may take before the process exits anyway. */
const SHUTDOWN_DEADLINE_MS = 15_000;

/**
 * How long an error exit waits for the log lines (and the demo cluster) before giving up on
 * them: with stderr a full pipe, the log's retries would otherwise keep the process alive.
 */
const ERROR_EXIT_FLUSH_MS = 1000;

/**
 * After an error, main returns its exit code and the process ends once idle; but a write to a
 * stderr pipe nobody reads (the error line itself) stays pending, and holds the process, for
 * ever. This ends a process still held that long after; unreferenced, it holds nothing itself.
 */
const ERROR_EXIT_DEADLINE_MS = 1000;

function exitWithin(code: number, ms: number): void {
  setTimeout(() => process.exit(code), ms).unref();
}

/** Waits for `work`, at most `ms`; its failure is ignored (an exit is under way). */
async function within(work: Promise<unknown> | undefined, ms: number): Promise<void> {
  if (!work) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    work.catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}

const isLoopback = (host: string) => host === "localhost" || host === "::1" || host.startsWith("127.");

/** A client for a kubeconfig file (its current context, or `context`). */
async function kubeconfigClient(
  path: string,
  context: string | undefined,
  what: string,
): Promise<KubeClient> {
  const kc = new KubeConfig();
  if (!existsSync(path)) throw new UsageError(`kubeconfig not found: ${path}${what}`);
  try {
    kc.loadFromFile(path);
  } catch (err) {
    throw new UsageError(`cannot read kubeconfig ${path}${what}: ${(err as Error).message}`);
  }
  if (context) {
    if (!kc.getContextObject(context)) throw new UsageError(`context "${context}" is not in ${path}${what}`);
    kc.setCurrentContext(context);
  }
  return KubeClient.fromKubeConfig(kc);
}

async function inClusterClient(): Promise<KubeClient> {
  const kc = new KubeConfig();
  kc.loadFromCluster();
  return KubeClient.fromKubeConfig(kc);
}

async function clusterClient(flags: Flags): Promise<{ client: KubeClient; source: string }> {
  const path = flags.kubeconfig || process.env.KUBECONFIG || join(homedir(), ".kube", "config");
  if (flags.kubeconfig || process.env.KUBECONFIG || existsSync(path)) {
    return { client: await kubeconfigClient(path, flags.context, ""), source: path };
  }
  if (process.env.KUBERNETES_SERVICE_HOST) {
    return { client: await inClusterClient(), source: "in-cluster service account" };
  }
  throw new UsageError(
    `no cluster given: no --kubeconfig, no $KUBECONFIG, no ${path}, not in a cluster. Run "kgql --demo" to try the built-in demo cluster.`,
  );
}

/** The clients of every --cluster, the default (first) one first. */
async function fleetClients(
  flags: Flags,
): Promise<{ spec: ClusterSpec; client: KubeClient; source: string }[]> {
  let specs: ClusterSpec[];
  try {
    specs = parseClusterSpecs(flags.cluster);
  } catch (err) {
    throw new UsageError(`${(err as Error).message} (${envName("cluster")})`);
  }
  const out: { spec: ClusterSpec; client: KubeClient; source: string }[] = [];
  for (const spec of specs) {
    const what = ` (--cluster ${spec.name})`;
    if (spec.kubeconfig === undefined && !process.env.KUBERNETES_SERVICE_HOST)
      throw new UsageError(`--cluster ${spec.name}=${IN_CLUSTER}: not running in a cluster`);
    const client =
      spec.kubeconfig === undefined
        ? await inClusterClient()
        : await kubeconfigClient(spec.kubeconfig, spec.context, what);
    const source =
      spec.kubeconfig === undefined
        ? "in-cluster service account"
        : `${spec.kubeconfig}${spec.context ? ` context ${spec.context}` : ""}`;
    out.push({ spec, client, source });
  }
  return out;
}

/** Checks a cluster answers; throws a UsageError saying why not. */
async function checkReachable(client: KubeClient, source: string): Promise<void> {
  try {
    await client.getJSON("/version");
  } catch (err) {
    const status = (err as { status?: number }).status;
    if (status === 401 || status === 403) {
      throw new UsageError(
        `the cluster at ${client.server.origin} rejected the credentials in ${source} (HTTP ${status})`,
      );
    }
    throw new UsageError(
      `cannot reach the cluster at ${client.server.origin} (${source}): ${(err as Error).message}`,
    );
  }
}

/**
 * Runs kgql: undefined once serving (signals end it), or an error's exit code, with the process
 * ended shortly after if anything still holds it (see ERROR_EXIT_DEADLINE_MS).
 */
export async function main(argv: string[]): Promise<number | undefined> {
  let flags: Flags;
  // What an error exit releases once they exist, so that nothing holds the process up after
  // main returns: the log (its writes retry while stderr is full), the demo cluster, the client.
  let closeLog: ((withinMs?: number) => Promise<void>) | undefined;
  let sandbox: SandboxCluster | undefined;
  let stopChurn: (() => void) | undefined;
  let client: KubeClient | undefined;
  let fleet: { spec: ClusterSpec; client: KubeClient; source: string }[] = [];
  const release = async () => {
    stopChurn?.();
    client?.close();
    for (const c of fleet) c.client.close();
    await Promise.all([within(sandbox?.stop(), ERROR_EXIT_FLUSH_MS), closeLog?.(ERROR_EXIT_FLUSH_MS)]);
  };
  try {
    flags = parse(argv);
    if (flags.help) {
      process.stdout.write(helpText());
      return 0;
    }
    const port = Number(flags.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw invalid(flags, "port", "give a port number from 0 to 65535 (0: any free port)");
    if (flags.auth !== "none" && flags.auth !== "kubernetes") {
      throw invalid(flags, "auth", "use none or kubernetes");
    }
    if (flags.demo && (flags.kubeconfig || flags.context)) {
      const given = flags.kubeconfig ? "--kubeconfig" : "--context";
      throw new UsageError(
        `--demo serves the built-in demo cluster, so ${given} (${envName(given.slice(2))}) would be ignored: drop one of them`,
      );
    }
    if (flags.auth === "kubernetes" && flags.demo) {
      throw new UsageError("--auth kubernetes needs a real cluster (TokenReview); the demo cluster has none");
    }
    if (flags.auth === "none" && !isLoopback(flags.host) && !flags.insecure) {
      throw new UsageError(
        `--auth none on a non-loopback address (${flags.host}) serves the whole cache to anyone: add --insecure to do it anyway`,
      );
    }
    for (const origin of flags["cors-origin"]) {
      if (!/^https?:\/\/[^/\s]+$/.test(origin))
        throw new UsageError(
          `invalid --cors-origin "${origin}" (${envName("cors-origin")}): give scheme://host[:port], e.g. https://portal.example`,
        );
    }
    const namespaces = scopedNamespaces(flags);
    parseResourceEntries(flags.resources); // a bad entry fails before connecting to anything
    const syncTimeoutMs = seconds(flags, "sync-timeout");
    const requestTimeoutMs = seconds(flags, "request-timeout");
    const maxCost = Number(flags["max-cost"]);
    if (!Number.isInteger(maxCost) || maxCost <= 0)
      throw invalid(flags, "max-cost", "give a positive integer");
    const bigQueryMs = Number(flags["big-query-ms"]);
    if (!(bigQueryMs >= 0))
      throw invalid(flags, "big-query-ms", "give milliseconds, or Infinity to turn the lane off");
    const level = flags["log-level"];
    if (!Object.hasOwn(pino.levels.values, level) && level !== "silent")
      throw invalid(flags, "log-level", `use ${Object.keys(pino.levels.values).join(", ")} or silent`);
    const logger = createLogger(level);
    const log = logger.log;
    closeLog = logger.close;
    if (flags.auth === "none" && !isLoopback(flags.host))
      log.warn({ host: flags.host }, "--insecure: serving without authentication on a non-loopback address");
    if (flags["enable-mutations"] && flags.auth === "none")
      log.warn(
        {},
        "--enable-mutations with --auth none: there is no caller to impersonate, so mutations write with the kubeconfig's own credentials",
      );

    if (flags.cluster.length > 0 && (flags.kubeconfig || flags.context || flags.demo)) {
      const given = flags.kubeconfig ? "--kubeconfig" : flags.context ? "--context" : "--demo";
      throw new UsageError(
        `--cluster names every cluster served, so ${given} (${envName(given.slice(2))}) would be ignored: give the default cluster as the first --cluster instead`,
      );
    }

    let source: string;
    if (flags.cluster.length > 0) {
      fleet = await fleetClients(flags);
      // One cluster that is down must not keep the others from being served: it is reported,
      // its informers retry, and its kinds show as unsynced until it answers.
      for (const c of fleet) {
        try {
          await checkReachable(c.client, c.source);
        } catch (err) {
          if (!(err instanceof UsageError) || fleet.length === 1) throw err;
          log.warn({ cluster: c.spec.name }, `${err.message}; serving the other clusters meanwhile`);
        }
      }
      client = fleet[0]!.client;
      source = fleet.map((c) => `${c.spec.name} (${c.source})`).join(", ");
    } else if (flags.demo) {
      sandbox = new SandboxCluster();
      await sandbox.start();
      seedDemo(sandbox, { namespaces: 3, nodes: 3, deploymentsPerNamespace: 4, replicas: 3 });
      stopChurn = startChurn(sandbox, { intervalMs: 2000 });
      const kc = new KubeConfig();
      kc.loadFromString(sandbox.kubeconfig());
      client = await KubeClient.fromKubeConfig(kc);
      source = `the built-in demo cluster (${sandbox.url})`;
    } else {
      ({ client, source } = await clusterClient(flags));
      await checkReachable(client, source);
    }
    const server = await startGatewayServer({
      resources: flags.resources,
      client,
      clusters: fleet.length ? fleet.map((c) => ({ name: c.spec.name, client: c.client })) : undefined,
      host: flags.host,
      port,
      syncTimeoutMs,
      requestTimeoutMs,
      maxCost,
      bigQueryMs,
      corsOrigins: flags["cors-origin"],
      namespaces,
      auth: flags.auth as "none" | "kubernetes",
      introspection: !flags["disable-introspection"],
      watchList: !flags["disable-watch-list"],
      graphiql: !flags["disable-graphiql"],
      ui: !flags["disable-ui"],
      enableMutations: flags["enable-mutations"],
      logger: {
        info: (f, m) => log.info(f, m),
        warn: (f, m) => log.warn(f, m),
        debug: (f, m) => log.debug(f, m),
      },
    });
    if (namespaces) source += ` (namespaces ${namespaces.join(", ")} only)`;
    process.stderr.write(
      `kgql: serving ${source} at ${server.url} (GraphiQL in a browser${flags["disable-ui"] ? "" : `; topology at ${server.url.replace(/\/graphql$/, "/ui")}`})\n`,
    );
    // Graceful: stop accepting, complete every subscription, stop the watches, let requests in
    // flight finish; exit anyway if that takes too long.
    const shutdown = async (signal: string) => {
      log.info({ signal }, "shutting down");
      setTimeout(() => {
        log.warn({ afterMs: SHUTDOWN_DEADLINE_MS }, "shutdown took too long; exiting");
        process.exit(1);
      }, SHUTDOWN_DEADLINE_MS).unref();
      stopChurn?.();
      await server.close();
      await sandbox?.stop();
      await logger.close();
      process.exit(0);
    };
    process.once("SIGINT", () => void shutdown("SIGINT"));
    process.once("SIGTERM", () => void shutdown("SIGTERM"));
    return undefined;
  } catch (thrown) {
    // After the log's last lines, so the error line comes last.
    await release();
    // A bad --resources entry: from the check above, or found once connected (startGatewayServer).
    const err =
      thrown instanceof ResourceEntryError
        ? new UsageError(`${thrown.message} (${envName("resources")})`)
        : thrown;
    if (err instanceof UsageError) {
      process.stderr.write(`kgql: ${err.message}\n`);
      exitWithin(2, ERROR_EXIT_DEADLINE_MS);
      return 2;
    }
    exitWithin(1, ERROR_EXIT_DEADLINE_MS);
    const e = err as NodeJS.ErrnoException;
    if (e.code === "EADDRINUSE") {
      process.stderr.write(`kgql: the address is already in use (${e.message}); choose another --port\n`);
      return 1;
    }
    throw err;
  }
}
