// Headless Chromium for the browser tests and the UI benchmark: Debian's package
// (/usr/bin/chromium, installed by .ci/run), driven by playwright-core, which never downloads a
// browser of its own. A fresh profile each launch; the flags keep Chromium off the network
// (no update checks, sync, component downloads) and off the GPU.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";

export const CHROMIUM = process.env.KGQL_CHROMIUM ?? "/usr/bin/chromium";

/** Why the browser tests cannot run here, or undefined. */
export function noBrowserReason(): string | undefined {
  return existsSync(CHROMIUM)
    ? undefined
    : `no Chromium at ${CHROMIUM} (apt-get install chromium, or set KGQL_CHROMIUM); .ci/run installs it`;
}

const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

export interface BrowserSession {
  browser: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/** A headless Chromium with one page, its own fresh profile, at `width` x `height`. */
export async function openBrowser(opts: { width?: number; height?: number } = {}): Promise<BrowserSession> {
  const profile = await mkdtemp(join(tmpdir(), "kgql-chromium-"));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: opts.width ?? 1400, height: opts.height ?? 900 },
  });
  const page = browser.pages()[0] ?? (await browser.newPage());
  return {
    browser,
    page,
    close: async () => {
      await browser.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Screenshots go to test-artifacts/ (gitignored; CI keeps it as an artifact). */
export const ARTIFACTS = fileURLToPath(new URL("../../test-artifacts/", import.meta.url));

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

export type { Browser, Page };

/**
 * npm install builds dist/ui; rebuilt here when a source under src/ui is newer (a developer
 * editing the page), so a test never checks an old build.
 */
export function ensureUiBuilt(): void {
  const root = fileURLToPath(new URL("../../", import.meta.url));
  const built = join(root, "dist", "ui", "index.html");
  const sources = join(root, "src", "ui");
  const newest = Math.max(...readdirSync(sources).map((f) => statSync(join(sources, f)).mtimeMs));
  if (existsSync(built) && statSync(built).mtimeMs >= newest) return;
  execFileSync(process.execPath, [join(root, "scripts", "build-ui.ts")], { stdio: "inherit" });
}
