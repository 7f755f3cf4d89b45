// --cluster values and the command line's refusals around them.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseClusterSpec, parseClusterSpecs } from "../../src/clusters/spec.ts";
import { helpText } from "../../src/config.ts";

const BIN = new URL("../../bin/kgql.js", import.meta.url).pathname;

function kgql(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    env: { ...process.env, KUBECONFIG: "", KGQL_CLUSTER: "", ...env },
    encoding: "utf8",
    timeout: 10_000,
  });
  return { code: r.status, stderr: r.stderr };
}

describe("--cluster", () => {
  it("parses NAME=KUBECONFIG, NAME=KUBECONFIG:CONTEXT (the context may hold colons) and NAME=in-cluster", () => {
    assert.deepEqual(parseClusterSpec("prod=/etc/k/prod"), { name: "prod", kubeconfig: "/etc/k/prod" });
    assert.deepEqual(parseClusterSpec("eks=/k/c:arn:aws:eks:eu-west-1:1:cluster/x"), {
      name: "eks",
      kubeconfig: "/k/c",
      context: "arn:aws:eks:eu-west-1:1:cluster/x",
    });
    assert.deepEqual(parseClusterSpec("local=in-cluster"), { name: "local" });
  });

  it("refuses names that are not DNS labels, missing parts and names given twice", () => {
    assert.throws(() => parseClusterSpec("Prod=/k"), /must be lowercase letters, digits and dashes/);
    assert.throws(() => parseClusterSpec("/k"), /give NAME=KUBECONFIG\[:CONTEXT\]/);
    assert.throws(() => parseClusterSpec("a="), /no kubeconfig after "a="/);
    assert.throws(() => parseClusterSpec("a=/k:"), /give NAME=KUBECONFIG/);
    assert.throws(() => parseClusterSpecs(["a=/k", "b=/l", "a=/m"]), /"a" is given twice/);
  });

  it("is in --help", () => {
    assert.match(helpText(), /--cluster <name>=<kubeconfig>\[:<context>\][\s\S]*env KGQL_CLUSTER/);
  });

  it("the command line says what is wrong, in one line, exit code 2", () => {
    const dir = mkdtempSync(join(tmpdir(), "kgql-cluster-flags-"));
    const kubeconfig = join(dir, "config");
    writeFileSync(
      kubeconfig,
      "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
    );
    const cases: [string[], Record<string, string>, RegExp][] = [
      [["--cluster", `a=${kubeconfig}`, "--demo"], {}, /--cluster names every cluster served, so --demo/],
      [["--cluster", `a=${kubeconfig}`, "--kubeconfig", kubeconfig], {}, /so --kubeconfig/],
      [["--cluster", `a=${kubeconfig}:nope`], {}, /context "nope" is not in .* \(--cluster a\)/],
      [["--cluster", "a=/nonexistent"], {}, /kubeconfig not found: \/nonexistent \(--cluster a\)/],
      [[], { KGQL_CLUSTER: `a=${kubeconfig},a=${kubeconfig}` }, /"a" is given twice.*KGQL_CLUSTER/],
      [["--namespaces", "a,Bad_NS", "--demo"], {}, /invalid --namespaces .*"Bad_NS" is not a namespace name/],
      [
        [],
        { KGQL_NAMESPACES: "ok,no/pe", KGQL_DEMO: "true" },
        /KGQL_NAMESPACES.*"no\/pe" is not a namespace name/,
      ],
      // One cluster given this way is checked like --kubeconfig: unreachable is an error.
      [
        ["--cluster", `a=${kubeconfig}`, "--port", "0"],
        {},
        /cannot reach the cluster at https:\/\/127\.0\.0\.1:1/,
      ],
    ];
    for (const [args, env, message] of cases) {
      const r = kgql(args, env);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split("\n").at(-1)!.startsWith("kgql: "), true);
    }
  });
});
