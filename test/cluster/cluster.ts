// The real control plane used by integration tests and benchmarks: etcd, kube-apiserver,
// kube-controller-manager and kwok, built from Go modules by build.sh and run on 127.0.0.1 with
// free ports, as detached processes that outlive the process that started them.
//
// Everything about one cluster lives in its directory (default <repo>/.cluster, or
// $KGQL_CLUSTER_DIR): state.json (read by the test helpers), env, kubeconfig(s), pids/, logs/,
// pki/ (tokens, service-account key, the apiserver's self-signed serving cert) and data/ (etcd).
import { execFileSync, spawn } from "node:child_process";
import { generateKeyPairSync, randomBytes, X509Certificate } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import net from "node:net";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { KubeApi } from "./kube-api.ts";
import { WaitAbort, waitFor } from "./wait.ts";

export const repoRoot = resolve(import.meta.dirname, "../..");
const clusterSrc = import.meta.dirname;

/** Component names, in start order (stopped in reverse). */
export const components = ["etcd", "kube-apiserver", "kube-controller-manager", "kwok"] as const;
export type Component = (typeof components)[number];

/** Restricted users in the token file: authenticated, but no RBAC bindings until a test adds them. */
export const restrictedUsers = [
  { name: "alice", groups: ["kgql:team-a"] },
  { name: "bob", groups: ["kgql:team-b"] },
] as const;

export const kwokNodeAnnotation = { key: "kwok.x-k8s.io/node", value: "fake" };

export interface ProcessRecord {
  pid: number;
  bin: string;
  args: string[];
  log: string;
}

export interface UserRecord {
  name: string;
  token: string;
  groups: string[];
  /** A kubeconfig authenticating as this user. */
  kubeconfig: string;
}

export interface ClusterState {
  version: 1;
  dir: string;
  binDir: string;
  /** False while starting; a cluster is reused only when true. */
  ready: boolean;
  createdAt: string;
  /** https://127.0.0.1:<port> */
  server: string;
  apiserverPort: number;
  /** http://127.0.0.1:<port> */
  etcd: string;
  etcdPeerPort: number;
  controllerManagerPort: number;
  /** PEM file of the CA of the apiserver's serving certificate. */
  caFile: string;
  /** Admin kubeconfig (system:masters). */
  kubeconfig: string;
  adminToken: string;
  users: Record<string, UserRecord>;
  /** kwok-managed nodes (Ready once the cluster is up). */
  nodes: string[];
  processes: Partial<Record<Component, ProcessRecord>>;
  envFile: string;
}

export type Logger = (msg: string) => void;
const defaultLog: Logger = (msg) => process.stderr.write(`[cluster] ${msg}\n`);

// ---------------------------------------------------------------------------------------------
// Paths

export function clusterDir(dir?: string): string {
  return resolve(dir ?? process.env.KGQL_CLUSTER_DIR ?? join(repoRoot, ".cluster"));
}

export interface CachePaths {
  cache: string;
  bin: string;
  stages: string;
}

let cachePaths: CachePaths | undefined;
/** The versioned binary cache, as computed by versions.sh (the single place versions are pinned). */
export function getCachePaths(): CachePaths {
  if (cachePaths) return cachePaths;
  const out = runSync("bash", [
    "-c",
    'source "$1" && printf "%s\\n%s\\n" "$KGQL_CLUSTER_CACHE" "$KGQL_CLUSTER_BIN"',
    "versions",
    join(clusterSrc, "versions.sh"),
  ]);
  const [cache, bin] = out.trim().split("\n");
  if (!cache || !bin) throw new Error(`versions.sh printed no cache paths: ${JSON.stringify(out)}`);
  cachePaths = { cache, bin, stages: join(cache, "stages") };
  return cachePaths;
}

