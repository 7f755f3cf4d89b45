// The simulated cluster: a kube-apiserver look-alike for `kgql --demo` and for deterministic
// fault tests of the informers (see cluster.ts for the public API).
export { type ChurnOptions, startChurn } from "./churn.ts";
export { SandboxCluster, type SandboxOptions } from "./cluster.ts";
export { SandboxError, type StatusBody } from "./errors.ts";
export type { FailRule, SandboxFaults, Verb } from "./faults.ts";
export type { RequestRecord } from "./http.ts";
export type { ResourceDefinition, SandboxResource } from "./resources.ts";
export { type SeedOptions, seedDemo } from "./seed.ts";
