// npm run cluster:up | cluster:down | cluster:restart-apiserver, and `node test/cluster/cli.ts status`.
// The cluster directory is <repo>/.cluster unless KGQL_CLUSTER_DIR is set.
import { BuildError, clusterDir, down, restartApiserver, status, up } from "./cluster.ts";
import { WaitAbort, WaitTimeout } from "./wait.ts";

const usage = `usage: node test/cluster/cli.ts <command>
  up [--nodes N]     start the control plane (building it first if needed), or reuse a running one
  down               stop it and remove its state (logs are kept)
  restart-apiserver [--kill]
                     restart kube-apiserver on the same port against the same etcd (--kill: SIGKILL)
  status             show the recorded cluster and whether it is healthy
cluster directory: ${clusterDir()} (override with KGQL_CLUSTER_DIR)`;

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case "up": {
      const i = rest.indexOf("--nodes");
      const nodes = i >= 0 ? Number(rest[i + 1]) : undefined;
      if (nodes !== undefined && !(Number.isInteger(nodes) && nodes >= 1)) {
        console.error("--nodes needs a positive integer");
        return 2;
      }
      const { state, reused, ms } = await up({ nodes });
      console.log(
        reused
          ? `reusing the running cluster at ${state.server} (${state.dir}), checked in ${Math.round(ms)} ms`
          : `cluster up in ${secs(ms)}: ${state.server}`,
      );
      console.log(`env: ${state.envFile}  (set -a; . ${state.envFile}; set +a)`);
      return 0;
    }
    case "down": {
      const { stopped, ms } = await down();
      console.log(
        stopped.length > 0 ? `cluster down in ${secs(ms)}` : "no cluster was running; state removed",
      );
      return 0;
    }
    case "restart-apiserver": {
      const kill = rest.includes("--kill");
      const { ms } = await restartApiserver({ kill });
      console.log(`kube-apiserver ${kill ? "killed" : "stopped"}, restarted and ready in ${secs(ms)}`);
      return 0;
    }
    case "status": {
      const s = await status();
      console.log(`cluster dir: ${s.dir}`);
      if (s.state) {
        console.log(
          `apiserver:   ${s.state.server}\netcd:        ${s.state.etcd}\nkubeconfig:  ${s.state.kubeconfig}`,
        );
        console.log(`nodes:       ${s.state.nodes.join(", ")}`);
      }
      for (const p of s.processes) {
        console.log(
          `  ${p.name.padEnd(24)} ${p.pid === null ? "-" : `pid ${p.pid}`} ${p.running ? "running" : "not running"}`,
        );
      }
      console.log(s.healthy ? "healthy" : `not usable: ${s.reason}`);
      return s.healthy ? 0 : 1;
    }
    default:
      console.error(usage);
      return cmd === undefined || cmd === "help" || cmd === "--help" ? 0 : 2;
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  // Expected failures (build, startup, timeouts) carry their diagnosis in the message.
  if (err instanceof BuildError || err instanceof WaitAbort || err instanceof WaitTimeout) {
    console.error(`cluster: ${err.message}`);
  } else console.error(`cluster: ${(err as Error).stack ?? err}`);
  process.exitCode = 1;
}
