import { describe, expect, it } from 'vitest';
import { createMeshMetrics } from '../../src/telemetry/metrics/istio-metrics.js';
import { MESH, PRODUCTPAGE, snapshotOf } from './helpers.js';
import { outboundEvent, samples } from './metrics-support.js';

describe('createMeshMetrics with Telemetry overrides', () => {
  const telemetry = (spec: string, ns = 'istio-system', name = 'mesh-default') => `
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: ${name}, namespace: ${ns} }
spec:
${spec}
---
`;

  it('applies tag UPSERT (literal and header) and REMOVE per mode, from root and workload levels', async () => {
    const snapshot = snapshotOf(
      telemetry(`  metrics:
  - providers: [{ name: prometheus }]
    overrides:
    - match: { metric: REQUEST_COUNT, mode: CLIENT }
      tagOverrides:
        request_host: { value: "request.headers['x-tenant']" }
        source_cluster: { operation: REMOVE }
        mesh: { value: "'blue'" }
`) +
        telemetry(
          `  selector: { matchLabels: { app: productpage } }
  metrics:
  - overrides:
    - match: { metric: REQUEST_COUNT }
      tagOverrides:
        destination_port: { value: "string(destination.port)" }
`,
          'default',
          'productpage',
        ),
    );
    const m = createMeshMetrics({ workload: PRODUCTPAGE, meshConfig: MESH, snapshot });
    expect(m.problems).toEqual([]);
    m.record(outboundEvent({ source: m.local, headers: { 'x-tenant': 'acme' } }));
    m.record(outboundEvent({ reporter: 'destination', source: m.local, destination: m.local }));
    const all = await samples(m.registry, 'istio_requests_total');
    const client = all.find((s) => s.labels['reporter'] === 'source')!;
    expect(client.labels['request_host']).toBe('acme');
    expect(client.labels['mesh']).toBe('blue');
    expect(client.labels['destination_port']).toBe('9080');
    expect(client.keys).not.toContain('source_cluster');
    const server = all.find((s) => s.labels['reporter'] === 'destination')!;
    expect(server.labels['source_cluster']).toBe('Kubernetes');
    expect(server.labels['destination_port']).toBe('9080');
    expect(server.keys).not.toContain('request_host');
    // Overrides only touch REQUEST_COUNT: the duration histogram keeps the standard labels.
    const dur = await samples(m.registry, 'istio_request_duration_milliseconds_count');
    expect(dur[0]!.keys).toContain('source_cluster');
    expect(dur[0]!.keys).not.toContain('destination_port');
  });

  it('disables one metric for the server only, and every metric with ALL_METRICS', async () => {
    const one = snapshotOf(
      telemetry(`  metrics:
  - overrides:
    - match: { metric: REQUEST_DURATION, mode: SERVER }
      disabled: true
`),
    );
    const m = createMeshMetrics({ workload: PRODUCTPAGE, meshConfig: MESH, snapshot: one });
    m.record(outboundEvent({ source: m.local }));
    m.record(outboundEvent({ reporter: 'destination', source: m.local, destination: m.local }));
    const dur = await samples(m.registry, 'istio_request_duration_milliseconds_count');
    expect(dur.map((s) => s.labels['reporter'])).toEqual(['source']);
    expect((await samples(m.registry, 'istio_requests_total')).length).toBe(2);

    const all = snapshotOf(
      telemetry(`  metrics:
  - overrides:
    - match: { metric: ALL_METRICS }
      disabled: true
`),
    );
    const off = createMeshMetrics({ workload: PRODUCTPAGE, meshConfig: MESH, snapshot: all });
    off.record(outboundEvent({ source: off.local }));
    expect(off.enabled).toBe(false);
    expect(await off.registry.metrics()).not.toContain('istio_requests_total');
  });

  it('disables every metric of one mode only, with ALL_METRICS or no metric named (istio mergeMetrics)', async () => {
    // istio.io "Customizing Istio Metrics": disable all client-side metrics.
    for (const match of ['{ metric: ALL_METRICS, mode: CLIENT }', '{ mode: CLIENT }']) {
      const snapshot = snapshotOf(
        telemetry(`  metrics:
  - providers: [{ name: prometheus }]
    overrides:
    - match: ${match}
      disabled: true
`),
      );
      const m = createMeshMetrics({ workload: PRODUCTPAGE, meshConfig: MESH, snapshot });
      m.record(outboundEvent({ source: m.local }));
      m.record(outboundEvent({ reporter: 'destination', source: m.local, destination: m.local }));
      expect(m.enabled).toBe(true);
      for (const name of ['istio_requests_total', 'istio_request_duration_milliseconds_count']) {
        expect((await samples(m.registry, name)).map((x) => x.labels['reporter'])).toEqual(['destination']);
      }
    }
  });

  it('lets a namespace Telemetry re-enable what the root namespace disabled, and ignores other namespaces', async () => {
    const snapshot = snapshotOf(
      telemetry(`  metrics:
  - overrides:
    - match: { metric: ALL_METRICS }
      disabled: true
`) +
        telemetry(
          `  metrics:
  - overrides:
    - match: { metric: REQUEST_COUNT }
      disabled: false
`,
          'default',
          'ns-default',
        ) +
        telemetry(
          `  metrics:
  - overrides:
    - match: { metric: REQUEST_COUNT }
      disabled: true
`,
          'other',
          'ns-other',
        ),
    );
    const m = createMeshMetrics({ workload: PRODUCTPAGE, meshConfig: MESH, snapshot });
    m.record(outboundEvent({ source: m.local }));
    expect(m.enabled).toBe(true);
    expect((await samples(m.registry, 'istio_requests_total'))[0]!.value).toBe(1);
  });

  it('merges series that differ only in a removed label, with or without a header tag', async () => {
    const snapshot = snapshotOf(
      telemetry(`  metrics:
  - overrides:
    - match: { metric: REQUEST_COUNT }
      tagOverrides:
        response_code: { operation: REMOVE }
        user: { value: "request.headers['x-user']" }
`),
    );
    const m = createMeshMetrics({ workload: PRODUCTPAGE, meshConfig: MESH, snapshot });
    m.record(outboundEvent({ source: m.local, status: 200, headers: { 'x-user': 'ann' } }));
    m.record(outboundEvent({ source: m.local, status: 503, headers: { 'x-user': 'ann' } }));
    m.record(outboundEvent({ source: m.local, status: 503, headers: { 'x-user': 'bob' } }));
    const all = await samples(m.registry, 'istio_requests_total');
    expect(all.map((x) => [x.labels['user'], x.value, x.keys.includes('response_code')])).toEqual([
      ['ann', 2, false],
      ['bob', 1, false],
    ]);
  });

  it('evaluates request attributes as Envoy defines them: url_path without the query, path with it, the HTTP version', async () => {
    // envoy docs intro/arch_overview/advanced/attributes: request.path includes the query,
    // request.url_path does not, request.protocol is "HTTP/1.1", "HTTP/2", ...
    const snapshot = snapshotOf(
      telemetry(`  metrics:
  - overrides:
    - match: { metric: REQUEST_COUNT }
      tagOverrides:
        url_path: { value: "request.url_path" }
        full_path: { value: "request.path" }
        proto: { value: "request.protocol" }
`),
    );
    const m = createMeshMetrics({ workload: PRODUCTPAGE, meshConfig: MESH, snapshot });
    expect(m.problems).toEqual([]);
    m.record(outboundEvent({ source: m.local, method: 'GET', path: '/api?id=7' }));
    m.record(
      outboundEvent({
        reporter: 'destination',
        source: m.local,
        destination: m.local,
        path: '/api',
        httpVersion: '1.0',
      }),
    );
    const all = await samples(m.registry, 'istio_requests_total');
    expect(all.map((x) => [x.labels['url_path'], x.labels['full_path'], x.labels['proto']])).toEqual([
      ['/api', '/api?id=7', 'HTTP/1.1'],
      ['/api', '/api', 'HTTP/1.0'],
    ]);
  });

  it('reports an expression reading what meshlet cannot provide and labels it unknown', async () => {
    // filter_state (Istio's peer metadata objects) is Envoy state meshlet does not keep;
    // a failed evaluation reads `unknown` in istio_stats.cc (StreamOverrides::evaluate).
    const snapshot = snapshotOf(
      telemetry(`  metrics:
  - overrides:
    - tagOverrides:
        weird: { value: "filter_state['wasm.upstream_peer']" }
`),
    );
    const m = createMeshMetrics({ workload: PRODUCTPAGE, meshConfig: MESH, snapshot });
    m.record(outboundEvent({ source: m.local }));
    expect(m.problems.map((p) => p.expression)).toContain("filter_state['wasm.upstream_peer']");
    expect((await samples(m.registry, 'istio_requests_total'))[0]!.labels['weird']).toBe('unknown');
  });

  it('evaluates full CEL in tag values: ternary, has(), methods, size(), +, printing non-strings', async () => {
    // istio_stats compiles each value with cel-cpp's default builtins (getOrCreateExpression)
    // and prints the result with Envoy's print(): ints in decimal, bools as true/false.
    const snapshot = snapshotOf(
      telemetry(`  metrics:
  - overrides:
    - match: { metric: REQUEST_COUNT }
      tagOverrides:
        tier: { value: "request.headers['x-user'] == 'alice' ? 'vip' : 'std'" }
        has_user: { value: "has(request.headers['x-user']) ? 'y' : 'n'" }
        api: { value: "request.url_path.startsWith('/api/') && request.method in ['GET', 'HEAD']" }
        ver: { value: "'v' + string(size(request.path))" }
        code_class: { value: "response.code / 100" }
        big_headers: { value: "size(request.headers) > 10" }
`),
    );
    const m = createMeshMetrics({ workload: PRODUCTPAGE, meshConfig: MESH, snapshot });
    // `has(request.headers['x-user'])` is not a field selection: a parse error, the tag is dropped.
    expect([...new Set(m.problems.map((p) => p.expression))]).toEqual([
      "has(request.headers['x-user']) ? 'y' : 'n'",
    ]);
    m.record(
      outboundEvent({
        source: m.local,
        status: 503,
        method: 'GET',
        path: '/api/x',
        headers: { 'x-user': 'alice' },
      }),
    );
    const [s] = await samples(m.registry, 'istio_requests_total');
    expect(s!.labels['tier']).toBe('vip');
    expect(s!.labels['api']).toBe('true');
    expect(s!.labels['ver']).toBe('v6');
    expect(s!.labels['code_class']).toBe('5');
    expect(s!.labels['big_headers']).toBe('false');
    expect(s!.keys).not.toContain('has_user');
  });

  it('drops a tag whose value does not parse: a new tag is not added, a standard one is removed', async () => {
    // istio_stats.cc Config: getOrCreateExpression returns no id when Parse fails; a tag that is
    // not standard is then skipped ("continue"), a standard one is mapped to no expression,
    // which overrideTags treats as "Skip dropped tags".
    const snapshot = snapshotOf(
      telemetry(`  metrics:
  - overrides:
    - match: { metric: REQUEST_COUNT }
      tagOverrides:
        extra: { value: "request.method ==" }
        request_protocol: { value: "request.protocol +" }
`),
    );
    const m = createMeshMetrics({ workload: PRODUCTPAGE, meshConfig: MESH, snapshot });
    expect([...new Set(m.problems.map((p) => p.expression))].sort()).toEqual([
      'request.method ==',
      'request.protocol +',
    ]);
    m.record(outboundEvent({ source: m.local }));
    const [s] = await samples(m.registry, 'istio_requests_total');
    expect(s!.keys).not.toContain('extra');
    expect(s!.keys).not.toContain('request_protocol');
    expect(s!.keys).toContain('response_code');
  });

  it('labels unknown when evaluation fails at request time: a missing header, a type error', async () => {
    const snapshot = snapshotOf(
      telemetry(`  metrics:
  - overrides:
    - match: { metric: REQUEST_COUNT }
      tagOverrides:
        user: { value: "request.headers['x-user']" }
        bad: { value: "request.method + 1" }
        flags: { value: "response.flags" }
`),
    );
    const m = createMeshMetrics({ workload: PRODUCTPAGE, meshConfig: MESH, snapshot });
    expect(m.problems).toEqual([]);
    m.record(outboundEvent({ source: m.local, flags: ['UO'] }));
    const [s] = await samples(m.registry, 'istio_requests_total');
    expect(s!.labels['user']).toBe('unknown');
    expect(s!.labels['bad']).toBe('unknown');
    // response.flags is Envoy's legacy bitmask (UpstreamOverflow = 0x80).
    expect(s!.labels['flags']).toBe('128');
  });
  it("reads Istio's peer metadata from filter_state: the callee on the client, the caller on the server", async () => {
    // istio.io "Customizing Istio Metrics" / 1.24 upgrade notes: peer metadata is
    // filter_state.downstream_peer / filter_state.upstream_peer (istio/proxy
    // extensions/common/metadata_object.h), fields app, version, service, revision,
    // name, namespace, type, workload, cluster.
    const snapshot = snapshotOf(
      telemetry(`  metrics:
  - overrides:
    - match: { metric: REQUEST_COUNT }
      tagOverrides:
        peer_app: { value: "has(filter_state.upstream_peer) ? filter_state.upstream_peer.app : filter_state.downstream_peer.app" }
        peer_ns: { value: "filter_state.downstream_peer.namespace" }
        peer_pod: { value: "filter_state.upstream_peer.name" }
`),
    );
    const m = createMeshMetrics({ workload: PRODUCTPAGE, meshConfig: MESH, snapshot });
    // The pod name is in Envoy's peer object; meshlet does not know it.
    expect([...new Set(m.problems.map((p) => p.expression))]).toEqual(['filter_state.upstream_peer.name']);
    m.record(outboundEvent({ source: m.local }));
    m.record(outboundEvent({ reporter: 'destination', destination: m.local }));
    const all = await samples(m.registry, 'istio_requests_total');
    const row = (reporter: string) => all.find((s) => s.labels['reporter'] === reporter)!.labels;
    expect([row('source')['peer_app'], row('source')['peer_ns']]).toEqual(['reviews', 'unknown']);
    expect([row('destination')['peer_app'], row('destination')['peer_ns']]).toEqual([
      'productpage',
      'default',
    ]);
  });
  it('leaves a tag as it was when Envoy would reject the value: an unknown function', async () => {
    // istio_stats.cc getOrCreateExpression throws CelException when cel-cpp cannot plan the
    // expression ("No overloads provided"), so Envoy refuses the whole stats config;
    // meshlet warns and leaves this override unapplied.
    const snapshot = snapshotOf(
      telemetry(`  metrics:
  - overrides:
    - match: { metric: REQUEST_COUNT }
      tagOverrides:
        request_protocol: { value: "lower(request.protocol)" }
`),
    );
    const m = createMeshMetrics({ workload: PRODUCTPAGE, meshConfig: MESH, snapshot });
    expect(m.problems[0]?.message).toMatch(/Envoy rejects the stats filter configuration.*lower/);
    m.record(outboundEvent({ source: m.local }));
    const [s] = await samples(m.registry, 'istio_requests_total');
    expect(s!.labels['request_protocol']).toBe('http');
  });
});
