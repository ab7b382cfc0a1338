import { readFileSync } from 'node:fs';

function readVersion(): string {
  // dist/version.js and src/version.ts both sit one level below the package root.
  const pkg: unknown = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  const v = typeof pkg === 'object' && pkg !== null ? (pkg as Record<string, unknown>)['version'] : undefined;
  return typeof v === 'string' ? v : 'unknown';
}

/** `@meshlet/core`'s version (for `meshlet --version` and the admin `/server_info`). */
export const MESHLET_VERSION: string = readVersion();
