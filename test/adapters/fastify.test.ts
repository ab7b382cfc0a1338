import Fastify from 'fastify';
import { describe, it } from 'vitest';
import { CASES, type ConformanceCase } from './cases.js';
import { ROUTES, newObserved, type Echo } from './support/app.js';
import { createScenarioHandle } from './support/handle.js';
import { send } from './support/http.js';
import { expectOutcome, httpOutcome, type Outcome } from './support/outcome.js';
import { meshlet } from '../../packages/fastify/src/index.js';

async function run(c: ConformanceCase): Promise<Outcome> {
  const handle = await createScenarioHandle(c.scenario);
  const observed = newObserved();
  const app = Fastify();
  await app.register(meshlet, { mesh: { inbound: handle } });
  // Replaces Fastify's text parser so a body read is observable.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_req, body, done) => {
    observed.bodiesRead += 1;
    done(null, body);
  });
  for (const route of ROUTES) {
    app.route({
      method: ['GET', 'POST'],
      url: route,
      handler: (request): Echo => {
        observed.handlers.push(route);
        const body = typeof request.body === 'string' ? request.body : null;
        return { handler: route, url: request.url, meshlet: request.meshlet, headers: request.headers, body };
      },
    });
  }
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as { port: number }).port;
  try {
    for (let i = 0; i < (c.warmup ?? 0); i++) await send(port, c.request);
    return httpOutcome(await send(port, c.request), observed);
  } finally {
    await app.close();
    await handle.close();
  }
}

describe(`inbound conformance: @meshlet/fastify on a real server`, () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    expectOutcome(c, await run(c));
  });
});