function runSync(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

export function binaryPath(name: Component): string {
  return join(getCachePaths().bin, name);
}

export function binariesPresent(): boolean {
  const { stages } = getCachePaths();
  return components.every((c) => existsSync(binaryPath(c))) && existsSync(stages);
}

export function hasGo(): boolean {
  try {
    runSync("go", ["version"]);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Build

export class BuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BuildError";
  }
}

/** Runs build.sh (progress goes to stderr); throws BuildError naming the failed step. */
export async function build(log: Logger = defaultLog): Promise<void> {
  log("control-plane binaries missing: running test/cluster/build.sh (a cold build takes 10-40 min)");
  const start = performance.now();
  const child = spawn("bash", [join(clusterSrc, "build.sh")], { stdio: ["ignore", "ignore", "pipe"] });
  let failedStep = "";
  let tail = "";
  child.stderr.on("data", (chunk: Buffer) => {
    process.stderr.write(chunk);
    tail = (tail + chunk.toString("utf8")).slice(-20_000);
    const m = /FAILED at step: ([^\n]*)/.exec(tail);
    if (m?.[1]) failedStep = m[1];
  });
  const code = await new Promise<number | null>((res, rej) => {
    child.on("error", rej);
    child.on("close", res);
  });
  if (code !== 0) {
    throw new BuildError(
      `control-plane build failed (exit ${code})` +
        (failedStep ? ` at step: ${failedStep}` : "; see the build output above"),
    );
  }
  log(`build finished in ${((performance.now() - start) / 1000).toFixed(1)} s`);
}

// ---------------------------------------------------------------------------------------------
// State files

export function statePath(dir?: string): string {
  return join(clusterDir(dir), "state.json");
}

export function readState(dir?: string): ClusterState | null {
  try {
    const s = JSON.parse(readFileSync(statePath(dir), "utf8")) as ClusterState;
    return s.version === 1 ? s : null;
  } catch {
    return null;
  }
}

function writeState(state: ClusterState): void {
  const file = statePath(state.dir);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
  mkdirSync(join(state.dir, "pids"), { recursive: true });
  for (const [name, p] of Object.entries(state.processes)) {
    if (p) writeFileSync(join(state.dir, "pids", `${name}.pid`), `${p.pid}\n`);
  }
}

function shellValue(v: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]*$/.test(v) ? v : `'${v.replaceAll("'", `'\\''`)}'`;
}

function envLines(state: ClusterState): string {
  const vars: [string, string][] = [
    ["KUBECONFIG", state.kubeconfig],
    ["KGQL_APISERVER", state.server],
    ["KGQL_ADMIN_TOKEN", state.adminToken],
    ["KGQL_ETCD", state.etcd],
    ["KGQL_CA_FILE", state.caFile],
    ["KGQL_CLUSTER_DIR", state.dir],
  ];
  for (const u of Object.values(state.users)) {
    vars.push([`KGQL_TOKEN_${u.name.toUpperCase()}`, u.token]);
    vars.push([`KGQL_KUBECONFIG_${u.name.toUpperCase()}`, u.kubeconfig]);
  }
  return vars.map(([k, v]) => `${k}=${shellValue(v)}\n`).join("");
}

export function kubeconfigYaml(server: string, caPem: string, user: string, token: string): string {
  const ca = Buffer.from(caPem).toString("base64");
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: kgql-test",
    "  cluster:",
    `    server: ${server}`,
    `    certificate-authority-data: ${ca}`,
    "users:",
    `- name: ${user}`,
    "  user:",
    `    token: ${token}`,
    "contexts:",
    "- name: kgql-test",
    "  context:",
    "    cluster: kgql-test",
    `    user: ${user}`,
    "current-context: kgql-test",
    "",
  ].join("\n");
}

/** An admin client for a recorded cluster. */
export function adminApi(state: ClusterState): KubeApi {
  return new KubeApi({
    server: state.server,
    ca: readFileSync(state.caFile, "utf8"),
    token: state.adminToken,
  });
}

// ---------------------------------------------------------------------------------------------
// Processes

function procStat(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  } catch {
    return null;
  }
}

function procCmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return [];
  }
}

/** Alive (not a zombie) and running `bin`: a recorded pid is only ever signalled after this check. */
export function isOurProcess(pid: number, bin: string): boolean {
  const st = procStat(pid);
  if (st === null || st === "Z" || st === "X") return false;
  const argv = procCmdline(pid);
  if (argv.length > 0) return argv[0] === bin;
  // Right after spawn() returns, the kernel may still be inside execve: the new memory map is in
  // place but its argv is not, so cmdline reads empty (seen with the ~100 MB kube-apiserver
  // binary). Only a pid this process spawned moments ago is in that window; any other empty
  // cmdline (a kernel thread that reused a stale pid) is not ours.
  const spawnedAt = justSpawned.get(pid);
  return spawnedAt !== undefined && performance.now() - spawnedAt < EXEC_WINDOW_MS;
}

/** Pids spawned by this process, with when: see isOurProcess. */
const justSpawned = new Map<number, number>();
const EXEC_WINDOW_MS = 5000;

function processAlive(pid: number): boolean {
  const st = procStat(pid);
  return st !== null && st !== "Z" && st !== "X";
}

function spawnDetached(
  name: Component,
  bin: string,
  args: string[],
  logFile: string,
  append: boolean,
): number {
  const fd = openSync(logFile, append ? "a" : "w");
  writeSync(fd, `==== ${new Date().toISOString()} starting ${name}: ${bin} ${args.join(" ")}\n`);
  try {
    const env = { ...process.env };
    delete env.KUBECONFIG;
    const child = spawn(bin, args, { detached: true, stdio: ["ignore", fd, fd], env, cwd: repoRoot });
    child.on("error", () => {}); // a missing binary shows up as a dead pid below
    child.unref();
    if (!child.pid) throw new Error(`could not start ${name} (${bin})`);
    justSpawned.set(child.pid, performance.now());
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** SIGTERM, then SIGKILL after `graceMs` (or SIGKILL at once); resolves once the process is gone. */
async function stopProcess(
  pid: number,
  bin: string,
  graceMs: number,
  signal: "SIGTERM" | "SIGKILL" = "SIGTERM",
): Promise<"gone" | "terminated" | "killed"> {
  if (!isOurProcess(pid, bin)) return "gone";
  try {
    process.kill(pid, signal);
  } catch {
    return "gone";
  }
  const deadline = performance.now() + (signal === "SIGKILL" ? 0 : graceMs);
  while (performance.now() < deadline) {
    if (!processAlive(pid)) return "terminated";
    await sleep(50);
  }
  if (isOurProcess(pid, bin)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
  for (let i = 0; i < 100 && processAlive(pid); i++) await sleep(50);
  if (processAlive(pid)) throw new Error(`${bin} (pid ${pid}) survived SIGKILL`);
  return "killed";
}

/** Processes running one of the cluster binaries with an argument inside `dir` (ours by construction). */
export function findClusterProcesses(dir: string): { pid: number; bin: string }[] {
  const bins = new Set(components.map(binaryPath));
  const found: { pid: number; bin: string }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const argv = procCmdline(pid);
    const bin = argv[0];
    if (!bin || !bins.has(bin) || !processAlive(pid)) continue;
    if (argv.slice(1).some((a) => a.includes(`${dir}/`))) found.push({ pid, bin });
  }
  return found;
}

function logTail(file: string, lines = 25): string {
  try {
    const text = readFileSync(file, "utf8");
    return text
      .split("\n")
      .slice(-lines - 1)
      .join("\n");
  } catch {
    return "(no log)";
  }
}

// ---------------------------------------------------------------------------------------------
// Lock (a directory: atomic to create; stale when its owner pid is gone)

export async function withLock<T>(dir: string, fn: () => Promise<T>, log: Logger = defaultLog): Promise<T> {
  mkdirSync(dir, { recursive: true });
  const lock = join(dir, ".lock");
  const deadline = Date.now() + 45 * 60_000;
  let announced = false;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, "owner"), `${process.pid}\n`);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    let owner = 0;
    try {
      owner = Number(readFileSync(join(lock, "owner"), "utf8").trim());
    } catch {}
    let age = 0;
    try {
      age = Date.now() - statSync(lock).mtimeMs;
    } catch {}
    if ((owner && !processAlive(owner)) || (!owner && age > 10_000)) {
      rmSync(lock, { recursive: true, force: true });
      continue;
    }
    if (!announced) {
      log(`waiting for ${lock} (held by pid ${owner || "?"})`);
      announced = true;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for the cluster lock ${lock}`);
    await sleep(250);
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Health

