// The logger (src/log.ts) never holds the process up on a stderr pipe nobody reads: it keeps
// answering while lines are dropped, and it exits, by close() or otherwise, in bounded time.
// Each case runs in a child process whose stderr is a pipe this test reads or not.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";

const LOG_MODULE = new URL("../../src/log.ts", import.meta.url).href;
/** A child that has not exited by then is stuck: killed, and the test fails. */
const STUCK_MS = 1500;

interface ChildResult {
  code: number | null;
  stdout: string;
  /** What the child logged, when the test reads its stderr. */
  stderr?: string;
}

/** Runs `body` (an ES module body with `createLogger` imported) with stderr read or left full. */
function runChild(body: string, readStderr: boolean): Promise<ChildResult> {
  const script = `import { createLogger } from ${JSON.stringify(LOG_MODULE)};\n${body}`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d;
  });
  if (readStderr) {
    child.stderr.on("data", (d: Buffer) => {
      stderr += d;
    });
  }
  const stuck = setTimeout(() => child.kill("SIGKILL"), STUCK_MS);
  return new Promise((resolve) => {
    child.on("close", (code) => {
      clearTimeout(stuck);
      resolve({ code, stdout, ...(readStderr ? { stderr } : {}) });
    });
  });
}

/** Logs `n` lines of about 250 bytes. */
const logLines = (n: number) =>
  `const { log, close } = createLogger("info");
   const padding = "x".repeat(200);
   for (let i = 0; i < ${n}; i++) log.info({ i, padding }, "line");\n`;

describe("logging to a stderr pipe", () => {
  it("nobody reading it: the process still answers, and exits after close()", async () => {
    // 5 MB of lines: far more than the pipe and the buffer hold.
    const r = await runChild(
      `${logLines(20_000)}
       process.stdout.write("answered\\n");
       await close(100);
       process.exit(0);`,
      false,
    );
    assert.equal(r.stdout, "answered\n");
    assert.equal(r.code, 0, "exited by itself");
  });

  it("nobody reading it: an exit without close() is bounded too", async () => {
    const r = await runChild(`${logLines(20_000)} process.exit(3);`, false);
    assert.equal(r.code, 3, "exited by itself");
  });

  it("read: every line is written before close() returns", async () => {
    const r = await runChild(`${logLines(3000)} await close(); process.exit(0);`, true);
    assert.equal(r.code, 0);
    const lines = r.stderr!.trimEnd().split("\n");
    assert.equal(lines.length, 3000);
    assert.equal(JSON.parse(lines.at(-1)!).i, 2999);
  });
});
