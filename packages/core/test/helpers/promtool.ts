import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * promtool's lint asks for base units; Istio's own name `istio_request_duration_milliseconds`
 * (which dashboards query) is the one finding it makes on Istio's metrics, on a sidecar's
 * output too.
 */
export const ISTIO_UNIT_LINT =
  'istio_request_duration_milliseconds use base unit "seconds" instead of "milliseconds"';

/**
 * `promtool check metrics` over an exposition: its exit code (0 clean, 3 lint problems, 1
 * a parse error) and its findings, one per line. Throws when promtool is not installed
 * (the Debian package `prometheus`; CI installs it).
 */
export async function promtool(text: string): Promise<{ code: number; findings: string[] }> {
  const found = await run('sh', ['-c', 'command -v promtool']).then(
    (r) => r.stdout.trim(),
    () => '',
  );
  if (found === '')
    throw new Error('promtool not found on PATH: install the Debian package "prometheus" (CI installs it)');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'meshlet-promtool-'));
  try {
    const file = path.join(dir, 'metrics.prom');
    await writeFile(file, text);
    const r = await run('sh', ['-c', `promtool check metrics < "${file}"`]).then(
      (x) => ({ code: 0, out: x.stdout + x.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
    );
    return { code: r.code, findings: r.out.split('\n').filter((l) => l.trim() !== '') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
