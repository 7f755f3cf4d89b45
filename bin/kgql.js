#!/usr/bin/env node
// kgql's executable. The sources are TypeScript run by Node 24's type stripping.
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
