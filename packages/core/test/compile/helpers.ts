import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfigText } from '../../src/config/load.js';
import type { ConfigSnapshot } from '../../src/config/snapshot.js';
import type { RouteRequest } from '../../src/compile/plan-types.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** ../shared/istio-samples, read in place (never copied into the repo). */
export const SAMPLES = path.resolve(here, '../../../..', '../shared/istio-samples');

export function sample(rel: string): string {
  return readFileSync(path.join(SAMPLES, rel), 'utf8');
}

/** Loads YAML texts and fails the test on any load error. */
export function snapshotOf(...texts: string[]): ConfigSnapshot {
  const snap = loadConfigText(texts.map((text, i) => ({ text, file: `doc-${i}.yaml` })));
  const errors = snap.diagnostics.filter((d) => d.level === 'Error');
  if (errors.length > 0) throw new Error(errors.map((d) => d.message).join('\n'));
  return snap;
}

export function request(partial: Partial<RouteRequest> = {}): RouteRequest {
  return { method: 'GET', scheme: 'http', authority: 'reviews:9080', path: '/', headers: {}, ...partial };
}

export const productpage = {
  name: 'productpage-v1-abc',
  namespace: 'default',
  serviceAccount: 'bookinfo-productpage',
  labels: { app: 'productpage', version: 'v1' },
};
