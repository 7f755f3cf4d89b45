// Entry point: parses flags and starts the gateway.
export async function main(_argv: string[]): Promise<number | undefined> {
  console.error("kgql: the gateway is not implemented yet (see the open issues); nothing was started.");
  return 2;
}
