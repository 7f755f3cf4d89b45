// The kgql command line: parse flags, connect to a cluster (or the built-in demo cluster) and
// serve GraphQL. Errors are one clear line on stderr and a non-zero exit, never a stack trace.
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { KubeConfig } from "@kubernetes/client-node";
import pino from "pino";
import { KubeClient } from "./informers/client.ts";
import { SandboxCluster, seedDemo, startChurn } from "./sandbox/index.ts";
import { startGatewayServer } from "./server/index.ts";

const HELP = `kgql: a GraphQL API over cached Kubernetes cluster state

Usage: kgql [flags]
  --kubeconfig <path>   kubeconfig to use (default: $KUBECONFIG, then ~/.kube/config, then in-cluster)
  --context <name>      kubeconfig context
  --host <addr>         listen address (default 127.0.0.1)
  --port <n>            listen port (default 4000)
  --demo                serve the built-in simulated cluster (no real cluster needed)
  --auth none|kubernetes  none (loopback only), or check each caller's bearer token (TokenReview)
                        and serve only what their RBAC lets them list (SubjectAccessReview)
  --insecure            allow --auth none on a non-loopback address
  --disable-introspection  reject introspection queries
  --disable-graphiql    do not serve GraphiQL to browsers
  --sync-timeout <s>    how long a query waits for a kind's first sync (default 10)
  --cors-origin <url>   let web pages from this origin call kgql from a browser (repeatable;
                        none by default)
  --help                this text
`;

class UsageError extends Error {}

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      strict: true,
      options: {
        kubeconfig: { type: "string" },
        context: { type: "string" },
        host: { type: "string", default: process.env.KGQL_HOST ?? "127.0.0.1" },
        port: { type: "string", default: process.env.KGQL_PORT ?? "4000" },
        demo: { type: "boolean", default: false },
        auth: { type: "string", default: process.env.KGQL_AUTH ?? "none" },
        insecure: { type: "boolean", default: false },
        "disable-introspection": { type: "boolean", default: false },
        "disable-graphiql": { type: "boolean", default: false },
        "sync-timeout": { type: "string", default: "10" },
        "cors-origin": { type: "string", multiple: true, default: [] },
        help: { type: "boolean", default: false },
      },
    }).values;
  } catch (err) {
    throw new UsageError(`${(err as Error).message} (see kgql --help)`);
  }
}

const isLoopback = (host: string) => host === "localhost" || host === "::1" || host.startsWith("127.");

async function clusterClient(
  flags: ReturnType<typeof parse>,
): Promise<{ client: KubeClient; source: string }> {
  const kc = new KubeConfig();
  const path = flags.kubeconfig || process.env.KUBECONFIG || join(homedir(), ".kube", "config");
  if (flags.kubeconfig || process.env.KUBECONFIG || existsSync(path)) {
    if (!existsSync(path)) throw new UsageError(`kubeconfig not found: ${path}`);
    try {
      kc.loadFromFile(path);
    } catch (err) {
      throw new UsageError(`cannot read kubeconfig ${path}: ${(err as Error).message}`);
    }
    if (flags.context) {
      if (!kc.getContextObject(flags.context))
        throw new UsageError(`context "${flags.context}" is not in ${path}`);
      kc.setCurrentContext(flags.context);
    }
    return { client: await KubeClient.fromKubeConfig(kc), source: path };
  }
  if (process.env.KUBERNETES_SERVICE_HOST) {
    kc.loadFromCluster();
    return { client: await KubeClient.fromKubeConfig(kc), source: "in-cluster service account" };
  }
  throw new UsageError(
    `no cluster given: no --kubeconfig, no $KUBECONFIG, no ${path}, not in a cluster. Run "kgql --demo" to try the built-in demo cluster.`,
  );
}

export async function main(argv: string[]): Promise<number | undefined> {
  let flags: ReturnType<typeof parse>;
  try {
    flags = parse(argv);
    if (flags.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const port = Number(flags.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new UsageError(`invalid --port "${flags.port}"`);
    if (flags.auth !== "none" && flags.auth !== "kubernetes") {
      throw new UsageError(`invalid --auth "${flags.auth}": use none or kubernetes`);
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
          `invalid --cors-origin "${origin}": give scheme://host[:port], e.g. https://portal.example`,
        );
    }
    const syncTimeout = Number(flags["sync-timeout"]);
    if (!(syncTimeout > 0)) throw new UsageError(`invalid --sync-timeout "${flags["sync-timeout"]}"`);
    const log = pino({ level: process.env.KGQL_LOG_LEVEL ?? "info" }, pino.destination(2));
    if (flags.auth === "none" && !isLoopback(flags.host))
      log.warn({ host: flags.host }, "--insecure: serving without authentication on a non-loopback address");

    let sandbox: SandboxCluster | undefined;
    let stopChurn: (() => void) | undefined;
    let client: KubeClient;
    let source: string;
    if (flags.demo) {
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
    const server = await startGatewayServer({
      client,
      host: flags.host,
      port,
      syncTimeoutMs: syncTimeout * 1000,
      corsOrigins: flags["cors-origin"],
      auth: flags.auth as "none" | "kubernetes",
      introspection: !flags["disable-introspection"],
      graphiql: !flags["disable-graphiql"],
      logger: {
        info: (f, m) => log.info(f, m),
        warn: (f, m) => log.warn(f, m),
        debug: (f, m) => log.debug(f, m),
      },
    });
    process.stderr.write(`kgql: serving ${source} at ${server.url} (GraphiQL in a browser)\n`);
    const shutdown = async (signal: string) => {
      process.stderr.write(`kgql: ${signal}: shutting down\n`);
      stopChurn?.();
      await server.close();
      await sandbox?.stop();
      process.exit(0);
    };
    process.once("SIGINT", () => void shutdown("SIGINT"));
    process.once("SIGTERM", () => void shutdown("SIGTERM"));
    return undefined;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`kgql: ${err.message}\n`);
      return 2;
    }
    const e = err as NodeJS.ErrnoException;
    if (e.code === "EADDRINUSE") {
      process.stderr.write(`kgql: the address is already in use (${e.message}); choose another --port\n`);
      return 1;
    }
    throw err;
  }
}
