// Telemetry cost (issue #5), side by side in interleaved rounds of one run:
//  (a) outbound: `transport.request` on the in-memory transport (bare), the outbound
//      pipeline without telemetry, and with telemetry (istio_* metrics on, tracing
//      sampled out, access log off): the cost nobody scraping pays.
//  (b) inbound: `decide` (authz, one ALLOW policy) for a node request, with and without
//      the adapter's observation (SERVER span sampled out, istio_* at response finish).
// It measures core's build (bench/support.js builtCore): run `npx tsc -b` first.
//   node bench/telemetry.js [--iterations 100000] [--rounds 5]
// Writes bench/results/telemetry-node<major>.md for the node that runs it.
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { arg, builtCore, drain, hostLoopMs, PRODUCTPAGE, quantile, REVIEWS_ROUTE_YAML } from './support.js';

const here = import.meta.dirname;
const src = (p) => builtCore(p.replace(/\.ts$/, '.js'));
const { loadConfigText } = await src('config/load.ts');
const { compilePlan } = await src('compile/compile-plan.ts');
const { DEFAULT_MESH_CONFIG } = await src('config/mesh-config.ts');
const { createOutboundClient } = await src('outbound/client.ts');
const { createMemoryTransport } = await src('outbound/transports/memory-transport.ts');
const { createClusterManager } = await src('outbound/upstream/cluster-manager.ts');
const { createInboundEngine } = await src('inbound/engine.ts');
const { createInboundObserver } = await src('inbound/node-observe.ts');
const { toInboundRequest } = await src('inbound/node-request.ts');
const { createMeshTelemetry } = await src('telemetry/mesh-telemetry.ts');
const { systemClock } = await src('runtime/clock.ts');
const { seededRandom } = await src('runtime/random.ts');

const ITERATIONS = arg('iterations', 100_000);
const ROUNDS = arg('rounds', 5);

const REVIEWS = {
  name: 'reviews-v1',
  namespace: 'default',
  serviceAccount: 'bookinfo-reviews',
  labels: { app: 'reviews', version: 'v1' },
};

// The route of bench/outbound.js.
const OUTBOUND = REVIEWS_ROUTE_YAML;

const INBOUND = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-get, namespace: default }
spec:
  selector: { matchLabels: { app: reviews } }
  rules:
  - to: [{ operation: { methods: ["GET"], paths: ["/reviews/*"] } }]
