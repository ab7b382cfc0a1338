import type { Server } from 'node:http';
import { afterEach } from 'vitest';

/** Meshes and HTTP servers a test opened, closed after it (meshes first). */
export function useCleanup(): {
  mesh<M extends { close(): Promise<void> }>(m: M): M;
  server<S extends Server>(s: S): S;
} {
  const meshes: { close(): Promise<void> }[] = [];
  const servers: Server[] = [];
  afterEach(async () => {
    for (const m of meshes.splice(0)) await m.close();
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });
  return {
    mesh: (m) => (meshes.push(m), m),
    server: (s) => (servers.push(s), s),
  };
}
