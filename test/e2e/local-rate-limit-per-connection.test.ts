import express from 'express';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createMesh } from '../../packages/core/src/index.js';
import { meshlet } from '../../packages/express/src/index.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import { localRateLimitYaml } from '../../packages/core/test/helpers/local-rate-limit.js';

// `local_rate_limit_per_downstream_connection: true` through a real server: envoy
// local_ratelimit Filter::getPerConnectionRateLimiter keeps the bucket in the downstream
// connection's filter state (LifeSpan::Connection), so each keep-alive connection has its own.

const tmp = useTmpDir();
const closers: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const yaml = localRateLimitYaml({
  bucket: '{ max_tokens: 2, tokens_per_fill: 1, fill_interval: 60s }',
}).replace(
  'stat_prefix: http_local_rate_limiter',
  'stat_prefix: http_local_rate_limiter\n            local_rate_limit_per_downstream_connection: true',
);

/** One keep-alive connection: every request of this agent goes over the same socket. */
function connection(port: number): () => Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  closers.push(() => agent.destroy());
  return () =>
    new Promise((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        })
        .on('error', reject);
    });
}

describe('a per-connection local rate limit', () => {
  it('gives each keep-alive connection its own bucket', async () => {
    const dir = await tmp();
    await writeFile(path.join(dir, 'ratelimit.yaml'), yaml);
    const mesh = await createMesh({
      config: dir,
      workload: { name: 'httpbin', namespace: 'foo', serviceAccount: 'httpbin', labels: { app: 'httpbin' } },
      telemetry: false,
    });
    closers.push(() => mesh.close());
    const app = express();
    app.use(meshlet({ mesh }));
    app.get('/', (_req, res) => res.send('ok'));
    const server = await mesh.listen(app, 0, '127.0.0.1');
    const port = (server.address() as AddressInfo).port;

    const a = connection(port);
    const b = connection(port);
    const out: number[] = [];
    for (const send of [a, a, a, b, b, b]) out.push(await send());
    expect(out).toEqual([200, 200, 429, 200, 200, 429]);
  });
});
