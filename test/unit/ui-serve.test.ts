// /ui: hashed files cached for a year, the page revalidated (ETag, 304), gzip when accepted,
// 503 with a message when the page is not built, nothing when --disable-ui.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { SandboxCluster } from "../../src/sandbox/index.ts";
import type { GatewayServer } from "../../src/server/index.ts";
import { startKgqlOn } from "../helpers/kgql.ts";
import { startSandbox } from "../helpers/sandbox.ts";

let sim: SandboxCluster;
const servers: GatewayServer[] = [];
const built = mkdtempSync(join(tmpdir(), "kgql-ui-"));
writeFileSync(join(built, "index.html"), '<script src="/ui/app-ABC123.js"></script>');
writeFileSync(join(built, "app-ABC123.js"), `console.log(${JSON.stringify("x".repeat(5000))})`);

before(async () => {
  sim = await startSandbox();
});
after(async () => {
  for (const s of servers) await s.close();
  await sim.stop();
});

async function serve(opts: { ui?: boolean; uiDir?: string }): Promise<string> {
  const s = await startKgqlOn(sim, opts);
  servers.push(s);
  return s.url.replace(/\/graphql$/, "");
}

test("the page is revalidated by ETag; hashed files are immutable for a year and gzipped when accepted", async () => {
  const base = await serve({ uiDir: built });
  const page = await fetch(`${base}/ui`);
  assert.equal(page.status, 200);
  assert.equal(page.headers.get("cache-control"), "no-cache");
  assert.match(page.headers.get("content-type")!, /^text\/html/);
  assert.match(page.headers.get("content-security-policy")!, /default-src 'self'/);
  const etag = page.headers.get("etag")!;
  assert.ok(etag);
  const again = await fetch(`${base}/ui/`, { headers: { "If-None-Match": etag } });
  assert.equal(again.status, 304);
  const js = await fetch(`${base}/ui/app-ABC123.js`, { headers: { "Accept-Encoding": "gzip" } });
  assert.equal(js.status, 200);
  assert.equal(js.headers.get("cache-control"), "public, max-age=31536000, immutable");
  assert.equal(js.headers.get("content-encoding"), "gzip");
  assert.ok(Number(js.headers.get("content-length")) < 1000);
  assert.match(await js.text(), /^console\.log/);
  assert.equal((await fetch(`${base}/ui/nope.js`)).status, 404);
  assert.equal((await fetch(`${base}/ui`, { method: "POST" })).status, 405);
});

test("without a build the server starts and /ui says how to build it (503); --disable-ui serves nothing", async () => {
  const base = await serve({ uiDir: join(built, "missing") });
  const res = await fetch(`${base}/ui`);
  assert.equal(res.status, 503);
  assert.match(await res.text(), /not built.*npm install/);
  assert.equal((await fetch(`${base}/graphql?query=%7B__typename%7D`)).status, 200);
  const off = await serve({ ui: false, uiDir: built });
  assert.equal((await fetch(`${off}/ui`)).status, 404);
});
