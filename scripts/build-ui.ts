// Builds the topology page (src/ui) into dist/ui with esbuild: the layout worker, then the app
// (which is told the worker's hashed name), then index.html pointing at the hashed files.
// Runs from `npm install` (the root package's prepare script), so a clone never needs a
// checked-in bundle. Without esbuild (a production install, --omit=dev) it says so and leaves
// the page unbuilt: kgql then answers /ui with 503 and a message.
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "src", "ui");
const out = join(root, "dist", "ui");
const tmp = `${out}.tmp-${process.pid}`;

let esbuild: typeof import("esbuild");
try {
  esbuild = await import("esbuild");
} catch {
  console.log("build-ui: esbuild (a devDependency) is not installed; the /ui page is not built");
  process.exit(0);
}

const common: import("esbuild").BuildOptions & { metafile: true } = {
  bundle: true,
  minify: !process.env.KGQL_UI_DEBUG,
  format: "esm",
  target: ["chrome120", "firefox120", "safari17"],
  outdir: tmp,
  entryNames: "[name]-[hash]",
  metafile: true,
  legalComments: "none",
  logLevel: "warning",
};

/** The one output of a build whose name starts with `name` and ends with `ext`. */
function output(
  result: { metafile?: { outputs: Record<string, unknown> } },
  name: string,
  ext: string,
): string {
  const file = Object.keys(result.metafile!.outputs)
    .map((p) => basename(p))
    .find((f) => f.startsWith(`${name}-`) && f.endsWith(ext));
  if (!file) throw new Error(`build-ui: no ${name}*${ext} in the build output`);
  return file;
}

await rm(tmp, { recursive: true, force: true });
await mkdir(tmp, { recursive: true });
const worker = await esbuild.build({ ...common, entryPoints: { layout: join(src, "layout-worker.ts") } });
const workerFile = output(worker, "layout", ".js");
const app = await esbuild.build({
  ...common,
  entryPoints: { app: join(src, "main.ts") },
  define: { LAYOUT_WORKER_URL: JSON.stringify(`/ui/${workerFile}`) },
});
const html = (await readFile(join(src, "index.html"), "utf8"))
  .replace("%APP_JS%", output(app, "app", ".js"))
  .replace("%APP_CSS%", output(app, "app", ".css"));
await writeFile(join(tmp, "index.html"), html);
// Swapped in whole, so a server reading dist/ui never sees half a build.
await rm(out, { recursive: true, force: true });
await mkdir(dirname(out), { recursive: true });
await rename(tmp, out);
const sizes = Object.entries({ ...worker.metafile.outputs, ...app.metafile.outputs })
  .map(([p, o]) => `${basename(p)} ${Math.round(o.bytes / 1024)} KB`)
  .join(", ");
console.log(`build-ui: dist/ui: ${sizes}`);
