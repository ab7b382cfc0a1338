import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { meshlet } from '../src/index.js';

describe('@meshlet/fastify plugin', () => {
  it('gives every request an anonymous meshlet context over a real socket', async () => {
    const app = Fastify();
    await app.register(meshlet, {});
    app.get('/who', (request) => ({ meshlet: request.meshlet }));
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const res = await fetch(`${url}/who`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ meshlet: { peer: null, auth: null } });
    } finally {
      await app.close();
    }
  });

  it('registers under its own name so other plugins can depend on it', async () => {
    const app = Fastify();
    await app.register(meshlet);
    await app.register(
      (await import('fastify-plugin')).default((_i, _o, done) => done(), {
        name: 'needs-meshlet',
        dependencies: ['@meshlet/fastify'],
      }),
    );
    await expect(app.ready()).resolves.toBeDefined();
    await app.close();
  });
});
