import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_MESH_CONFIG, type MeshConfig } from '../../src/config/mesh-config.js';
import { resolveTracing } from '../../src/telemetry/config/tracing-config.js';
import type { ScopedTelemetry } from '../../src/telemetry/config/telemetry-scope.js';
import { createMeshTracing, type MeshTracing } from '../../src/telemetry/tracing/mesh-tracing.js';
import { REVIEWS_V2 } from './helpers.js';

// istiod takes the custom tags of meshConfig defaultConfig.tracing (ProxyConfig) when the
// Telemetry tracing in force names none (pilot/pkg/networking/core/tracing.go
// configureCustomTags: `if len(providerTags) == 0 { ... buildCustomTagsFromProxyConfig }`).

const open: MeshTracing[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.shutdown()));
});

const meshConfig: MeshConfig = {
  ...DEFAULT_MESH_CONFIG,
  tracingSampling: 100,
  defaultConfig: {
    tracing: {
      sampling: 100,
      customTags: {
        team: { literal: { value: 'bookinfo' } },
        user: { header: { name: 'x-user', defaultValue: 'anon' } },
      },
    },
  },
};

function attributesWith(scoped: readonly ScopedTelemetry[]) {
  const exporter = new InMemorySpanExporter();
  const t = createMeshTracing({
    workload: REVIEWS_V2,
    meshConfig,
    tracing: resolveTracing(scoped, meshConfig, {}),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
    otlp: false,
    env: {},
  });
  open.push(t);
  t.startClientSpan({ method: 'GET', url: 'http://ratings:9080/', headers: {} }).end({ status: 200 });
  return exporter.getFinishedSpans()[0]!.attributes;
}

describe('ProxyConfig custom tags', () => {
  it('tags spans with defaultConfig.tracing.customTags only when the Telemetry in force names none', () => {
    expect(attributesWith([])).toMatchObject({ team: 'bookinfo', user: 'anon' });
    const a = attributesWith([
      {
        resource: {
          kind: 'Telemetry',
          metadata: { name: 't', namespace: 'default' },
          spec: { tracing: [{ customTags: { own: { literal: { value: 'yes' } } } }] },
        },
      } as never,
    ]);
    expect(a['own']).toBe('yes');
    expect(a['team']).toBeUndefined();
  });
});
