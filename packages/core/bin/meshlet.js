#!/usr/bin/env node
// The `meshlet` command: run the CLI and hand its exit code to the process.
import { processIO } from '../dist/cli/io.js';
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2), processIO()).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`meshlet: internal error: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);
