import Fastify from 'fastify';
import fp from 'fastify-plugin';
import { request } from 'node:http';
import { describe, expect, it, vi } from 'vitest';
import type { InboundDecision, InboundRequest } from '../../core/src/inbound/engine-types.js';
import type { InboundHandle } from '../../core/src/inbound/handle.js';
import { meshlet, NOT_NORMALIZED_BODY } from '../src/index.js';

const AUTH = { principal: 'iss/sub', claims: { sub: 'sub' } };

function allowing(
  edits: Partial<Extract<InboundDecision, { allow: true }>> = {},
): InboundHandle & { seen: InboundRequest[] } {
  const seen: InboundRequest[] = [];
  return {
    seen,
    peerOf: () => null,
    decide: (req) => {
      seen.push(req);
      // A stand-in normalizer: drops one `/x/..` segment and decodes `%61`.
      const path = req.url.replace(/\/[^/]+\/\.\.(?=\/)/, '').replace(/%61/g, 'a');
      return Promise.resolve({
        allow: true,
        url: path,
        context: { peer: null, auth: AUTH },
        removeHeaders: [],
        setHeaders: {},
        responseHeaders: {},
        shadow: [],
        ...edits,
      });
    },
  };
}

function rawGet(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    })
      .on('error', reject)
      .end();
  });
}

describe('@meshlet/fastify plugin', () => {
  it('fails at register time, naming the option, when mesh is missing or not a mesh', async () => {
    for (const options of [{}, { mesh: {} }, { mesh: { inbound: { decide: () => null } } }]) {
      const app = Fastify();
      // @ts-expect-error deliberately wrong options
      await expect(app.register(meshlet, options)).rejects.toMatchObject({
        code: 'MESHLET_ERR_ADAPTER_OPTIONS',
        message: /options\.mesh/,
      });
      await app.close();
    }
  });

  it('registers under its own name so other plugins can depend on it', async () => {
    const app = Fastify();
    await app.register(meshlet, { mesh: { inbound: allowing() } });
    await app.register(
      fp((_i, _o, done) => done(), { name: 'needs-meshlet', dependencies: ['@meshlet/fastify'] }),
    );
    await expect(app.ready()).resolves.toBeDefined();
    await app.close();
  });

  it('applies header edits to the request and response headers to the reply', async () => {
    const handle = allowing({
      removeHeaders: ['authorization'],
      setHeaders: { 'x-jwt-sub': 'sub' },
      responseHeaders: { 'x-ratelimit-limit': '4' },
    });
    const app = Fastify();
    await app.register(meshlet, { mesh: { inbound: handle } });
    app.get('/h', (req) => ({
      authorization: req.headers.authorization ?? null,
      sub: req.headers['x-jwt-sub'],
      meshlet: req.meshlet,
    }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const res = await rawGet((app.server.address() as { port: number }).port, '/h', {
        authorization: 'Bearer t',
        'x-jwt-sub': 'forged',
      });
      expect(res.status).toBe(200);
      expect(res.headers['x-ratelimit-limit']).toBe('4');
      expect(JSON.parse(res.body)).toEqual({
        authorization: null,
        sub: 'sub',
        meshlet: { peer: null, auth: AUTH },
      });
      expect(handle.seen[0]?.headers['authorization']).toBe('Bearer t');
    } finally {
      await app.close();
    }
  });

  it('routes a real server request on the normalized URL and lets the handler see it', async () => {
    const app = Fastify();
    await app.register(meshlet, { mesh: { inbound: allowing() } });
    app.get('/admin', (req) => ({ handler: 'admin', url: req.url, originalUrl: req.originalUrl }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const res = await rawGet((app.server.address() as { port: number }).port, '/public/../admin');
      expect(JSON.parse(res.body)).toEqual({
        handler: 'admin',
        url: '/admin',
        originalUrl: '/public/../admin',
      });
    } finally {
      await app.close();
    }
  });

  it('refuses with 400 an un-normalized path that reached routing undecided (inject)', async () => {
    const app = Fastify();
    await app.register(meshlet, { mesh: { inbound: allowing() } });
    const handler = vi.fn(() => 'admin');
    app.get('/*', handler);
    const res = await app.inject({ method: 'GET', url: '/%61dmin' });
    expect(res.statusCode).toBe(400);
    expect(res.body).toBe(NOT_NORMALIZED_BODY);
    expect(handler).not.toHaveBeenCalled();
    const ok = await app.inject({ method: 'GET', url: '/public' });
    expect([ok.statusCode, ok.body]).toEqual([200, 'admin']);
    await app.close();
  });

  it('sends an engine failure through Fastify error handling, never to the handler', async () => {
    const app = Fastify();
    const handle: InboundHandle = {
      peerOf: () => null,
      decide: () => Promise.reject(new Error('engine down')),
    };
    await app.register(meshlet, { mesh: { inbound: handle } });
    const handler = vi.fn(() => 'reached');
    app.get('/x', handler);
    const errors: string[] = [];
    app.setErrorHandler((err: Error, _req, reply) => {
      errors.push(err.message);
      return reply.code(503).send('mesh unavailable');
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const res = await rawGet((app.server.address() as { port: number }).port, '/x');
      expect([res.status, res.body]).toEqual([503, 'mesh unavailable']);
      expect(errors).toEqual(['engine down']);
      expect(handler).not.toHaveBeenCalled();
    } finally {
      await app.close();
    }
  });

  it('lets onSend hooks see a refusal', async () => {
    const handle: InboundHandle = {
      peerOf: () => null,
      decide: () =>
        Promise.resolve({
          allow: false,
          status: 403,
          body: 'RBAC: access denied',
          headers: {},
          flags: [],
          reason: { stage: 'deny', policy: 'ns/p', detail: '' },
          shadow: [],
        }),
    };
    const app = Fastify();
    await app.register(meshlet, { mesh: { inbound: handle } });
    const sent: unknown[] = [];
    app.addHook('onSend', async (_req, reply, payload) => {
      sent.push([reply.statusCode, payload]);
      return payload;
    });
    app.get('/x', () => 'reached');
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const res = await rawGet((app.server.address() as { port: number }).port, '/x');
      expect([res.status, res.body]).toEqual([403, 'RBAC: access denied']);
      expect(sent).toEqual([[403, 'RBAC: access denied']]);
    } finally {
      await app.close();
    }
  });
});