/** null when every recorded process runs and the apiserver's /readyz is 200, else the reason. */
export async function unhealthyReason(state: ClusterState): Promise<string | null> {
  if (!state.ready) return "the recorded cluster never finished starting";
  if (state.binDir !== getCachePaths().bin) return `it runs binaries from ${state.binDir} (versions changed)`;
  for (const c of components) {
    const p = state.processes[c];
    if (!p) return `${c} is not recorded`;
    if (!isOurProcess(p.pid, p.bin)) return `${c} (pid ${p.pid}) is not running`;
  }
  const api = adminApi(state);
  try {
    const res = await api.get("/readyz", { allowError: true, timeoutMs: 3000 });
    if (res.status !== 200) return `/readyz answered ${res.status}: ${String(res.body).slice(0, 300)}`;
  } catch (err) {
    return `/readyz failed: ${(err as Error).message}`;
  } finally {
    api.close();
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// up

export interface UpOptions {
  dir?: string;
  /** Number of kwok nodes (kwok-node-0 ...), default 1. */
  nodes?: number;
  log?: Logger;
}

export interface UpResult {
  state: ClusterState;
  reused: boolean;
  ms: number;
}

/** Reuses the cluster recorded in `dir` when it is healthy, else builds if needed and starts one. */
export async function up(opts: UpOptions = {}): Promise<UpResult> {
  const dir = clusterDir(opts.dir);
  const log = opts.log ?? defaultLog;
  const start = performance.now();
  return withLock(
    dir,
    async () => {
      const existing = readState(dir);
      if (existing) {
        const reason = await unhealthyReason(existing);
        if (reason === null) return { state: existing, reused: true, ms: performance.now() - start };
        log(`recorded cluster in ${dir} is not usable (${reason}): stopping what is left and starting anew`);
        await stopAll(dir, log);
      } else if (findClusterProcesses(dir).length > 0) {
        await stopAll(dir, log);
      }
      if (!binariesPresent()) await build(log);
      let state: ClusterState;
      try {
        state = await startCluster(dir, opts.nodes ?? 1, log);
      } catch (err) {
        // The free ports are probed before the components bind them: another program may have
        // taken one in between. Try once more with new ports.
        if (!/address already in use/.test(String((err as Error).message))) throw err;
        log("a port was taken before a component could bind it: retrying with new ports");
        state = await startCluster(dir, opts.nodes ?? 1, log);
      }
      return { state, reused: false, ms: performance.now() - start };
    },
    log,
  );
}

async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const srv = net.createServer();
      await new Promise<void>((res, rej) => {
        srv.once("error", rej);
        srv.listen(0, "127.0.0.1", res);
      });
      servers.push(srv);
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((res) => s.close(res))));
  }
}

