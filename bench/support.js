// Shared by the benchmark scripts.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const JWT_SAMPLES = path.resolve(import.meta.dirname, '../../shared/istio-samples/jwt');
/** Istio's sample JWKS (one line, for the RequestAuthentication `jwks` field) and its demo token. */
export const JWT_SAMPLE = Object.freeze({
  jwks: readFileSync(path.join(JWT_SAMPLES, 'jwks.json'), 'utf8').replace(/\s+/g, ' ').trim(),
  token: readFileSync(path.join(JWT_SAMPLES, 'demo.jwt'), 'utf8').trim(),
});

const CORE = path.resolve(import.meta.dirname, '../packages/core');

/** The newest modification time under `dir`, in ms. */
function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/**
 * Imports a module of core's build (`packages/core/dist/<p>`), what an application runs.
 * Loading the TypeScript source through a transpiler instead (jiti, as these benchmarks
 * once did) turns every ES import into a CommonJS property read and measured the outbound
 * pipeline 2–4 µs slower per call than the build. Refuses a build older than its sources.
 */
export async function builtCore(p) {
  let built = 0;
  try {
    built = statSync(path.join(CORE, 'tsconfig.tsbuildinfo')).mtimeMs;
  } catch {
    // never built
  }
  if (built < newest(path.join(CORE, 'src')))
    throw new Error('packages/core/dist is missing or older than its sources: run `npx tsc -b` first');
  return import(path.join(CORE, 'dist', p));
}

/** `--name value` from the command line as a number, else `dflt`. */
export const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};

/** The median of a list of numbers. */
export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The `q` quantile of an ascending list. */
export const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

/** Reads a stream to its end, discarding it. */
export async function drain(stream) {
  for await (const _ of stream);
}

/** Bookinfo's productpage: the calling workload of the outbound benchmarks. */
export const PRODUCTPAGE = {
  name: 'productpage-v1',
  namespace: 'default',
  serviceAccount: 'bookinfo-productpage',
  labels: { app: 'productpage', version: 'v1' },
};

// The reviews route both outbound benchmarks use, as Istio users write it: a header
// match, explicit retries and timeout, a DestinationRule with a connection pool and
// outlier detection (spec/traffic.md §2, §3).
export const REVIEWS_ROUTE_YAML = `apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec:
  ports: [{ port: 9080, name: http }]
  selector: { app: reviews }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - match: [{ headers: { end-user: { exact: jason } } }]
    route: [{ destination: { host: reviews, subset: v2 } }]
  - route: [{ destination: { host: reviews, subset: v1 } }]
    timeout: 10s
    retries: { attempts: 3, perTryTimeout: 2s, retryOn: "gateway-error,connect-failure,refused-stream" }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  trafficPolicy:
    connectionPool:
      tcp: { maxConnections: 1000 }
      http: { http1MaxPendingRequests: 1000, maxRequestsPerConnection: 0 }
    outlierDetection: { consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 50 }
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 } }
`;

/**
 * Milliseconds a fixed CPU-bound loop takes: how busy this shared host is. About 250 ms on
 * the quiet days of docs/benchmarks.md; a run that prints two or three times that was
 * taken on a loaded host, where only the ratios inside the run carry meaning.
 */
export function hostLoopMs() {
  const t = performance.now();
  let x = 0;
  for (let i = 0; i < 3e8; i++) x += i % 7;
  if (x < 0) throw new Error('unreachable');
  return Math.round(performance.now() - t);
}