`;

const telemetryFor = (workload, snap) =>
  createMeshTelemetry({
    workload,
    snapshot: snap,
    // Metrics on; tracing at 0 % (sampled out, headers still propagated); no access log.
    meshConfig: { ...DEFAULT_MESH_CONFIG, tracingSampling: 0 },
    otlp: false,
    env: {},
  });

const us = (ns) => (ns / 1000).toFixed(2);

async function timed(fn, n) {
  const t = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const s = process.hrtime.bigint();
    await fn();
    t[i] = Number(process.hrtime.bigint() - s);
  }
  return t;
}

function stats(arrays) {
  const merged = Float64Array.from(arrays.flatMap((a) => Array.from(a))).sort();
  const mean = merged.reduce((s, x) => s + x, 0) / merged.length;
  return { mean, p50: quantile(merged, 0.5), p99: quantile(merged, 0.99) };
}

/** Interleaved rounds of every variant after a warm-up; per-call statistics. */
async function compare(variants) {
  for (const fn of Object.values(variants)) await timed(fn, 20_000);
  const all = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const [k, fn] of Object.entries(variants)) all[k].push(await timed(fn, ITERATIONS));
  }
  return Object.fromEntries(Object.entries(all).map(([k, a]) => [k, stats(a)]));
}

async function outbound(config) {
  const snap = loadConfigText(config);
  const plan = compilePlan(snap, PRODUCTPAGE, {
    endpoints: { reviews: [{ address: '10.0.0.1', port: 9080, labels: REVIEWS.labels }] },
  });
  const reply = { status: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' };
  const transport = createMemoryTransport({ '10.0.0.1:9080': () => reply });
  const telemetry = telemetryFor(PRODUCTPAGE, snap);
  // The same transport without \`listensToAbort\`: a timed try hands it an AbortSignal, as
  // it does got and undici (transport.ts TryAbort).
  const signalled = {
    name: 'memory, signal',
    request: (req) => transport.request(req),
    close: () => transport.close(),
  };
  const client = (t, tr = transport) =>
    createOutboundClient({
      getPlan: () => plan,
      clusters: createClusterManager({
        clock: systemClock,
        random: seededRandom(1),
        ...(t === null ? {} : { onEvent: t.onUpstreamEvent }),
      }),
      transport: tr,
      clock: systemClock,
      random: seededRandom(2),
      ...(t === null ? {} : { telemetry: t }),
    });
  const off = client(null);
  const on = client(telemetry);
  const onSignal = client(telemetry, signalled);
  const treq = {
    url: new URL('http://10.0.0.1:9080/reviews/0'),
    method: 'GET',
    headers: { host: 'reviews:9080' },
    body: null,
    signal: null,
    connectTimeoutMs: 10_000,
    tls: null,
    poolKey: 'outbound|9080|v1|reviews.default.svc.cluster.local|10.0.0.1:9080',
    pool: { maxConnections: 1000, maxRequestsPerConnection: 0, idleTimeoutMs: 3_600_000 },
  };
  const check = await on.fetch('http://reviews:9080/reviews/0');
  if (check.status !== 200 || check.meshlet.upstream?.subset !== 'v1') throw new Error('route not taken');
  await check.text();
  const result = await compare({
    bare: async () => drain((await transport.request(treq)).body),
    off: async () => (await off.fetch('http://reviews:9080/reviews/0')).text(),
    on: async () => (await on.fetch('http://reviews:9080/reviews/0')).text(),
    signal: async () => (await onSignal.fetch('http://reviews:9080/reviews/0')).text(),
  });
  const scraped = (await telemetry.registry.metrics()).includes('istio_requests_total{reporter="source"');
  if (!scraped) throw new Error('telemetry recorded nothing');
  await telemetry.close();
  return result;
}

async function inbound() {
  const snap = loadConfigText(INBOUND);
  const plan = compilePlan(snap, REVIEWS);
  const jwt = { authenticate: () => Promise.resolve({ kind: 'none' }), close() {} };
  const engine = createInboundEngine({
    getPlan: () => plan,
    jwt,
    clock: systemClock,
    random: seededRandom(1),
  });
  const telemetry = telemetryFor(REVIEWS, snap);
  const observe = createInboundObserver(telemetry);
  const socket = new Socket();
  const conn = { peer: null, port: 9080, scheme: 'http' };
  const request = () => {
    const req = new IncomingMessage(socket);
    req.method = 'GET';
    req.url = '/reviews/1';
    req.rawHeaders = ['Host', 'reviews:9080', 'User-Agent', 'bench', 'Accept', '*/*'];
    req.headers = { host: 'reviews:9080', 'user-agent': 'bench', accept: '*/*' };
    const res = new ServerResponse(req);
    return { req, res };
  };
  // The response "finishes" without a socket: headers set, then the finish event a socket write would give.
  const respond = (res) => {
    res.writeHead(200, { 'content-length': '2' });
    res.emit('finish');
  };
  const without = async () => {
    const { req, res } = request();
    const d = await engine.decide(toInboundRequest(req, conn));
    if (!d.allow) throw new Error('denied');
    respond(res);
  };
  const withTelemetry = async () => {
    const { req, res } = request();
    const inboundReq = toInboundRequest(req, conn);
    const o = observe(req, res, inboundReq);
    const d = await engine.decide(inboundReq);
    o.decided(d);
    if (!d.allow) throw new Error('denied');
    o.run(() => respond(res));
  };
  const result = await compare({ off: without, on: withTelemetry });
  await telemetry.close();
  return result;
}

const loopBefore = hostLoopMs();
const out = await outbound(OUTBOUND);
// The same route without `timeout` / `perTryTimeout`: no deadline timers per call.
const outPlain = await outbound(
  OUTBOUND.replace('    timeout: 10s\n', '').replace(', perTryTimeout: 2s', ''),
);
const inb = await inbound();
const loopAfter = hostLoopMs();
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const pipeline = out.off.mean - out.bare.mean;
const whole = out.on.mean - out.bare.mean;
const plainWhole = outPlain.on.mean - outPlain.bare.mean;
const telemetryCost = out.on.mean - out.off.mean;
const inboundCost = inb.on.mean - inb.off.mean;
const plainPipeline = outPlain.off.mean - outPlain.bare.mean;
const plainTelemetry = outPlain.on.mean - outPlain.off.mean;
const row = (name, s) => `| ${name} | ${us(s.mean)} | ${us(s.p50)} | ${us(s.p99)} |`;
const md = `# Telemetry benchmarks (Node ${process.versions.node.split('.')[0]})

