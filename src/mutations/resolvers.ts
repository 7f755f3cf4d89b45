// The Mutation resolvers: each runs its action (actions.ts, drain.ts, apply.ts) with a Writer
// acting as the caller, and writes one audit line, whatever the outcome.
import type { GraphQLResolveInfo } from "graphql";
import type { ApiResource } from "../informers/discovery.ts";
import type { RequestContext } from "../resolvers/context.ts";
import { userError } from "../resolvers/errors.ts";
import type { Logger } from "../server/request-log.ts";
import { deleteObject, patchObject, restartPatch } from "./actions.ts";
import { applyManifest, checkNamespaceFor, informerOf, servedResource } from "./apply.ts";
import { drainNode } from "./drain.ts";
import { kind, RESTARTABLE_KINDS, SCALABLE_KINDS } from "./schema.ts";
import { codeOf, resourceName } from "./write-errors.ts";
import { Writer } from "./writer.ts";

// biome-ignore lint/suspicious/noExplicitAny: GraphQL arguments, checked by the schema
type Args = Record<string, any>;
type Action = (w: Writer, args: Args) => Promise<unknown>;

/** The audit line's destination: kgql's log (pino), one info line per mutation. */
export type AuditLog = Pick<Logger, "info">;

function actions(): Record<string, Action> {
  const out: Record<string, Action> = {};
  for (const k of SCALABLE_KINDS) {
    out[`scale${k}`] = (w, a) => {
      if (!Number.isInteger(a.replicas) || a.replicas < 0)
        throw userError(`replicas must be 0 or more (got ${a.replicas})`, "BAD_USER_INPUT", {
          argument: "replicas",
        });
      return patchObject(
        w,
        kind(k),
        a.namespace,
        a.name,
        { spec: { replicas: a.replicas } },
        a.resourceVersion,
      );
    };
  }
  for (const k of RESTARTABLE_KINDS) {
    out[`restart${k}`] = (w, a) =>
      patchObject(w, kind(k), a.namespace, a.name, restartPatch(), a.resourceVersion);
  }
  out.suspendCronJob = (w, a) =>
    patchObject(w, kind("CronJob"), a.namespace, a.name, { spec: { suspend: a.suspend } }, a.resourceVersion);
  // null removes the field, as kubectl uncordon does.
  out.cordonNode = (w, a) =>
    patchObject(w, kind("Node"), undefined, a.name, { spec: { unschedulable: true } }, a.resourceVersion);
  out.uncordonNode = (w, a) =>
    patchObject(w, kind("Node"), undefined, a.name, { spec: { unschedulable: null } }, a.resourceVersion);
  out.drainNode = (w, a) => drainNode(w, a.name, a.gracePeriodSeconds);
  out.deletePod = (w, a) =>
    deleteObject(w, kind("Pod"), () => informerOf(w, kind("Pod")), a.namespace, a.name, {
      gracePeriodSeconds: a.gracePeriodSeconds,
      resourceVersion: a.resourceVersion,
    });
  out.applyManifest = (w, a) =>
    applyManifest(w, {
      manifest: a.manifest,
      yaml: a.yaml,
      namespace: a.namespace,
      fieldManager: a.fieldManager,
      force: a.force,
    });
  out.deleteResource = async (w, a) => {
    const gvr = { group: a.group ?? "", version: a.version, resource: a.resource };
    const resource = await servedResourceOf(w, gvr);
    checkNamespaceFor(resource, a.namespace ?? undefined, "the namespace");
    const cacheable = resource.verbs.includes("list") && resource.verbs.includes("watch");
    const informer = cacheable ? () => informerOf(w, resource) : undefined;
    return deleteObject(w, resource, informer, a.namespace ?? undefined, a.name, {
      gracePeriodSeconds: a.gracePeriodSeconds,
      propagationPolicy: a.propagationPolicy,
      resourceVersion: a.resourceVersion,
    });
  };
  return out;
}

/** A resource the apiserver serves (any verbs), or BAD_USER_INPUT naming close ones. */
async function servedResourceOf(
  w: Writer,
  gvr: { group: string; version: string; resource: string },
): Promise<ApiResource> {
  const found = await servedResource(
    w,
    (r) => r.group === gvr.group && r.version === gvr.version && r.resource === gvr.resource,
  );
  if (found) return found;
  // resolve() builds the "not served, did you mean" message.
  try {
    await w.ctx.gateway.factory.discovery.resolve(gvr);
  } catch (err) {
    throw userError((err as Error).message, "BAD_USER_INPUT", { argument: "resource" });
  }
  throw userError(`the apiserver does not serve ${gvr.resource}`, "BAD_USER_INPUT");
}

export function mutationResolvers(audit: AuditLog | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, action] of Object.entries(actions())) {
    out[field] = async (_: unknown, args: Args, ctx: RequestContext, _info: GraphQLResolveInfo) => {
      const w = new Writer(ctx, args.dryRun === true);
      let result = "ok";
      try {
        return await action(w, args);
      } catch (err) {
        result = codeOf(err);
        throw err;
      } finally {
        const t = w.subject;
        audit?.info(
          {
            audit: "mutation",
            // With --auth none there is no caller: the kubeconfig's credentials wrote.
            user: w.user?.username ?? null,
            as: w.user ? "impersonated" : w.refused ? "refused" : "kubeconfig",
            action: field,
            verb: t?.verb,
            cluster: ctx.gateway.cluster,
            resource: t ? resourceName(t) : undefined,
            namespace: t?.namespace ?? args.namespace ?? undefined,
            name: t?.name ?? args.name ?? undefined,
            dryRun: w.dryRun,
            result,
          },
          "mutation",
        );
      }
    };
  }
  return out;
}
