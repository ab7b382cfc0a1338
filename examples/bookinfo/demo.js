// meshlet demo: what the foundation does with a Bookinfo-style mesh config.
// Run from the repository root with `npm run demo`.
import { mkdtemp, mkdir, rename, rm, symlink, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runMock } from './mock-run.js';
import { runServices } from './run-services.js';
import { fileURLToPath } from 'node:url';
import {
  analyze,
  compilePlan,
  formatDiagnostic,
  loadConfig,
  loadConfigText,
  watchConfig,
} from '@meshlet/core';

const here = path.dirname(fileURLToPath(import.meta.url));
const meshDir = path.join(here, 'mesh');
const color = process.stdout.isTTY && !process.env.NO_COLOR;
const bold = (s) => (color ? `\u001b[1m${s}\u001b[0m` : s);
const dim = (s) => (color ? `\u001b[2m${s}\u001b[0m` : s);
const step = (n, title) => console.log(`\n${bold(`${n}. ${title}`)}`);

// 1. Load the same YAML a cluster would use.
step(1, 'Load the Istio YAML in examples/bookinfo/mesh');
const snapshot = await loadConfig(meshDir);
const kinds = {};
for (const r of snapshot.resources) kinds[r.kind] = (kinds[r.kind] ?? 0) + 1;
console.log(`   ${snapshot.files.length} files, ${snapshot.resources.length} Istio resources:`, kinds);
console.log(`   ${snapshot.platform.length} Kubernetes documents kept for analysis (Services, Pods)`);
console.log(
  `   mesh config: rootNamespace=${snapshot.meshConfig.rootNamespace}, trustDomain=${snapshot.meshConfig.trustDomain}`,
);

// 2. Analyze it the way `istioctl analyze` would.
step(2, 'Analyze it (meshlet analyze = istioctl analyze, from files)');
const findings = analyze(snapshot).filter((m) => m.level !== 'Info');
console.log(
  findings.length === 0
    ? '   ✔ No validation issues found'
    : findings.map((m) => `   ${m.level} [${m.code}] ${m.message}`).join('\n'),
);

console.log(`\n   ${dim('and a broken VirtualService, to show the diagnostics:')}`);
const broken = loadConfigText(
  `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: api
spec:
  hosts: [api]
  http:
  - route:
    - destination: {host: api, subset: v1}
      weight: 90
    - destination: {host: api, subset: v2}
      weight: -10
    retries:
      attempts: 3
      perTryTimeout: "3"
      retryOn: 5xx, reset
`,
  { file: 'mesh/api.yaml' },
);
for (const d of broken.diagnostics) console.log(`   ${d.level} ${formatDiagnostic(d)}`);

// 3. Compile the plan for one workload and ask where requests go.
step(3, 'Compile the plan for productpage and route some requests');
const productpage = {
  name: 'productpage-v1',
  namespace: 'default',
  serviceAccount: 'bookinfo-productpage',
  labels: { app: 'productpage', version: 'v1' },
};
const plan = compilePlan(snapshot, productpage);
const show = (label, authority, headers = {}) => {
  const vhost = plan.outbound.lookup(authority, 9080);
  const route =
    vhost &&
    plan.outbound.route(vhost, { method: 'GET', scheme: 'http', authority, path: '/reviews/0', headers });
  if (!route) return console.log(`   ${label}: 404 NR (no route)`);
  const dests =
    route.action.kind === 'route'
      ? route.action.destinations.map((d) => `${d.subset ?? '(all)'} ${d.weight}%`).join(', ')
      : route.action.kind;
  const extras = [
    route.timeoutMs ? `timeout ${route.timeoutMs}ms` : 'no timeout',
    route.retries ? `${route.retries.retries} retries on ${route.retries.retryOn.join(',')}` : 'no retries',
    route.fault?.delay ? `fault: delay ${route.fault.delay.ms}ms at ${route.fault.delay.percent}%` : null,
  ].filter(Boolean);
  console.log(`   ${label}\n     -> ${route.id}: ${dests} ${dim(`(${extras.join('; ')})`)}`);
};
show('GET http://reviews:9080/reviews/0  end-user: jason', 'reviews:9080', { 'end-user': 'jason' });
show('GET http://reviews:9080/reviews/0', 'reviews:9080');
show('GET http://ratings:9080/ratings/0  end-user: jason', 'ratings:9080', { 'end-user': 'jason' });
const reviewsV3 = plan.outbound.cluster('outbound|9080|v3|reviews.default.svc.cluster.local');
console.log(
  `   cluster ${reviewsV3.key}: lb=${reviewsV3.policy.loadBalancer.simple ?? 'consistentHash'} (subset policy), outlier consecutive5xxErrors=${reviewsV3.policy.outlierDetection?.consecutive5xxErrors}`,
);

