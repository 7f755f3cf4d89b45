// The clusters one kgql process serves: one Gateway each (its own client, informer factory,
// discovery, hubs and freshness), by name. The first is the default cluster, which root fields
// read when their `cluster` argument is left out, so single-cluster queries work unchanged.

import { userError } from "../resolvers/errors.ts";
import type { Gateway } from "../resolvers/gateway.ts";

/** Cluster names: DNS labels, so they fit in URLs, metric labels and log fields as they are. */
export const CLUSTER_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export class ClusterRegistry {
  readonly default: Gateway;
  private readonly byName = new Map<string, Gateway>();

  /** The gateways, the default cluster's first; names must be distinct. */
  constructor(gateways: readonly Gateway[]) {
    if (gateways.length === 0) throw new Error("a cluster registry needs at least one gateway");
    for (const g of gateways) {
      if (this.byName.has(g.cluster)) throw new Error(`cluster "${g.cluster}" is given twice`);
      this.byName.set(g.cluster, g);
    }
    this.default = gateways[0]!;
  }

  get size(): number {
    return this.byName.size;
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  all(): Gateway[] {
    return [...this.byName.values()];
  }

  get(name: string): Gateway | undefined {
    return this.byName.get(name);
  }

  /** The gateway of a cluster a caller named; BAD_USER_INPUT naming the known ones otherwise. */
  require(name: string): Gateway {
    const gateway = this.byName.get(name);
    if (!gateway) throw unknownCluster(name, this.names());
    return gateway;
  }

  start(): void {
    for (const g of this.byName.values()) g.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.all().map((g) => g.stop()));
  }
}

export function unknownCluster(name: string, known: readonly string[]) {
  return userError(
    `unknown cluster "${name}": this gateway serves ${known.map((n) => `"${n}"`).join(", ")} (query clusters for the list)`,
    "BAD_USER_INPUT",
    { argument: "cluster", clusters: known },
  );
}
