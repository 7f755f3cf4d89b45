// Renders deploy/kgql.yaml for a namespace and image: `node deploy/render.ts [--namespace ns] [--image img]`.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { dumpYaml, loadAllYaml } from "@kubernetes/client-node";

const TEMPLATE_NAMESPACE = "kgql-system";

// biome-ignore lint/suspicious/noExplicitAny: manifests are free-form YAML documents
export function renderManifests(opts: { namespace?: string; image?: string } = {}): any[] {
  const text = readFileSync(new URL("./kgql.yaml", import.meta.url), "utf8");
  const namespace = opts.namespace ?? TEMPLATE_NAMESPACE;
  return loadAllYaml(text)
    .filter(Boolean)
    .map((doc) => {
      if (doc.metadata?.namespace) doc.metadata.namespace = namespace;
      for (const s of doc.subjects ?? []) if (s.kind === "ServiceAccount") s.namespace = namespace;
      if (doc.kind === "Deployment" && opts.image) doc.spec.template.spec.containers[0].image = opts.image;
      // Cluster-scoped objects get a per-namespace name so several installs can coexist.
      if (!doc.metadata?.namespace && namespace !== TEMPLATE_NAMESPACE)
        doc.metadata.name = `kgql-${namespace}`;
      if (doc.kind === "ClusterRoleBinding" && namespace !== TEMPLATE_NAMESPACE)
        doc.roleRef.name = `kgql-${namespace}`;
      return doc;
    });
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { namespace: { type: "string" }, image: { type: "string" } } });
  process.stdout.write(
    renderManifests(values)
      .map((d) => dumpYaml(d))
      .join("---\n"),
  );
}
