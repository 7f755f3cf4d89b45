#!/usr/bin/env -S node --max-semi-space-size=16
// kgql's executable. The sources are TypeScript run by Node 24's type stripping.
// --max-semi-space-size=16 (here, in `npm start` and in the image): V8 otherwise grows its young
// generation to ~130 MB under subscription churn and keeps it; 16 MB semi-spaces hold 10,000
// idle subscribers in ~390 MB RSS instead of ~475 MB with the same fan-out and query figures
// (BENCHMARKS.md). It must be a command-line flag: V8 sizes the heap before any code runs.
import { main } from "../src/main.ts";

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === "number") process.exitCode = code;
  },
  (err) => {
    console.error(`kgql: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
