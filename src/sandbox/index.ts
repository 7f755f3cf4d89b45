// The simulated cluster: a kube-apiserver look-alike for --demo and deterministic fault tests.
export type { FailRule } from "./faults.ts";
export type { SandboxResource } from "./resources.ts";
export { podFor, type SeedOptions, seedDemo, startChurn } from "./seed.ts";
export { type RequestRecord, SandboxCluster, type SandboxOptions } from "./server.ts";
