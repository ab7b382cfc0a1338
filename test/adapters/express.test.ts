import express from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'vitest';
import { CASES, type ConformanceCase } from './cases.js';
import { ROUTES, newObserved, type Echo } from './support/app.js';
import { createScenarioHandle } from './support/handle.js';
import { send } from './support/http.js';
import { expectOutcome, httpOutcome, type Outcome } from './support/outcome.js';
import { meshlet } from '../../packages/express/src/index.js';

async function run(c: ConformanceCase): Promise<Outcome> {
  const handle = await createScenarioHandle(c.scenario);
  const observed = newObserved();
  const app = express();
  app.use(meshlet({ mesh: { inbound: handle } }));
  // A body parser after meshlet, counting reads: a refused request must never get here.
  app.use(express.text());
  app.use((req, _res, next) => {
    if (typeof req.body === 'string' && req.body !== '') observed.bodiesRead += 1;
    next();
  });
  for (const route of ROUTES) {
    app.all(route, (req, res) => {
      observed.handlers.push(route);
      const body = typeof req.body === 'string' && req.body !== '' ? req.body : null;
      const echo: Echo = { handler: route, url: req.url, meshlet: req.meshlet, headers: req.headers, body };
      res.json(echo);
    });
  }
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    for (let i = 0; i < (c.warmup ?? 0); i++) await send(port, c.request);
    return httpOutcome(await send(port, c.request), observed);
  } finally {
    await new Promise((resolve) => server.close(resolve));
    await handle.close();
  }
}

describe(`inbound conformance: @meshlet/express on a real server`, () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    expectOutcome(c, await run(c));
  });
});
