// Extra indexes the resolvers need for traversals, added to the informers in one place.
import type { SharedInformer } from "../informers/shared-informer.ts";
import type { KubeObject } from "../informers/types.ts";

/** Events: the uid of their involvedObject (Pod.events, Deployment.events, ...). */
export const INVOLVED_UID_INDEX = "involvedUid";
/** EndpointSlices: the Service they belong to ("ns/name"). */
export const SERVICE_NAME_INDEX = "serviceName";
/** Ingresses: every Service they route to ("ns/name"). */
export const BACKEND_SERVICE_INDEX = "backendService";

export function ingressServiceNames(obj: KubeObject): string[] {
  const spec = obj.spec as
    | {
        defaultBackend?: { service?: { name?: string } };
        rules?: { http?: { paths?: { backend?: { service?: { name?: string } } }[] } }[];
      }
    | undefined;
  const names = new Set<string>();
  if (spec?.defaultBackend?.service?.name) names.add(spec.defaultBackend.service.name);
  for (const rule of spec?.rules ?? []) {
    for (const path of rule.http?.paths ?? [])
      if (path.backend?.service?.name) names.add(path.backend.service.name);
  }
  return [...names];
}

const extraIndexers: Record<string, Record<string, (obj: KubeObject) => readonly string[]>> = {
  events: {
    [INVOLVED_UID_INDEX]: (o) => {
      const uid = (o.involvedObject as { uid?: string } | undefined)?.uid;
      return uid ? [uid] : [];
    },
  },
  endpointslices: {
    [SERVICE_NAME_INDEX]: (o) => {
      const svc = o.metadata.labels?.["kubernetes.io/service-name"];
      return svc ? [`${o.metadata.namespace}/${svc}`] : [];
    },
  },
  ingresses: {
    [BACKEND_SERVICE_INDEX]: (o) => ingressServiceNames(o).map((n) => `${o.metadata.namespace}/${n}`),
  },
};

export function addResolverIndexes(informer: SharedInformer): void {
  const indexers = extraIndexers[informer.resource.resource];
  if (indexers) informer.addIndexers(indexers);
}
