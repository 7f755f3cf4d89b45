// Serves the topology page (/ui) from the files scripts/build-ui.ts wrote to dist/ui. They are
// read once at start: hashed file names (app-3F2A9C.js) never change content, so browsers keep
// them for a year without asking again; index.html, which names them, is revalidated on each
// load (ETag), so a new build is picked up at once. Gzipped once when read, sent gzipped to
// browsers that take it. Without a build the page answers 503 saying how to build it.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import type http from "node:http";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

export const DEFAULT_UI_DIR = fileURLToPath(new URL("../../dist/ui", import.meta.url));

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};

/** What the page needs and nothing more: its own scripts and styles, GraphQL on this origin. */
const CSP =
  "default-src 'self'; script-src 'self'; worker-src 'self'; style-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

interface Asset {
  body: Buffer;
  gzip: Buffer;
  type: string;
  etag: string;
  immutable: boolean;
}

export type UiAssets = { files: Map<string, Asset> } | { missing: string };

export function loadUiAssets(dir: string = DEFAULT_UI_DIR): UiAssets {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return { missing: `the topology page is not built (no ${dir}): run npm install (or npm run build:ui)` };
  }
  if (!names.includes("index.html"))
    return { missing: `the topology page is not built (no index.html in ${dir}): run npm run build:ui` };
  const files = new Map<string, Asset>();
  for (const name of names) {
    const type = TYPES[extname(name)];
    if (!type) continue;
    const body = readFileSync(join(dir, name));
    files.set(name === "index.html" ? "" : name, {
      body,
      gzip: gzipSync(body, { level: 9 }),
      type,
      etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`,
      immutable: name !== "index.html",
    });
  }
  return { files };
}

/** Answers a request under /ui (the caller checked the path). */
export function serveUi(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  path: string,
  assets: UiAssets,
): void {
  if ("missing" in assets) {
    res
      .writeHead(503, { "Content-Type": "text/plain; charset=utf-8", "Retry-After": "60" })
      .end(assets.missing);
    return;
  }
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { Allow: "GET, HEAD", "Content-Type": "text/plain" }).end("use GET");
    return;
  }
  const name = path === "/ui" || path === "/ui/" ? "" : path.slice("/ui/".length);
  const asset = assets.files.get(name);
  if (!asset) {
    res.writeHead(404, { "Content-Type": "text/plain" }).end("not found");
    return;
  }
  const headers: http.OutgoingHttpHeaders = {
    "Content-Type": asset.type,
    "Cache-Control": asset.immutable ? "public, max-age=31536000, immutable" : "no-cache",
    ETag: asset.etag,
    Vary: "Accept-Encoding",
    "X-Content-Type-Options": "nosniff",
  };
  if (!asset.immutable) {
    headers["Content-Security-Policy"] = CSP;
    headers["Referrer-Policy"] = "no-referrer";
  }
  if (req.headers["if-none-match"] === asset.etag) {
    res.writeHead(304, headers).end();
    return;
  }
  const gzip = /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
  const body = gzip ? asset.gzip : asset.body;
  if (gzip) headers["Content-Encoding"] = "gzip";
  headers["Content-Length"] = body.length;
  res.writeHead(200, headers).end(req.method === "HEAD" ? undefined : body);
}
