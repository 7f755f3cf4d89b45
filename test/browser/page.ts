// Reading the topology page from a test: the drawn nodes (their data attributes) and waiting
// until every stream is live.
import type { Page } from "playwright-core";

export interface DrawnNode {
  kind: string;
  name: string;
  namespace?: string;
  status?: string;
}

export async function drawn(page: Page): Promise<DrawnNode[]> {
  return page.$$eval("g[data-id]", (els) =>
    els.map((e) => {
      const d = (e as SVGGElement).dataset;
      return { kind: d.kind!, name: d.name!, namespace: d.namespace, status: d.status };
    }),
  );
}

/** Every stream has sent SYNCED and a layout has been drawn. */
export async function waitLive(page: Page, timeout = 15_000): Promise<void> {
  await page.waitForFunction(
    () => document.body.dataset.live === "true" && document.querySelectorAll("g[data-id]").length > 0,
    null,
    { timeout },
  );
  // The frame that drew the last events (layouts come from a worker).
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 300))));
}
