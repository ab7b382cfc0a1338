import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CliIO } from '../../src/cli/io.js';

/** A CliIO that records what a command writes. */
export function captureIO(
  options: { color?: boolean; cwd?: string } = {},
): CliIO & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    stdout: (t) => void (out += t),
    stderr: (t) => void (err += t),
    color: options.color ?? false,
    cwd: options.cwd ?? process.cwd(),
    out: () => out,
    err: () => err,
  };
}

/** Write `files` (name -> text) into a fresh temporary directory and return its path. */
export function tempFiles(files: Readonly<Record<string, string>>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'meshlet-cli-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}
