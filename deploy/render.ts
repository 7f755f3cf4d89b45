// Renders deploy/kgql.yaml for a namespace and image:
// `node deploy/render.ts [--namespace ns] [--image img] [--enable-mutations]`.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { dumpYaml, loadAllYaml } from "@kubernetes/client-node";

const TEMPLATE_NAMESPACE = "kgql-system";

/**
 * What --enable-mutations adds to the ClusterRole: kgql writes as the caller (impersonation),
 * so it may impersonate and nothing more; it never gets a write verb of its own.
 */
export const IMPERSONATION_RULES = [
  { apiGroups: [""], resources: ["users", "groups", "serviceaccounts"], verbs: ["impersonate"] },
  // A caller's uid, and its extras, whose keys are arbitrary (a bound token's credential id,
  // an OIDC provider's claims). RBAC has no "userextras/*" wildcard (a rule names a
  // subresource exactly, or "*/sub"), so the whole group: impersonate means nothing else in it.
  { apiGroups: ["authentication.k8s.io"], resources: ["*"], verbs: ["impersonate"] },
];

export interface RenderOptions {
  namespace?: string;
  image?: string;
  /** Serve mutations (KGQL_ENABLE_MUTATIONS) and grant the impersonation they need. */
  enableMutations?: boolean;
}

// biome-ignore lint/suspicious/noExplicitAny: manifests are free-form YAML documents
export function renderManifests(opts: RenderOptions = {}): any[] {
  const text = readFileSync(new URL("./kgql.yaml", import.meta.url), "utf8");
  const namespace = opts.namespace ?? TEMPLATE_NAMESPACE;
  return loadAllYaml(text)
    .filter(Boolean)
    .map((doc) => {
      if (doc.metadata?.namespace) doc.metadata.namespace = namespace;
      for (const s of doc.subjects ?? []) if (s.kind === "ServiceAccount") s.namespace = namespace;
      if (doc.kind === "Deployment" && opts.image) doc.spec.template.spec.containers[0].image = opts.image;
      if (opts.enableMutations && doc.kind === "ClusterRole") doc.rules.push(...IMPERSONATION_RULES);
      if (opts.enableMutations && doc.kind === "Deployment")
        doc.spec.template.spec.containers[0].env.push({ name: "KGQL_ENABLE_MUTATIONS", value: "true" });
      // Cluster-scoped objects get a per-namespace name so several installs can coexist.
      if (!doc.metadata?.namespace && namespace !== TEMPLATE_NAMESPACE)
        doc.metadata.name = `kgql-${namespace}`;
      if (doc.kind === "ClusterRoleBinding" && namespace !== TEMPLATE_NAMESPACE)
        doc.roleRef.name = `kgql-${namespace}`;
      return doc;
    });
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      namespace: { type: "string" },
      image: { type: "string" },
      "enable-mutations": { type: "boolean" },
    },
  });
  process.stdout.write(
    renderManifests({ ...values, enableMutations: values["enable-mutations"] })
      .map((d) => dumpYaml(d))
      .join("---\n"),
  );
}
