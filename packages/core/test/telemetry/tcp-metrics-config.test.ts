import { describe, expect, it } from 'vitest';
import { createMeshMetrics } from '../../src/telemetry/metrics/istio-metrics.js';
import { MESH, PRODUCTPAGE, snapshotOf } from './helpers.js';
import { outboundEvent, samples } from './metrics-support.js';

// The TCP metrics under the Telemetry API: `reportingInterval` sets the stats filter's
// tcp_reporting_duration, the more specific Telemetry winning (istio model/telemetry.go
// mergeMetrics, telemetry_test.go "override-interval"); overrides name TCP metrics by
// IstioMetric or by the stats name as a customMetric.

const telemetry = (spec: string, ns = 'istio-system', name = 'mesh-default') => `
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: ${name}, namespace: ${ns} }
spec:
${spec}
---
`;
const tcp = { protocol: 'tcp' as const, status: 0 };
const report = { opened: true, closed: true, sent: 5, received: 7 };

describe('TCP metrics configuration', () => {
  it('takes reportingInterval from the most specific Telemetry, null when none sets it', () => {
    expect(
      createMeshMetrics({ workload: PRODUCTPAGE, meshConfig: MESH, snapshot: snapshotOf('') })
        .reportingIntervalMs,
    ).toBeNull();
    const root = telemetry(`  metrics:\n  - providers: [{ name: prometheus }]\n    reportingInterval: 15s\n`);
    expect(
      createMeshMetrics({ workload: PRODUCTPAGE, meshConfig: MESH, snapshot: snapshotOf(root) })
        .reportingIntervalMs,
    ).toBe(15_000);
    const ns = telemetry(`  metrics:\n  - reportingInterval: 10s\n`, 'default', 'ns');
    expect(
      createMeshMetrics({ workload: PRODUCTPAGE, meshConfig: MESH, snapshot: snapshotOf(root + ns) })
        .reportingIntervalMs,
    ).toBe(10_000);
  });

  it('disables a TCP metric by customMetric stats name and removes a tag from the others', async () => {
    const spec = `  metrics:
  - providers: [{ name: prometheus }]
    overrides:
    - match: { customMetric: tcp_received_bytes_total }
      disabled: true
    - match: { metric: ALL_METRICS }
      tagOverrides:
        destination_cluster: { operation: REMOVE }
`;
    const snapshot = snapshotOf(telemetry(spec));
    // The name is one meshlet records: no "names no metric" warning.
    expect(snapshot.diagnostics.map((d) => d.message)).toEqual([]);
    const m = createMeshMetrics({ workload: PRODUCTPAGE, meshConfig: MESH, snapshot });
    m.recordTcp(outboundEvent({ source: m.local, ...tcp }), report);
    expect(await samples(m.registry, 'istio_tcp_received_bytes_total')).toEqual([]);
    const [sent] = await samples(m.registry, 'istio_tcp_sent_bytes_total');
    expect(sent!.value).toBe(5);
    expect(sent!.keys).not.toContain('destination_cluster');
    expect(sent!.keys).not.toContain('response_code');
    expect(sent!.labels['request_protocol']).toBe('tcp');
    // A report that neither opens nor closes adds bytes only.
    m.recordTcp(outboundEvent({ source: m.local, ...tcp }), {
      opened: false,
      closed: false,
      sent: 3,
      received: 0,
    });
    expect((await samples(m.registry, 'istio_tcp_sent_bytes_total'))[0]!.value).toBe(8);
    expect((await samples(m.registry, 'istio_tcp_connections_opened_total'))[0]!.value).toBe(1);
    expect((await samples(m.registry, 'istio_tcp_connections_closed_total'))[0]!.value).toBe(1);
  });

  it('adds connections between the same peers to one series, counts again after a registry reset, and makes no series before its first count', async () => {
    const m = createMeshMetrics({ workload: PRODUCTPAGE, meshConfig: MESH });
    // Each connection has its own event; its peers' and service's labels are the same objects.
    const peers = outboundEvent({ source: m.local, ...tcp });
    const open = { opened: true, closed: false, sent: 2, received: 1 };
    m.recordTcp({ ...peers }, open);
    // Opened, not closed: no closed-connections series yet, as the stats filter reports none.
    expect(await samples(m.registry, 'istio_tcp_connections_closed_total')).toEqual([]);
    m.recordTcp({ ...peers }, report);
    expect((await samples(m.registry, 'istio_tcp_connections_opened_total'))[0]!.value).toBe(2);
    expect((await samples(m.registry, 'istio_tcp_sent_bytes_total'))[0]!.value).toBe(7);
    m.registry.resetMetrics();
    expect(await samples(m.registry, 'istio_tcp_sent_bytes_total')).toEqual([]);
    m.recordTcp({ ...peers }, report);
    expect((await samples(m.registry, 'istio_tcp_sent_bytes_total'))[0]!.value).toBe(5);
    expect((await samples(m.registry, 'istio_tcp_connections_closed_total'))[0]!.value).toBe(1);
  });
});