const reviewsPlan = compilePlan(snapshot, {
  name: 'reviews-v1',
  namespace: 'default',
  serviceAccount: 'bookinfo-reviews',
  labels: { app: 'reviews', version: 'v1' },
});
console.log(
  `   inbound for reviews-v1: mTLS ${reviewsPlan.inbound.peerAuthentication.mode}, ALLOW policies: ${reviewsPlan.inbound.authorization.allow.map((p) => p.policy.name).join(', ')}`,
);

// 4. Watch a ConfigMap-style mount and hot-swap the plan.
step(4, 'Watch a ConfigMap mount and reload on the kubelet ..data swap');
const mount = await mkdtemp(path.join(tmpdir(), 'meshlet-demo-'));
let generation = 0;
async function publish(files) {
  const dir = `..gen_${generation++}`;
  await mkdir(path.join(mount, dir));
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(mount, dir, name), text);
  await symlink(dir, path.join(mount, '..data_tmp'));
  await rename(path.join(mount, '..data_tmp'), path.join(mount, '..data'));
  for (const name of Object.keys(files))
    await symlink(path.join('..data', name), path.join(mount, name)).catch(() => {});
}
const original = {};
for (const f of ['services.yaml', 'pods.yaml', 'reviews.yaml'])
  original[f] = await readFile(path.join(meshDir, f), 'utf8');
await publish(original);
const watcher = await watchConfig(mount, {
  debounceMs: 100,
  accept: (next) => (compilePlan(next.snapshot, productpage), []),
});
const split = (cfg) => {
  const p = compilePlan(cfg.snapshot, productpage);
  const r = p.outbound.route(p.outbound.lookup('reviews:9080', 9080), {
    method: 'GET',
    scheme: 'http',
    authority: 'reviews',
    path: '/',
    headers: {},
  });
  return r.action.destinations.map((d) => `${d.subset} ${d.weight}%`).join(', ');
};
console.log(`   loaded (config ${watcher.current.hash}): ${split(watcher.current)}`);
// The watcher never keeps a process alive on its own (a library must not); the
// timer here does, and turns a lost event into a clear failure.
const once = (event) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} event within 10s`)), 10_000);
    watcher.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });

let next = once('reload');
await publish({
  ...original,
  'reviews.yaml': original['reviews.yaml']
    .replace('weight: 90', 'weight: 50')
    .replace('weight: 10', 'weight: 50'),
});
const [reloaded] = await next;
console.log(`   reloaded (config ${reloaded.hash}): ${split(reloaded)}`);

next = once('rejected');
await publish({ ...original, 'reviews.yaml': original['reviews.yaml'].replace('timeout: 3s', 'timeout: 3') });
const [, reasons] = await next;
console.log(`   bad update rejected: ${reasons[0]}`);
console.log(`   still serving config ${watcher.current.hash}: ${split(watcher.current)}`);
await watcher.close();
await rm(mount, { recursive: true, force: true });

// 5. The runtime: real services on loopback, each with its own mesh, same YAML.
step(5, 'Run Bookinfo services with the mesh in-process (mTLS, routing, authorization, TCP)');
await runServices({ meshDir, log: (line) => console.log(line) });

// 6. The same YAML in a mock mesh: a whole topology in memory, on virtual time.
step(6, 'The same YAML in a mock mesh (@meshlet/core/testing): unit tests on virtual time');
await runMock({ meshDir, log: (line) => console.log(line) });

console.log(`\n${bold('Try the CLI:')}  npx meshlet analyze examples/bookinfo/mesh`);
console.log(
  `              npx meshlet routes examples/bookinfo/mesh --workload default/productpage:app=productpage`,
);
