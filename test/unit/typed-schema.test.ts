// OpenAPI -> GraphQL for typed resources (--resources), on real CRD schemas (test/fixtures/crds):
// the generated schema is valid, and int-or-string, preserve-unknown-fields, maps, nested
// arrays, name collisions and property names that are not GraphQL names follow the rules.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { GraphQLObjectType, type GraphQLSchema, printType } from "graphql";
import { parse as parseYaml } from "yaml";
import type { ApiResource } from "../../src/informers/discovery.ts";
import { buildSchema } from "../../src/resolvers/index.ts";
import { schemaNames } from "../../src/schema/index.ts";
import { parseResourceEntries, ResourceEntryError } from "../../src/typed/entries.ts";
import type { OpenApiDocument, OpenApiSchema } from "../../src/typed/openapi.ts";
import { typedSchema } from "../../src/typed/types.ts";

interface Crd {
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string; singular: string };
    versions: { name: string; storage: boolean; schema: { openAPIV3Schema: OpenApiSchema } }[];
  };
}

const fixture = (file: string): Crd =>
  parseYaml(readFileSync(new URL(`../fixtures/crds/${file}`, import.meta.url), "utf8")) as Crd;

/** A CRD as discovery lists it and as /openapi/v3 publishes its schema. */
function served(
  crd: Crd,
  group = crd.spec.group,
): { resource: ApiResource; gv: string; doc: OpenApiDocument } {
  const v = crd.spec.versions.find((x) => x.storage)!;
  const kind = crd.spec.names.kind;
  const resource: ApiResource = {
    group,
    version: v.name,
    resource: crd.spec.names.plural,
    kind,
    namespaced: crd.spec.scope === "Namespaced",
    verbs: ["list", "watch", "get"],
    shortNames: [],
    singularName: crd.spec.names.singular,
    preferred: true,
  };
  const name = `${group.split(".").reverse().join(".")}.${v.name}.${kind}`;
  const doc: OpenApiDocument = {
    components: {
      schemas: {
        [name]: {
          ...v.schema.openAPIV3Schema,
          "x-kubernetes-group-version-kind": [{ group, version: v.name, kind }],
        },
      },
    },
  };
  return { resource, gv: `apis/${group}/${v.name}`, doc };
}

function build(list: ReturnType<typeof served>[]): GraphQLSchema {
  const typed = typedSchema(
    list.map((s) => s.resource),
    new Map(list.map((s) => [s.gv, s.doc])),
    schemaNames(),
  );
  return buildSchema({ typed });
}

const field = (schema: GraphQLSchema, type: string, name: string) => {
  const t = schema.getType(type);
  assert.ok(t instanceof GraphQLObjectType, `${type} is an object type`);
  const f = t.getFields()[name];
  assert.ok(f, `${type}.${name} exists (fields: ${Object.keys(t.getFields()).join(", ")})`);
  return String(f.type);
};