- Date: ${new Date().toISOString().slice(0, 10)}
- Machine: ${cpu}, ${os.cpus().length} logical CPUs, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}
- Node ${process.version}
- Host load: a CPU-bound loop (bench/support.js hostLoopMs) took ${loopBefore} ms before the run and ${loopAfter} ms after (248–258 ms on the quiet AMD host of the tables in docs/benchmarks.md)
- Command: \`npx tsc -b && node bench/telemetry.js --iterations ${ITERATIONS} --rounds ${ROUNDS}\` (core's build, as an application runs it)
- Telemetry "on" = \`istio_*\` metrics recorded into a prom-client registry nobody scrapes,
  tracing sampled out (0 %: a non-recording span, W3C + B3 headers and x-request-id still
  propagated), no access log.

## (a) Outbound pipeline, in-memory transport

Sequential calls, ${ROUNDS} interleaved rounds of ${ITERATIONS} per variant (after 20,000 warm-up calls each), body read each call. Route: header match, 10s timeout, 3 retries with 2s perTryTimeout, connection pool, outlier detection.

| variant | mean µs/call | p50 µs | p99 µs |
|---|---:|---:|---:|
${row('`transport.request` (bare)', out.bare)}
${row('`client.fetch`, no telemetry', out.off)}
${row('`client.fetch`, telemetry on', out.on)}
${row('`client.fetch`, telemetry on, a transport that reads `signal`', out.signal)}

- Pipeline cost over the bare transport, telemetry on (the target's measure: at most 5 µs): **${us(whole)} µs** per call (${(whole / out.bare.mean).toFixed(2)}× one bare transport call in the same run); without telemetry ${us(pipeline)} µs.
- Telemetry cost over the pipeline without it: **${us(telemetryCost)} µs** per call = **${((100 * telemetryCost) / pipeline).toFixed(1)} %** of the pipeline's own cost, ${((100 * telemetryCost) / out.off.mean).toFixed(1)} % of a whole call.
- A transport that reads \`signal\` (got, undici; one without \`listensToAbort\`) gets an AbortSignal per timed try, its abort listeners on it: ${us(out.signal.mean - out.on.mean)} µs more per call.

### The same route without \`timeout\` and \`perTryTimeout\`

| variant | mean µs/call | p50 µs | p99 µs |
|---|---:|---:|---:|
${row('`transport.request` (bare)', outPlain.bare)}
${row('`client.fetch`, no telemetry', outPlain.off)}
${row('`client.fetch`, telemetry on', outPlain.on)}

- Pipeline cost, telemetry on: **${us(plainWhole)} µs** (${(plainWhole / outPlain.bare.mean).toFixed(2)}× one bare transport call); without telemetry ${us(plainPipeline)} µs; telemetry cost: **${us(plainTelemetry)} µs** = ${((100 * plainTelemetry) / plainPipeline).toFixed(1)} % of the pipeline, ${((100 * plainTelemetry) / outPlain.off.mean).toFixed(1)} % of a whole call.

## (b) Inbound decide + observe

A node \`IncomingMessage\`/\`ServerResponse\` pair per request (no socket), \`decide\` with one ALLOW policy; "on" adds \`observe\` (SERVER span sampled out, \`x-request-id\` generated), \`decided\`, \`run\` and the \`istio_*\` record at finish.

| variant | mean µs/request | p50 µs | p99 µs |
|---|---:|---:|---:|
${row('decide, no telemetry', inb.off)}
${row('decide + observe', inb.on)}

- Telemetry cost: **${us(inboundCost)} µs** per request, ${((100 * inboundCost) / inb.off.mean).toFixed(1)} % of the bare decide path (request objects included).
`;
mkdirSync(path.join(here, 'results'), { recursive: true });
writeFileSync(path.join(here, 'results', `telemetry-node${process.versions.node.split('.')[0]}.md`), md);
process.stdout.write(md);
