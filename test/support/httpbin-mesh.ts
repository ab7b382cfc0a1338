import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createMesh, type Mesh } from '../../packages/core/src/index.js';

/** Closers a test runs in reverse after each case. */
export type Closers = (() => Promise<unknown>)[];

/**
 * A mesh for the workload `foo/httpbin` (app=httpbin), configured by `yaml`, telemetry off:
 * the server side of the end-to-end header tests. Its close and its config directory's removal
 * go on `closers`.
 */
export async function httpbinMesh(closers: Closers, yaml = ''): Promise<Mesh> {
  const dir = await mkdtemp(path.join(tmpdir(), 'meshlet-httpbin-'));
  closers.push(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'mesh.yaml'), yaml);
  const mesh = await createMesh({
    workload: { name: 'httpbin', namespace: 'foo', serviceAccount: 'httpbin', labels: { app: 'httpbin' } },
    config: dir,
    telemetry: false,
  });
  closers.push(() => mesh.close());
  return mesh;
}
