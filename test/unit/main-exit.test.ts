// kgql exits after an error at startup even when its stderr is a pipe nobody reads: the log's
// writes, retried while the pipe is full, must not keep the process alive after main returns.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { type AddressInfo, createServer } from "node:net";
import { describe, it } from "node:test";

const BIN = new URL("../../bin/kgql.js", import.meta.url).pathname;
/** A child that has not exited by then is stuck: killed, and the test fails. */
const STUCK_MS = 8000;

/**
 * Loaded before kgql: fills the stderr pipe (non-blocking writes, smaller and smaller, until not
 * even a byte fits), so that every write kgql makes to it stays pending.
 */
const FILL_STDERR = `data:text/javascript,${encodeURIComponent(`
  import { writeSync } from "node:fs";
  process.stderr; // opens fd 2 as a non-blocking pipe
  for (const size of [65536, 4096, 256, 16, 1]) {
    const chunk = Buffer.alloc(size, 120);
    try { for (;;) writeSync(2, chunk); } catch (err) { if (err.code !== "EAGAIN") throw err; }
  }
  process.stdout.write("stderr full\\n");
`)}`;

function runKgql(args: string[]): Promise<{ code: number | null; signal: string | null; stdout: string }> {
  const child = spawn(process.execPath, ["--import", FILL_STDERR, BIN, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, KUBECONFIG: "" },
  });
  let stdout = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d;
  });
  // stderr is never read.
  const stuck = setTimeout(() => child.kill("SIGKILL"), STUCK_MS);
  return new Promise((resolve) => {
    child.on("close", (code, signal) => {
      clearTimeout(stuck);
      resolve({ code, signal, stdout });
    });
  });
}

describe("kgql failing at startup with stderr full", () => {
  it("a kubeconfig that does not exist, a log line pending: exits by itself with code 2", async () => {
    // --insecure on 0.0.0.0 logs a warning before the kubeconfig is looked for.
    const r = await runKgql(["--kubeconfig", "/nonexistent", "--host", "0.0.0.0", "--insecure"]);
    assert.equal(r.stdout, "stderr full\n", "the pipe was full before kgql started");
    assert.equal(r.signal, null, "exited by itself, not killed as stuck");
    assert.equal(r.code, 2);
  });

  it("the demo cluster on a port in use: exits by itself with code 1", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = taken.address() as AddressInfo;
      const r = await runKgql(["--demo", "--port", String(port)]);
      assert.equal(r.signal, null, "exited by itself, not killed as stuck");
      assert.equal(r.code, 1);
    } finally {
      taken.close();
    }
  });
});

describe("kgql refusing contradictory flags", () => {
  it("--demo with --kubeconfig or KGQL_CONTEXT: one line naming both, exit 2, nothing started", () => {
    for (const [args, env, named] of [
      [["--demo", "--kubeconfig", "/nonexistent"], {}, "--kubeconfig \\(KGQL_KUBECONFIG\\)"],
      [["--demo"], { KGQL_CONTEXT: "prod" }, "--context \\(KGQL_CONTEXT\\)"],
    ] as const) {
      const r = spawnSync(process.execPath, [BIN, ...args], {
        env: { ...process.env, KUBECONFIG: "", ...env },
        encoding: "utf8",
        timeout: STUCK_MS,
      });
      assert.equal(r.status, 2, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`^kgql: --demo serves the built-in demo cluster, so ${named} would be ignored`),
      );
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
  });
});