describe("typed resources: OpenAPI to GraphQL", () => {
  const app = served(fixture("argocd-application.yaml"));
  const cert = served(fixture("cert-manager-certificate.yaml"));

  it("real CRDs give a valid schema with typed spec/status and root fields", () => {
    const schema = build([app, cert]);
    assert.equal(field(schema, "Application", "spec"), "ApplicationSpec");
    assert.equal(field(schema, "Application", "status"), "ApplicationStatus");
    assert.equal(field(schema, "ApplicationSpec", "destination"), "ApplicationSpecDestination");
    assert.equal(field(schema, "Certificate", "spec"), "CertificateSpec");
    assert.equal(field(schema, "CertificateSpec", "dnsNames"), "[String]");
    assert.equal(field(schema, "CertificateStatus", "conditions"), "[CertificateStatusConditions]");
    // Resource fields and traversals are there as on built-in kinds.
    for (const f of ["uid", "name", "namespace", "labels", "owners", "children", "events", "raw"])
      field(schema, "Certificate", f);
    assert.equal(field(schema, "Query", "applications"), "ApplicationConnection!");
    assert.equal(field(schema, "Query", "application"), "Application");
    assert.equal(field(schema, "Query", "certificate"), "Certificate");
    assert.equal(field(schema, "Subscription", "certificateEvents"), "CertificateEvent!");
    assert.equal(field(schema, "Namespace", "certificates"), "[Certificate!]!");
  });

  it("an Argo Rollouts Rollout: int-or-string strategy fields, a typed pod template, quantity maps", () => {
    const schema = build([served(fixture("argo-rollouts-rollout.yaml"))]);
    // kgql has a Rollout type of its own (a Deployment's rollout state): the kind is prefixed,
    // its root fields, free, are not.
    assert.equal(field(schema, "Query", "rollouts"), "ArgoprojIoRolloutConnection!");
    assert.equal(field(schema, "Query", "rollout"), "ArgoprojIoRollout");
    assert.equal(field(schema, "ArgoprojIoRolloutSpecStrategyCanary", "maxSurge"), "IntOrString");
    assert.equal(field(schema, "ArgoprojIoRolloutSpecStrategyCanary", "maxUnavailable"), "IntOrString");
    assert.equal(
      field(schema, "ArgoprojIoRolloutSpecTemplateSpec", "containers"),
      "[ArgoprojIoRolloutSpecTemplateSpecContainers]",
    );
    assert.equal(field(schema, "ArgoprojIoRolloutSpecTemplateSpecContainers", "image"), "String");
    // resources.limits: a map of int-or-string quantities
    assert.equal(
      field(schema, "ArgoprojIoRolloutSpecTemplateSpecContainersResources", "limits"),
      "JSONObject",
    );
    assert.equal(
      field(schema, "ArgoprojIoRolloutSpecTemplateSpecContainersReadinessProbeHttpGet", "port"),
      "IntOrString",
    );
  });

  it("int-or-string, preserve-unknown-fields, additionalProperties maps, nested arrays", () => {
    const schema = build([app, cert]);
    const sdl = Object.values(schema.getTypeMap())
      .filter((t) => t.name.startsWith("Application") && t instanceof GraphQLObjectType)
      .map((t) => printType(t))
      .join("\n");
    assert.match(sdl, /: IntOrString\b/, "an int-or-string field is IntOrString");
    // spec.source.helm.valuesObject: x-kubernetes-preserve-unknown-fields
    assert.equal(field(schema, "ApplicationSpecSourceHelm", "valuesObject"), "JSONObject");
    // spec.source.kustomize.commonLabels: additionalProperties map of strings
    assert.equal(field(schema, "ApplicationSpecSourceKustomize", "commonLabels"), "JSONObject");
    // spec.sources: an array of objects -> a list of a typed object
    assert.match(field(schema, "ApplicationSpec", "sources"), /^\[ApplicationSpecSources\]$/);
    assert.equal(field(schema, "ApplicationSpecSources", "repoURL"), "String");
  });

  it("two enabled resources sharing a kind both get group-prefixed names; a built-in kind name is never taken", () => {
    const other = served(fixture("argocd-application.yaml"), "apps.example.com");
    const schema = build([app, other]);
    assert.equal(schema.getType("Application"), undefined);
    field(schema, "ArgoprojIoApplication", "spec");
    field(schema, "AppsExampleComApplication", "spec");
    assert.equal(field(schema, "Query", "argoprojIoApplications"), "ArgoprojIoApplicationConnection!");
    assert.equal(
      field(schema, "Query", "appsExampleComApplications"),
      "AppsExampleComApplicationConnection!",
    );

    const job = served(fixture("cert-manager-certificate.yaml"));
    job.resource.kind = "Job";
    job.resource.resource = "jobs";
    job.resource.singularName = "job";
    const key = Object.keys(job.doc.components!.schemas!)[0]!;
    job.doc.components!.schemas![key]!["x-kubernetes-group-version-kind"]![0]!.kind = "Job";
    const s2 = build([job]);
    // The built-in Job keeps its type; the CRD's Job is prefixed.
    field(s2, "Job", "cronJob");
    assert.equal((s2.getType("Job") as GraphQLObjectType).getFields().spec, undefined);
    field(s2, "CertManagerIoJob", "spec");
    assert.equal(field(s2, "Query", "certManagerIoJobs"), "CertManagerIoJobConnection!");
  });

  it("property names that are not GraphQL names are mapped, and read their property", () => {
    const crd = served(fixture("cert-manager-certificate.yaml"));
    const key = Object.keys(crd.doc.components!.schemas!)[0]!;
    crd.doc.components!.schemas![key]!.properties!.spec!.properties = {
      "a-b": { type: "string" },
      a_b: { type: "string" },
      "9lives": { type: "integer", format: "int32" },
      __x: { type: "boolean" },
    };
    const schema = build([crd]);
    assert.equal(field(schema, "CertificateSpec", "a_b"), "String");
    assert.equal(field(schema, "CertificateSpec", "a_b_"), "String");
    assert.equal(field(schema, "CertificateSpec", "x9lives"), "Int");
    assert.equal(field(schema, "CertificateSpec", "x__x"), "Boolean");
    const t = schema.getType("CertificateSpec") as GraphQLObjectType;
    const read = (f: string) =>
      t.getFields()[f]!.resolve!({ "a-b": 1, a_b: 2, "9lives": 3, __x: 4 }, {}, {}, {} as never);
    assert.deepEqual([read("a_b"), read("a_b_"), read("x9lives"), read("x__x")], [1, 2, 3, 4]);
  });

  it("--resources entries: both spellings and all; a bad one is a clear error", () => {
    const e = parseResourceEntries([
      "widgets.example.com",
      "argoproj.io/v1alpha1/applications",
      "v1/configmaps",
      "all",
    ]);
    assert.equal(e.all, true);
    assert.deepEqual(
      e.entries.map((x) => [x.group, x.version, x.resource]),
      [
        ["example.com", undefined, "widgets"],
        ["argoproj.io", "v1alpha1", "applications"],
        ["", "v1", "configmaps"],
      ],
    );
    assert.throws(() => parseResourceEntries(["apps/v1/Deployments"]), ResourceEntryError);
    assert.throws(
      () => parseResourceEntries(["a/b/c/d"]),
      /invalid --resources entry "a\/b\/c\/d": give <resource>\.<group>/,
    );
  });
});
