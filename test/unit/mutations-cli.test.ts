// The command line's side of mutations: --enable-mutations (or KGQL_ENABLE_MUTATIONS) turns
// them on in a real kgql process, which writes one JSON audit line per mutation to its log
// (pino, stderr). On the demo cluster, with --auth none: the warning says writes use the
// kubeconfig's own credentials.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { describe, it } from "node:test";
import { envName, parseConfig } from "../../src/config.ts";
import { gql } from "../helpers/kgql.ts";

const BIN = new URL("../../bin/kgql.js", import.meta.url).pathname;

/** kgql --demo on a free port with these flags; resolves with its URL once it serves. */
function startKgql(args: string[]): Promise<{ child: ChildProcess; url: string; lines: () => string[] }> {
  const child = spawn(process.execPath, [BIN, "--demo", "--port", "0", ...args], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, KUBECONFIG: "" },
  });
  let stderr = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`kgql did not start: ${stderr}`)), 20_000);
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d;
      const m = /serving .* at (http:\/\/\S+\/graphql)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, lines: () => stderr.split("\n") });
      }
    });
    child.on("exit", (code) => reject(new Error(`kgql exited (${code}): ${stderr}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

describe("--enable-mutations", () => {
  it("is KGQL_ENABLE_MUTATIONS in the environment, off by default", () => {
    assert.equal(envName("enable-mutations"), "KGQL_ENABLE_MUTATIONS");
    assert.equal(parseConfig([], {})["enable-mutations"], false);
    assert.equal(parseConfig([], { KGQL_ENABLE_MUTATIONS: "true" })["enable-mutations"], true);
    assert.equal(parseConfig(["--enable-mutations"], {})["enable-mutations"], true);
  });

  it("a kgql process serves mutations, audits each on its log, and warns that --auth none writes with its own credentials", async () => {
    const { child, url, lines } = await startKgql(["--enable-mutations"]);
    try {
      const list = await gql(url, `{ deployments(first: 1) { nodes { namespace name } } }`);
      const d = list.data.deployments.nodes[0];
      const r = await gql(
        url,
        `mutation($ns: String!, $n: String!) { scaleDeployment(namespace: $ns, name: $n, replicas: 19, dryRun: true) { replicas } }`,
        { ns: d.namespace, n: d.name },
      );
      assert.equal(r.errors, undefined, r.text);
      assert.equal(r.data.scaleDeployment.replicas, 19);
      // The demo cluster honours dryRun: nothing was stored (its churn moves replicas by a few at most).
      const after = await gql(
        url,
        `{ deployment(namespace: "${d.namespace}", name: "${d.name}") { replicas } }`,
      );
      assert.notEqual(after.data.deployment.replicas, 19, after.text);
      const missing = await gql(url, `mutation { cordonNode(name: "nope") { name } }`);
      assert.equal(missing.errors?.[0]?.extensions?.code, "NOT_FOUND", missing.text);
      let audits: Record<string, unknown>[] = [];
      for (let i = 0; i < 100 && audits.length < 2; i++) {
        audits = lines()
          .filter((l) => l.includes('"audit":"mutation"'))
          .map((l) => JSON.parse(l));
        await new Promise((res) => setTimeout(res, 50));
      }
      assert.equal(audits.length, 2, lines().join("\n"));
      assert.deepEqual(
        audits.map((a) => [
          a.action,
          a.verb,
          a.resource,
          a.namespace,
          a.name,
          a.dryRun,
          a.result,
          a.user,
          a.as,
        ]),
        [
          [
            "scaleDeployment",
            "patch",
            "deployments.apps",
            d.namespace,
            d.name,
            true,
            "ok",
            null,
            "kubeconfig",
          ],
          ["cordonNode", "patch", "nodes", undefined, "nope", false, "NOT_FOUND", null, "kubeconfig"],
        ],
      );
      assert.ok(lines().some((l) => l.includes("write with the kubeconfig's own credentials")));
      // The request log has them too, with their codes, as for queries.
      const requests = lines()
        .filter((l) => l.includes('"msg":"request"'))
        .map((l) => JSON.parse(l));
      assert.ok(
        requests.some(
          (l) => l.method === "POST" && (l.errors as string[] | undefined)?.includes("NOT_FOUND"),
        ),
        lines().join("\n"),
      );
    } finally {
      await stop(child);
    }
  });

  it("without it, a mutation is refused saying how to turn them on", async () => {
    const { child, url } = await startKgql([]);
    try {
      const r = await gql(url, `mutation { cordonNode(name: "x") { name } }`);
      assert.match(r.errors?.[0]?.message ?? "", /--enable-mutations/, r.text);
    } finally {
      await stop(child);
    }
  });
});
