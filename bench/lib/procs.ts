// The servers under test, each started as its own process: kgql through its CLI (exactly as a
// user runs it) and the direct-API baseline (bench/direct/server.ts).
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";

export interface ServerProcess {
  url: string;
  pid: number;
  /** From spawn until the server answered its readiness probe. */
  readyMs: number;
  stop(): Promise<void>;
}

const repo = new URL("../../", import.meta.url).pathname;

async function start(
  name: string,
  args: string[],
  urlPattern: RegExp,
  readyPath: string,
  timeoutMs: number,
): Promise<ServerProcess> {
  const t0 = performance.now();
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: repo,
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, KGQL_LOG_LEVEL: "warn" },
  });
  let stderr = "";
  let exited = false;
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString("utf8")).slice(-20_000);
      const m = urlPattern.exec(stderr);
      if (m) resolve(m[1]!);
    });
    child.once("exit", (code) => {
      exited = true;
      reject(new Error(`${name} exited with ${code}: ${stderr.slice(-2000)}`));
    });
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (exited || child.exitCode !== null) return resolve();
      const kill = setTimeout(() => child.kill("SIGKILL"), 10_000);
      child.once("exit", () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill("SIGTERM");
    });
  const probe = new URL(readyPath, url).toString();
  for (;;) {
    const ok = await fetch(probe).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (exited) throw new Error(`${name} exited: ${stderr.slice(-2000)}`);
    if (performance.now() - t0 > timeoutMs) {
      await stop();
      throw new Error(`${name} was not ready after ${timeoutMs / 1000} s: ${stderr.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url, pid: child.pid!, readyMs: performance.now() - t0, stop };
}

/** kgql through its CLI; ready once /readyz says every kind has synced. */
export function startKgql(kubeconfig: string, extraArgs: string[] = []): Promise<ServerProcess> {
  return start(
    "kgql",
    // Node's flags as `npm start` and the image give them (see bin/kgql.js).
    ["--max-semi-space-size=16", ...extraArgs, "bin/kgql.js", "--kubeconfig", kubeconfig, "--port", "0"],
    /at (http:\/\/\S+\/graphql)/,
    "/readyz",
    300_000,
  );
}

/** The direct-API baseline (bench/direct/server.ts). */
export function startDirect(kubeconfig: string): Promise<ServerProcess> {
  return start(
    "direct baseline",
    ["bench/direct/server.ts", "--kubeconfig", kubeconfig, "--port", "0"],
    /direct baseline at (http:\/\/\S+\/graphql)/,
    "/healthz",
    30_000,
  );
}

/** Peak resident set size of a process (VmHWM), in MB; undefined when it cannot be read. */
export function peakRssMB(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

/** Current resident set size of a process (VmRSS), in MB to one decimal. */
export function rssMB(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Math.round(Number(m[1]) / 102.4) / 10 : undefined;
  } catch {
    return undefined;
  }
}

/** CPU time (user + system) a process has used so far, in seconds; undefined when unreadable. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    // Fields after the command name, which is in parentheses and may hold spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of the whole line, in clock ticks (USER_HZ, 100 on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** Sends a JSON GraphQL request and returns the status and text. */
export async function post(url: string, query: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query }),
  });
  return { status: res.status, text: await res.text() };
}
