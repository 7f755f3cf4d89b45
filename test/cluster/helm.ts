// The helm CLI the chart tests render deploy/helm/kgql with: built by test/cluster/build.sh from
// the module pinned in test/cluster/helm/go.mod into a version-keyed cache (Debian ships no helm).
import { execFile, execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";

const here = dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);

let binary: string | undefined;

/** Where versions.sh says the helm binary lives (it may not be built yet). */
export function helmPath(): string {
  binary ??= execFileSync(
    "bash",
    ["-c", 'source "$1" && printf "%s" "$KGQL_HELM_BIN"', "versions", join(here, "versions.sh")],
    { encoding: "utf8" },
  );
  return binary;
}

/** The helm binary, built first when missing (build.sh reuses every cached part). */
export async function ensureHelm(): Promise<string> {
  const path = helmPath();
  if (!existsSync(path)) {
    await run("bash", [join(here, "build.sh")], { maxBuffer: 64 * 1024 * 1024 }).catch((err) => {
      throw new Error(`building helm failed: ${String(err.stderr ?? err.message).slice(-2000)}`);
    });
  }
  return path;
}

export interface HelmTemplateOptions {
  release: string;
  namespace: string;
  valuesFiles?: string[];
  /** --set-json key=value pairs. */
  setJson?: Record<string, unknown>;
}

/** `helm template` of a chart directory: its rendered objects, or its error (stderr) thrown. */
// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are free-form YAML documents
export async function helmTemplate(chart: string, opts: HelmTemplateOptions): Promise<any[]> {
  const args = ["template", opts.release, chart, "--namespace", opts.namespace];
  for (const f of opts.valuesFiles ?? []) args.push("--values", f);
  for (const [k, v] of Object.entries(opts.setJson ?? {}))
    args.push("--set-json", `${k}=${JSON.stringify(v)}`);
  try {
    const { stdout } = await run(await ensureHelm(), args, { maxBuffer: 16 * 1024 * 1024 });
    // Plain YAML, not client-node's loadAllYaml: that maps objects onto its typed models, which
    // renames fields (NetworkPolicy `from` becomes `_from`) and drops unknown ones, so a
    // misspelled field would never reach the apiserver's strict validation.
    return parseAllDocuments(stdout)
      .map((d) => d.toJS())
      .filter(Boolean);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`helm template failed: ${(e.stderr || e.message).trim()}`);
  }
}