function token(): string {
  return randomBytes(24).toString("hex");
}

/** The CA certificate from the apiserver's self-signed bundle (serving cert followed by its CA). */
function extractCa(bundlePem: string): string {
  const blocks = bundlePem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  for (const pem of blocks) {
    const cert = new X509Certificate(pem);
    if (cert.ca && cert.subject === cert.issuer) return `${pem}\n`;
  }
  throw new Error(`no CA certificate in the apiserver's self-signed bundle (${blocks.length} certificates)`);
}

function kwokStages(stagesDir: string): string {
  const files = [
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-complete.yaml",
    "pod/fast/pod-delete.yaml",
  ];
  return files.map((f) => `# from ${f}\n${readFileSync(join(stagesDir, f), "utf8").trim()}\n`).join("---\n");
}

function nodeObject(name: string): object {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      annotations: {
        [kwokNodeAnnotation.key]: kwokNodeAnnotation.value,
        "node.alpha.kubernetes.io/ttl": "0",
      },
      labels: {
        type: "kwok",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "node-role.kubernetes.io/agent": "",
      },
    },
    spec: {},
  };
}

async function startCluster(dir: string, nodeCount: number, log: Logger): Promise<ClusterState> {
  const t0 = performance.now();
  const paths = getCachePaths();
  for (const sub of ["pids", "pki", "data", "state.json", "env"])
    rmSync(join(dir, sub), { recursive: true, force: true });
  for (const f of readdirSync(dir)) if (f.startsWith("kubeconfig")) rmSync(join(dir, f), { force: true });
  const logs = join(dir, "logs");
  const pki = join(dir, "pki");
  for (const d of [logs, join(dir, "pids"), join(pki, "apiserver"), join(dir, "data")])
    mkdirSync(d, { recursive: true });

  const [etcdPort, etcdPeerPort, apiserverPort, kcmPort] = (await freePorts(4)) as [
    number,
    number,
    number,
    number,
  ];
  const server = `https://127.0.0.1:${apiserverPort}`;
  const etcd = `http://127.0.0.1:${etcdPort}`;

  // Credentials: static tokens and the service-account signing key.
  const adminToken = token();
  const users: Record<string, UserRecord> = {};
  const csv = [`${adminToken},kgql-admin,kgql-admin,"system:masters"`];
  for (const u of restrictedUsers) {
    const t = token();
    users[u.name] = {
      name: u.name,
      token: t,
      groups: [...u.groups],
      kubeconfig: join(dir, `kubeconfig.${u.name}`),
    };
    csv.push(`${t},${u.name},${u.name},"${u.groups.join(",")}"`);
  }
  const tokenFile = join(pki, "tokens.csv");
  writeFileSync(tokenFile, `${csv.join("\n")}\n`, { mode: 0o600 });
  const { privateKey, publicKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  const saKey = join(pki, "sa.key");
  const saPub = join(pki, "sa.pub");
  writeFileSync(saKey, privateKey, { mode: 0o600 });
  writeFileSync(saPub, publicKey);
  const caFile = join(pki, "ca.crt");
  const kubeconfig = join(dir, "kubeconfig");
  const kwokConfig = join(dir, "kwok.yaml");
  writeFileSync(kwokConfig, kwokStages(paths.stages));

  const state: ClusterState = {
    version: 1,
    dir,
    binDir: paths.bin,
    ready: false,
    createdAt: new Date().toISOString(),
    server,
    apiserverPort,
    etcd,
    etcdPeerPort,
    controllerManagerPort: kcmPort,
    caFile,
    kubeconfig,
    adminToken,
    users,
    nodes: Array.from({ length: nodeCount }, (_, i) => `kwok-node-${i}`),
    processes: {},
    envFile: join(dir, "env"),
  };

  const args: Record<Component, string[]> = {
    etcd: [
      "--name=default",
      `--data-dir=${join(dir, "data", "etcd")}`,
      `--listen-client-urls=${etcd}`,
      `--advertise-client-urls=${etcd}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeerPort}`,
      "--unsafe-no-fsync",
      "--log-level=warn",
    ],
    "kube-apiserver": [
      `--etcd-servers=${etcd}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${apiserverPort}`,
      `--cert-dir=${join(pki, "apiserver")}`,
      `--token-auth-file=${tokenFile}`,
      "--authorization-mode=RBAC",
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      `--service-account-key-file=${saPub}`,
      `--service-account-signing-key-file=${saKey}`,
      "--service-cluster-ip-range=10.0.0.0/24",
      "--allow-privileged=true",
      "--endpoint-reconciler-type=none",
      "--enable-priority-and-fairness=false",
      "--max-requests-inflight=0",
      "--max-mutating-requests-inflight=0",
      // Without it a SIGTERM waits ~60 s for open watches before the process exits.
      "--shutdown-watch-termination-grace-period=2s",
    ],
    "kube-controller-manager": [
      `--kubeconfig=${kubeconfig}`,
      "--leader-elect=false",
      "--bind-address=127.0.0.1",
      `--secure-port=${kcmPort}`,
      "--kube-api-qps=5000",
      "--kube-api-burst=10000",
      `--service-account-private-key-file=${saKey}`,
      `--root-ca-file=${caFile}`,
      "--use-service-account-credentials=false",
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      // its default is a host path (/usr/libexec/kubernetes/...) that it would create
      `--flex-volume-plugin-dir=${join(dir, "data", "flexvolume")}`,
    ],
    kwok: [
      `--kubeconfig=${kubeconfig}`,
      `--config=${kwokConfig}`,
      "--manage-all-nodes=false",
      `--manage-nodes-with-annotation-selector=${kwokNodeAnnotation.key}=${kwokNodeAnnotation.value}`,
      "--node-lease-duration-seconds=40",
      "--cidr=10.128.0.0/16",
    ],
  };

  const launch = (c: Component) => {
    const bin = binaryPath(c);
    const log = join(logs, `${c}.log`);
    const pid = spawnDetached(c, bin, args[c], log, false);
    state.processes[c] = { pid, bin, args: args[c], log };
    writeState(state);
  };
  /** Throws WaitAbort (with the log tail) when a started component has exited. */
  const assertRunning = () => {
    for (const [c, p] of Object.entries(state.processes)) {
      if (p && !isOurProcess(p.pid, p.bin)) {
        throw new WaitAbort(`${c} exited during startup; last lines of ${p.log}:\n${logTail(p.log)}`);
      }
    }
  };
  const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;

  try {
    launch("etcd");
    await waitFor(
      async () => {
        assertRunning();
        const res = await fetch(`${etcd}/health`, { signal: AbortSignal.timeout(2000) });
        return ((await res.json()) as { health?: string }).health;
      },
      { message: `etcd ${etcd}/health to report healthy`, until: (h) => h === "true", timeoutMs: 30_000 },
    );
    log(`etcd ready at ${etcd} (${elapsed()})`);

    launch("kube-apiserver");
    // The apiserver self-signs a serving cert (and its CA) for 127.0.0.1 into --cert-dir.
    const bundleFile = join(pki, "apiserver", "apiserver.crt");
    const bundle = await waitFor(
      () => {
        assertRunning();
        return existsSync(bundleFile) ? readFileSync(bundleFile, "utf8") : "";
      },
      {
        message: `the apiserver's self-signed certificate ${bundleFile}`,
        until: (b) => b.includes("END CERTIFICATE"),
        timeoutMs: 30_000,
      },
    );
    const ca = extractCa(bundle);
    writeFileSync(caFile, ca);
    writeFileSync(kubeconfig, kubeconfigYaml(server, ca, "kgql-admin", adminToken), { mode: 0o600 });
    for (const u of Object.values(users)) {
      writeFileSync(u.kubeconfig, kubeconfigYaml(server, ca, u.name, u.token), { mode: 0o600 });
    }
    const api = new KubeApi({ server, ca, token: adminToken });
    try {
      await waitFor(
        async () => {
          assertRunning();
          const res = await api.get("/readyz", { allowError: true, timeoutMs: 3000 });
          return `${res.status} ${String(res.body).slice(-500)}`;
        },
        {
          message: `kube-apiserver ${server}/readyz to answer 200`,
          until: (s) => s.startsWith("200"),
          timeoutMs: 60_000,
        },
      );
      log(`kube-apiserver ready at ${server} (${elapsed()})`);

      launch("kube-controller-manager");
      launch("kwok");
      for (const name of state.nodes) {
        await api.post("/api/v1/nodes", nodeObject(name), { expect: [201, 409] });
      }
      await waitFor(
        async () => {
          assertRunning();
          const res = await api.get("/api/v1/namespaces/default/serviceaccounts/default", {
            allowError: true,
          });
          return res.status;
        },
        {
          message: "the default service account (created by kube-controller-manager)",
          until: (s) => s === 200,
          timeoutMs: 60_000,
        },
      );
      await waitFor(
        async () => {
          assertRunning();
          const res = await api.get("/api/v1/nodes", { query: { labelSelector: "type=kwok" } });
          const items = res.body.items as {
            metadata: { name: string };
            status?: { conditions?: { type: string; status: string }[] };
          }[];
          return items.map((n) => ({
            name: n.metadata.name,
            ready: n.status?.conditions?.find((c) => c.type === "Ready")?.status ?? "none",
          }));
        },
        {
          message: `kwok to mark nodes ${state.nodes.join(", ")} Ready`,
          until: (nodes) =>
            state.nodes.every((name) => nodes.some((n) => n.name === name && n.ready === "True")),
          timeoutMs: 60_000,
        },
      );
      log(`kube-controller-manager and kwok ready, nodes ${state.nodes.join(", ")} Ready (${elapsed()})`);
    } finally {
      api.close();
    }
    state.ready = true;
    writeState(state);
    writeFileSync(state.envFile, envLines(state), { mode: 0o600 });
    return state;
  } catch (err) {
    log(`start failed after ${elapsed()}: stopping what was started (logs kept in ${logs})`);
    await stopAll(dir, log)
      .then(() => removeState(dir))
      .catch((e) => log(`cleanup failed: ${(e as Error).message}`));
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// down

/** Stops every process of the cluster in `dir` (recorded or found), leaving state files alone. */
async function stopAll(dir: string, log: Logger): Promise<string[]> {
  const stopped: string[] = [];
  const state = readState(dir);
  for (const c of [...components].reverse()) {
    const p = state?.processes[c];
    if (!p) continue;
    const how = await stopProcess(p.pid, p.bin, c === "kube-apiserver" ? 15_000 : 10_000);
    if (how !== "gone") stopped.push(`${c} (pid ${p.pid}, ${how})`);
  }
  // Anything else running our binaries against this directory (e.g. state lost mid-start).
  for (const p of findClusterProcesses(dir)) {
    const how = await stopProcess(p.pid, p.bin, 10_000);
    if (how !== "gone") stopped.push(`${p.bin} (pid ${p.pid}, unrecorded, ${how})`);
  }
  const left = findClusterProcesses(dir);
  if (left.length > 0) {
    throw new Error(`processes still running after stop: ${left.map((p) => `${p.pid} ${p.bin}`).join(", ")}`);
  }
  if (stopped.length > 0) log(`stopped ${stopped.join(", ")}`);
  return stopped;
}

/** Removes everything in the cluster directory but the logs (and the lock being held). */
function removeState(dir: string): void {
  for (const f of readdirSync(dir)) {
    if (f === "logs" || f === ".lock") continue;
    rmSync(join(dir, f), { recursive: true, force: true });
  }
}

export interface DownResult {
  stopped: string[];
  ms: number;
}

/** Stops the cluster in `dir` and removes its state (logs are kept). Idempotent. */
export async function down(opts: { dir?: string; log?: Logger } = {}): Promise<DownResult> {
  const dir = clusterDir(opts.dir);
  const log = opts.log ?? defaultLog;
  const start = performance.now();
  if (!existsSync(dir)) return { stopped: [], ms: 0 };
  return withLock(
    dir,
    async () => {
      const stopped = await stopAll(dir, log);
      removeState(dir);
      return { stopped, ms: performance.now() - start };
    },
    log,
  );
}

// ---------------------------------------------------------------------------------------------
// restart-apiserver

export interface RestartOptions {
  dir?: string;
  log?: Logger;
  /** SIGKILL instead of a graceful SIGTERM: a crash, connections cut without a goodbye. */
  kill?: boolean;
}

/**
 * Stops kube-apiserver and starts it again with the same args (same etcd, address, port, certs);
 * resolves once /readyz is 200. `ms` covers stop + start.
 */
export async function restartApiserver(opts: RestartOptions = {}): Promise<{ ms: number }> {
  const dir = clusterDir(opts.dir);
  const log = opts.log ?? defaultLog;
  return withLock(
    dir,
    async () => {
      const state = readState(dir);
      const p = state?.processes["kube-apiserver"];
      if (!state?.ready || !p) throw new Error(`no running cluster recorded in ${dir} (run cluster:up)`);
      const start = performance.now();
      const how = await stopProcess(p.pid, p.bin, 15_000, opts.kill ? "SIGKILL" : "SIGTERM");
      log(
        `kube-apiserver pid ${p.pid} ${how === "gone" ? "was not running" : how} after ${Math.round(performance.now() - start)} ms`,
      );
      const pid = spawnDetached("kube-apiserver", p.bin, p.args, p.log, true);
      state.processes["kube-apiserver"] = { ...p, pid };
      writeState(state);
      const api = adminApi(state);
      try {
        await waitFor(
          async () => {
            if (!isOurProcess(pid, p.bin)) {
              throw new WaitAbort(
                `kube-apiserver exited on restart; last lines of ${p.log}:\n${logTail(p.log)}`,
              );
            }
            const res = await api.get("/readyz", { allowError: true, timeoutMs: 3000 });
            return `${res.status} ${String(res.body).slice(-500)}`;
          },
          {
            message: `kube-apiserver ${state.server}/readyz to answer 200 after restart`,
            until: (s) => s.startsWith("200"),
            timeoutMs: 60_000,
          },
        );
      } finally {
        api.close();
      }
      return { ms: performance.now() - start };
    },
    log,
  );
}

// ---------------------------------------------------------------------------------------------
// status

export interface ClusterStatus {
  dir: string;
  state: ClusterState | null;
  processes: { name: string; pid: number | null; running: boolean }[];
  healthy: boolean;
  reason: string | null;
}

export async function status(opts: { dir?: string } = {}): Promise<ClusterStatus> {
  const dir = clusterDir(opts.dir);
  const state = readState(dir);
  const processes = components.map((c) => {
    const p = state?.processes[c];
    return { name: c, pid: p?.pid ?? null, running: p ? isOurProcess(p.pid, p.bin) : false };
  });
  const reason = state ? await unhealthyReason(state) : "no cluster recorded";
  return { dir, state, processes, healthy: reason === null, reason };
}
