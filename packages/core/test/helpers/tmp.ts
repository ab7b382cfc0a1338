import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';

/** A fresh temporary directory per test, removed afterwards. */
export function useTmpDir(): () => Promise<string> {
  const made: string[] = [];
  afterEach(async () => {
    await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });
  return async () => {
    const d = await mkdtemp(path.join(tmpdir(), 'meshlet-test-'));
    made.push(d);
    return d;
  };
}

/** The Istio sample YAML shipped beside the project (never copied into it). */
export const SAMPLES = path.resolve(import.meta.dirname, '../../../../../shared/istio-samples');
