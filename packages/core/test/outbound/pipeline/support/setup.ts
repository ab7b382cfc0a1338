import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfigText } from '../../../../src/config/load.js';
import { compilePlan } from '../../../../src/compile/compile-plan.js';
import type { MeshPlan } from '../../../../src/compile/plan-types.js';
import type { StaticEndpoint } from '../../../../src/compile/registry.js';
import { createManualClock, type ManualClock } from '../../../../src/runtime/clock.js';
import { seededRandom, type Random } from '../../../../src/runtime/random.js';
import { createOutboundClient, type OutboundClient } from '../../../../src/outbound/client.js';
import type { Transport } from '../../../../src/outbound/transport.js';
import type { MeshFetchInit } from '../../../../src/outbound/request-input.js';
import type { MeshResponse } from '../../../../src/outbound/response.js';
import { SAMPLES } from '../../../helpers/tmp.js';
import { createFakeClusters, type FakeClusters } from './fake-clusters.js';
import { createFakeTransport, type FakeHandler, type FakeTransport } from './fake-transport.js';

export function sample(rel: string): string {
  return readFileSync(path.join(SAMPLES, rel), 'utf8');
}

export const productpage = {
  name: 'productpage-v1-abc',
  namespace: 'default',
  serviceAccount: 'bookinfo-productpage',
  labels: { app: 'productpage', version: 'v1' },
};

/** Bookinfo endpoints: one pod per version, addresses 10.0.<service>.<version>. */
export const bookinfoEndpoints: Record<string, StaticEndpoint[]> = {
  reviews: [1, 2, 3].map((v) => ({
    address: `10.0.1.${v}`,
    port: 9080,
    labels: { app: 'reviews', version: `v${v}` },
  })),
  ratings: [{ address: '10.0.2.1', port: 9080, labels: { app: 'ratings', version: 'v1' } }],
  details: [{ address: '10.0.3.1', port: 9080, labels: { app: 'details', version: 'v1' } }],
};

/** Compiles YAML texts for productpage; fails on load errors. */
export function planOf(
  texts: string[],
  endpoints: Record<string, StaticEndpoint[]> = bookinfoEndpoints,
): MeshPlan {
  const snap = loadConfigText(texts.map((text, i) => ({ text, file: `doc-${i}.yaml` })));
  const errors = snap.diagnostics.filter((d) => d.level === 'Error');
  if (errors.length > 0) throw new Error(errors.map((d) => d.message).join('\n'));
  return compilePlan(snap, productpage, { endpoints });
}

export const bookinfo = (): string[] => [
  sample('bookinfo-platform/bookinfo.yaml'),
  sample('bookinfo-networking/destination-rule-all.yaml'),
];

export interface Harness {
  readonly client: OutboundClient;
  readonly clock: ManualClock;
  readonly clusters: FakeClusters;
  readonly transport: FakeTransport;
  plan: MeshPlan;
  /** `client.fetch` with the manual clock driven in 1 ms steps until it settles. */
  call(url: string, init?: MeshFetchInit): Promise<MeshResponse>;
}

/** A client on a manual clock and a seeded random, over the fake transport and cluster manager. */
export function harness(
  plan: MeshPlan,
  handler: FakeHandler,
  opts: { random?: Random; resolveDns?: (h: string) => Promise<string[]>; transport?: Transport } = {},
): Harness {
  const clock = createManualClock();
  const clusters = createFakeClusters();
  const transport = createFakeTransport(handler);
  const h: Harness = {
    clock,
    clusters,
    transport,
    plan,
    call: (url, init) => drive(clock, h.client.fetch(url, init)),
    client: createOutboundClient({
      getPlan: () => h.plan,
      clusters,
      transport: opts.transport ?? transport,
      clock,
      random: opts.random ?? seededRandom(7),
      resolveDns: opts.resolveDns ?? (() => Promise.reject(new Error('no DNS in tests'))),
    }),
  };
  return h;
}

/** A handler answering 200 with the endpoint address as body. */
export const echoAddress: FakeHandler = (req) => ({ status: 200, body: req.address });

/** A random source that replays `values` (then repeats the last). */
export function scriptedRandom(values: number[]): Random {
  let i = 0;
  return { next: () => values[Math.min(i++, values.length - 1)] ?? 0 };
}

/** Lets pending promises run (several macrotask turns) without moving the clock. */
export async function flush(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((r) => setImmediate(r));
}

/** Advances the manual clock in `stepMs` steps until `p` settles (at most `maxMs`); returns its value. */
export async function drive<T>(clock: ManualClock, p: Promise<T>, stepMs = 1, maxMs = 120_000): Promise<T> {
  let done = false;
  const watched = p.then(
    (v) => {
      done = true;
      return v;
    },
    (e: unknown) => {
      done = true;
      throw e;
    },
  );
  watched.catch(() => {});
  for (let t = 0; t <= maxMs; t += stepMs) {
    await clock.advance(0);
    if (done) break;
    await clock.advance(stepMs);
  }
  return watched;
}
