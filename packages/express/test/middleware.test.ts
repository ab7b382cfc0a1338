import express from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import type { InboundDecision } from '../../core/src/inbound/engine-types.js';
import type { InboundHandle } from '../../core/src/inbound/handle.js';
import { meshlet, NOT_AT_ROOT_MESSAGE } from '../src/index.js';

const AUTH = { principal: 'iss/sub', claims: { sub: 'sub' } };

function allowing(edits: Partial<Extract<InboundDecision, { allow: true }>> = {}): InboundHandle {
  return {
    peerOf: () => null,
    decide: (req) =>
      Promise.resolve({
        allow: true,
        url: req.url.replace(/%61/g, 'a'),
        context: { peer: null, auth: AUTH },
        removeHeaders: [],
        setHeaders: {},
        responseHeaders: {},
        shadow: [],
        ...edits,
      }),
  };
}

async function serve(app: express.Express): Promise<{ port: number; close: () => Promise<void> }> {
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

describe('@meshlet/express middleware', () => {
  it('throws at construction, naming the option, when mesh is missing or not a mesh', () => {
    for (const options of [undefined, {}, { mesh: { inbound: { decide: () => null } } }]) {
      // @ts-expect-error deliberately wrong options
      expect(() => meshlet(options)).toThrow(
        expect.objectContaining({
          code: 'MESHLET_ERR_ADAPTER_OPTIONS',
          message: expect.stringMatching(/options/),
        }),
      );
    }
  });

  it('applies header edits to req and response headers to res, and types req.meshlet', async () => {
    const app = express();
    app.use(
      meshlet({
        mesh: {
          inbound: allowing({
            removeHeaders: ['authorization'],
            setHeaders: { 'x-jwt-sub': 'sub' },
            responseHeaders: { 'x-ratelimit-limit': '4' },
          }),
        },
      }),
    );
    app.get('/h', (req, res) => {
      res.json({
        authorization: req.headers.authorization ?? null,
        sub: req.headers['x-jwt-sub'],
        principal: req.meshlet.auth?.principal,
      });
    });
    const s = await serve(app);
    try {
      const res = await fetch(`http://127.0.0.1:${s.port}/h`, {
        headers: { authorization: 'Bearer t', 'x-jwt-sub': 'forged' },
      });
      expect(res.headers.get('x-ratelimit-limit')).toBe('4');
      expect(await res.json()).toEqual({ authorization: null, sub: 'sub', principal: 'iss/sub' });
    } finally {
      await s.close();
    }
  });

  it('passes an engine failure to Express error handling, never to the route', async () => {
    const app = express();
    const route = vi.fn();
    app.use(
      meshlet({
        mesh: { inbound: { peerOf: () => null, decide: () => Promise.reject(new Error('engine down')) } },
      }),
    );
    app.get('/x', route);
    app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(503).send(err.message);
    });
    const s = await serve(app);
    try {
      const res = await fetch(`http://127.0.0.1:${s.port}/x`);
      expect([res.status, await res.text()]).toEqual([503, 'engine down']);
      expect(route).not.toHaveBeenCalled();
    } finally {
      await s.close();
    }
  });

  it('refuses to route on an un-normalized path when mounted below the root', async () => {
    const app = express();
    const route = vi.fn();
    app.use('/api', meshlet({ mesh: { inbound: allowing() } }));
    app.get('/api/admin', route);
    const errors: string[] = [];
    app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      errors.push(err.message);
      res.status(500).end();
    });
    const s = await serve(app);
    try {
      expect((await fetch(`http://127.0.0.1:${s.port}/api/%61dmin`)).status).toBe(500);
      expect(errors).toEqual([NOT_AT_ROOT_MESSAGE]);
      expect(route).not.toHaveBeenCalled();
    } finally {
      await s.close();
    }
  });
});
