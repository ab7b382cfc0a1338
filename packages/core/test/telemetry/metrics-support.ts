import type { Registry } from 'prom-client';
import { destinationServiceOf } from '../../src/telemetry/metrics/destination-service.js';
import type { MetricEvent } from '../../src/telemetry/metrics/metric-event.js';
import { peerFromIdentity, peerFromWorkload, type PeerLabels } from '../../src/telemetry/peer-labels.js';
import { PRODUCTPAGE, REVIEWS_V2 } from './helpers.js';

const REVIEWS = destinationServiceOf('reviews.default.svc.cluster.local', { namespace: 'default' });

/** Parse `name{a="b",...} value` lines of one metric into label objects and values. */
export async function samples(registry: Registry, name: string) {
  const text = await registry.metrics();
  const out: { labels: Record<string, string>; value: number; keys: string[] }[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const body = line.slice(name.length + 1, line.lastIndexOf('}'));
    const labels: Record<string, string> = {};
    const keys: string[] = [];
    for (const m of body.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[m[1]!] = m[2]!;
      keys.push(m[1]!);
    }
    out.push({ labels, keys, value: Number(line.slice(line.lastIndexOf(' ') + 1)) });
  }
  return out;
}

export function outboundEvent(over: Partial<MetricEvent> = {}): MetricEvent {
  const local = peerFromWorkload(PRODUCTPAGE, { trustDomain: 'cluster.local' });
  return {
    reporter: 'source',
    source: local,
    destination: peerFromWorkload(REVIEWS_V2, { trustDomain: 'cluster.local' }),
    destinationService: REVIEWS,
    port: 9080,
    protocol: 'http',
    status: 200,
    flags: [],
    mtls: true,
    durationMs: 12,
    requestBytes: 310,
    responseBytes: 4096,
    ...over,
  };
}

/** The labels of a peer known only by its certificate, `cluster.local/ns/<namespace>/sa/<sa>`. */
export function certificatePeer(namespace: string, serviceAccount: string): PeerLabels {
  return peerFromIdentity({
    principal: `cluster.local/ns/${namespace}/sa/${serviceAccount}`,
    trustDomain: 'cluster.local',
    namespace,
    serviceAccount,
  });
}
