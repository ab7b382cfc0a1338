import express from 'express';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { meshlet, type MeshletRequest } from '../src/index.js';

describe('@meshlet/express middleware', () => {
  it('gives every request an anonymous meshlet context over a real socket', async () => {
    const app = express();
    app.use(meshlet({}));
    app.get('/who', (req, res) => {
      res.json({ meshlet: (req as unknown as MeshletRequest).meshlet });
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const { port } = server.address() as AddressInfo;
      const res = await fetch(`http://127.0.0.1:${port}/who`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ meshlet: { peer: null, auth: null } });
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
