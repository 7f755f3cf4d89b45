// Per-test teardown for tests that start servers, simulators, informers or streams.
import { afterEach } from "node:test";

export type Cleanup = () => Promise<void> | void;

/**
 * Registers an afterEach (in the suite or file it is called from) and returns `defer`, which
 * queues a cleanup for the running test. After each test, passed or failed, the queued cleanups
 * run in reverse order, newest first (a server stops before the cluster it reads from), and the
 * queue is emptied, so a failing assertion never leaves a server or watch running into the next
 * test or keeps the process alive. A cleanup that throws fails the hook and skips the rest.
 */
export function useCleanups(): (cleanup: Cleanup) => void {
  const cleanups: Cleanup[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  return (cleanup) => {
    cleanups.push(cleanup);
  };
}
