// --cluster NAME=KUBECONFIG[:CONTEXT] (or NAME=in-cluster): one cluster of several, parsed.
import { CLUSTER_NAME } from "./registry.ts";

export interface ClusterSpec {
  name: string;
  /** The kubeconfig file; undefined for the in-cluster service account. */
  kubeconfig?: string;
  /** A context of that kubeconfig; undefined: its current context. */
  context?: string;
}

export const IN_CLUSTER = "in-cluster";

/**
 * One --cluster value. The context follows the first colon after the path: context names may
 * hold colons themselves (EKS names them by ARN), kubeconfig paths practically never do.
 */
export function parseClusterSpec(text: string): ClusterSpec {
  const eq = text.indexOf("=");
  const hint = `give NAME=KUBECONFIG[:CONTEXT] or NAME=${IN_CLUSTER}, e.g. prod=/etc/kgql/prod.kubeconfig:admin`;
  if (eq <= 0) throw new Error(`invalid --cluster "${text}": ${hint}`);
  const name = text.slice(0, eq);
  const rest = text.slice(eq + 1);
  if (!CLUSTER_NAME.test(name))
    throw new Error(
      `invalid --cluster "${text}": the name "${name}" must be lowercase letters, digits and dashes (a DNS label)`,
    );
  if (!rest) throw new Error(`invalid --cluster "${text}": no kubeconfig after "${name}="; ${hint}`);
  if (rest === IN_CLUSTER) return { name };
  const colon = rest.indexOf(":");
  if (colon < 0) return { name, kubeconfig: rest };
  const kubeconfig = rest.slice(0, colon);
  const context = rest.slice(colon + 1);
  if (!kubeconfig || !context) throw new Error(`invalid --cluster "${text}": ${hint}`);
  return { name, kubeconfig, context };
}

/** Every --cluster value, checked for names given twice. */
export function parseClusterSpecs(values: readonly string[]): ClusterSpec[] {
  const specs = values.map(parseClusterSpec);
  const seen = new Set<string>();
  for (const s of specs) {
    if (seen.has(s.name))
      throw new Error(`--cluster "${s.name}" is given twice: give each cluster a name of its own`);
    seen.add(s.name);
  }
  return specs;
}
