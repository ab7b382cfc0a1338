import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import {
  DEFAULT_MESH_CONFIG,
  type ExtensionProvider,
  type MeshConfig,
} from '../../src/config/mesh-config.js';
import { applicableTelemetries } from '../../src/telemetry/config/telemetry-scope.js';
import { resolveTraceExport } from '../../src/telemetry/config/trace-export-config.js';
import { resolveTracing } from '../../src/telemetry/config/tracing-config.js';
import { istioConfigMap } from '../helpers/istio-config-map.js';
import { PRODUCTPAGE, snapshotOf } from './helpers.js';

const provider = (name: string, type: string, config: Record<string, unknown>): ExtensionProvider => ({
  name,
  type,
  config,
});
const mesh = (over: Partial<MeshConfig> = {}): MeshConfig => ({ ...DEFAULT_MESH_CONFIG, ...over });

describe('resolveTraceExport (meshConfig extensionProviders, istio/api mesh/v1alpha1/config.proto)', () => {
  it('reads an opentelemetry provider with http as OTLP/HTTP: path, headers from value or envName, timeout default 3s', () => {
    const m = mesh({
      extensionProviders: [
        provider('otel', 'opentelemetry', {
          service: 'observability/otel-collector.observability.svc.cluster.local',
          port: 4318,
          http: {
            path: 'v1/traces',
            headers: [
              { name: 'X-Tenant', value: 'a' },
              { name: 'authorization', envName: 'OTLP_TOKEN' },
            ],
          },
        }),
      ],
    });
    expect(resolveTraceExport(m, 'OTEL', { OTLP_TOKEN: 'Bearer t' })).toEqual({
      provider: 'otel',
      protocol: 'otlp-http',
      url: 'http://otel-collector.observability.svc.cluster.local:4318/v1/traces',
      headers: { 'x-tenant': 'a', authorization: 'Bearer t' },
      timeoutMs: 3000,
    });
  });

  it('reads an opentelemetry provider without http as OTLP/gRPC, and port 443 as TLS', () => {
    const m = mesh({
      extensionProviders: [
        provider('otel', 'opentelemetry', {
          service: 'tracing.example.com',
          port: 443,
          grpc: { timeout: '10s', initialMetadata: [{ name: 'Authentication', value: 'token-x' }] },
        }),
      ],
    });
    expect(resolveTraceExport(m, 'otel', {})).toEqual({
      provider: 'otel',
      protocol: 'otlp-grpc',
      url: 'https://tracing.example.com:443',
      headers: { authentication: 'token-x' },
      timeoutMs: 10_000,
    });
  });

  it("reads a zipkin provider with Istio's default path /api/v2/spans", () => {
    const m = mesh({
      extensionProviders: [provider('zipkin', 'zipkin', { service: 'zipkin.istio-system', port: 9411 })],
    });
    expect(resolveTraceExport(m, 'zipkin', {})).toMatchObject({
      protocol: 'zipkin',
      url: 'http://zipkin.istio-system:9411/api/v2/spans',
    });
  });

  it('says why it cannot export: undefined (reporting off, as Istio), another type (spans stay in-process), bad config', () => {
    const m = mesh({
      extensionProviders: [
        provider('dd', 'datadog', { service: 'dd-agent', port: 8126 }),
        provider('broken', 'opentelemetry', { service: 'otel', port: 70000 }),
        provider('bad-timeout', 'opentelemetry', { service: 'otel', port: 4318, http: { timeout: 'soon' } }),
      ],
    });
    expect(resolveTraceExport(m, null, {})).toBeNull();
    expect(resolveTraceExport(m, 'jaeger', {})).toMatchObject({ disablesReporting: true });
    expect(resolveTraceExport(m, 'dd', {})).toMatchObject({
      disablesReporting: false,
      problem: expect.stringMatching(/is datadog; meshlet exports to opentelemetry and zipkin/),
    });
    expect(resolveTraceExport(m, 'broken', {})).toMatchObject({
      disablesReporting: true,
      problem: expect.stringMatching(/port must be 1-65535/),
    });
    expect(resolveTraceExport(m, 'bad-timeout', {})).toMatchObject({
      problem: expect.stringMatching(/http.timeout "soon" is not a duration/),
    });
  });
});

describe('resolveTracing providers (istio pilot/pkg/model/telemetry.go Tracing)', () => {
  const otel = provider('otel', 'opentelemetry', { service: 'otel', port: 4317 });
  const zipkin = provider('zipkin', 'zipkin', { service: 'zipkin', port: 9411 });

  it('uses defaultProviders.tracing[0] until a Telemetry names one, per mode', () => {
    const m = mesh({
      extensionProviders: [otel, zipkin],
      defaultProviders: { tracing: ['otel', 'zipkin'], metrics: ['prometheus'], accessLogging: [] },
    });
    const none = resolveTracing([], m, {});
    expect([none.client.provider, none.server.provider]).toEqual(['otel', 'otel']);
    expect(none.server.export).toMatchObject({ protocol: 'otlp-grpc', url: 'http://otel:4317' });
    const snap = snapshotOf(`apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: pp, namespace: default }
spec:
  tracing:
  - match: { mode: CLIENT }
    providers: [{ name: zipkin }]
`);
    const r = resolveTracing(applicableTelemetries(snap, PRODUCTPAGE), m, {});
    expect(r.client).toMatchObject({ provider: 'zipkin', disabled: false, export: { protocol: 'zipkin' } });
    expect(r.server).toMatchObject({ provider: 'otel', export: { protocol: 'otlp-grpc' } });
  });

  it('disables reporting for a direction whose provider is undefined, and keeps it for no provider at all', () => {
    const r = resolveTracing(
      [],
      mesh({ defaultProviders: { tracing: ['nope'], metrics: [], accessLogging: [] } }),
      {},
    );
    expect(r.server).toMatchObject({ provider: 'nope', disabled: true, export: null });
    expect(r.server.providerProblem).toMatch(/not defined/);
    expect(resolveTracing([], mesh(), {}).server).toMatchObject({
      provider: null,
      disabled: false,
      export: null,
    });
  });
});

describe('meshConfig enableTracing (the legacy switch Istio falls back to)', () => {
  it('turns tracing off only when no Telemetry tracing and no default tracing provider apply', () => {
    const off = mesh({ enableTracing: false });
    expect(resolveTracing([], off, {}).server.disabled).toBe(true);
    expect(resolveTracing([], off, {}).client.disabled).toBe(true);
    const snap = snapshotOf(`apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  tracing: [{ randomSamplingPercentage: 10 }]
`);
    expect(resolveTracing(applicableTelemetries(snap, PRODUCTPAGE), off, {}).server.disabled).toBe(false);
    const withDefault = mesh({
      enableTracing: false,
      extensionProviders: [provider('otel', 'opentelemetry', { service: 'otel', port: 4317 })],
      defaultProviders: { tracing: ['otel'], metrics: ['prometheus'], accessLogging: [] },
    });
    expect(resolveTracing([], withDefault, {}).server.disabled).toBe(false);
    expect(resolveTracing([], mesh(), {}).server.disabled).toBe(false);
  });

  it('is read from the mesh config as a boolean', () => {
    const snap = loadConfigText(istioConfigMap('enableTracing: false'));
    expect(snap.diagnostics).toEqual([]);
    expect(snap.meshConfig.enableTracing).toBe(false);
    const bad = loadConfigText(istioConfigMap('enableTracing: "no"'));
    expect(bad.diagnostics.map((d) => [d.level, d.path, d.message])).toEqual([
      ['Error', 'enableTracing', 'expected true or false, got "no"'],
    ]);
  });
});

describe('meshConfig defaultProviders and Telemetry provider diagnostics', () => {
  const configMap = istioConfigMap;

  it('reads defaultProviders field by field; without a metrics list there is none, as on an install', () => {
    // An install's ConfigMap adds `metrics: [prometheus]` only when defaultProviders is
    // unset (istio-discovery templates/_helpers.tpl); mesh-config-default-providers.test.ts.
    const snap = loadConfigText(
      configMap(`extensionProviders:
- name: otel
  opentelemetry: { service: otel, port: 4317 }
defaultProviders:
  tracing: [otel]
  accessLogging: [envoy]`),
    );
    expect(snap.diagnostics.map((d) => d.code)).toEqual(['MESHLET0007']);
    expect(snap.meshConfig.defaultProviders).toEqual({
      tracing: ['otel'],
      metrics: [],
      accessLogging: ['envoy'],
    });
  });

  it('rejects a misspelt or mistyped defaultProviders field with a suggestion', () => {
    const snap = loadConfigText(configMap(`defaultProviders:\n  tracin: [otel]\n  metrics: prometheus`));
    expect(snap.diagnostics.filter((d) => d.level === 'Error').map((d) => [d.path, d.message])).toEqual([
      ['defaultProviders.tracin', expect.stringMatching(/unknown field "tracin".*did you mean "tracing"/)],
      ['defaultProviders.metrics', 'expected a list of extension provider names'],
    ]);
  });

  it('warns, with file and line, for a Telemetry provider that is undefined or not acted on in-process', () => {
    const snap = loadConfigText(
      configMap(`extensionProviders:
- name: sd
  stackdriver: {}
- name: als
  envoyHttpAls: { service: als, port: 9000 }
- name: otel
  envoyOtelAls: { service: otel-collector, port: 4317 }
defaultProviders:
  metrics: [prometheus, sd]`) +
        `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  accessLogging:
  - providers: [{ name: envoy }, { name: als }, { name: otel }]
  tracing:
  - providers: [{ name: jaeger }]
`,
      { file: 'telemetry.yaml' },
    );
    const warnings = snap.diagnostics.map((d) => [d.level, d.file, d.line, d.path, d.message]);
    expect(warnings).toEqual([
      [
        'Warning',
        null,
        null,
        'defaultProviders.metrics[1]',
        expect.stringMatching(/metrics provider "sd" is stackdriver, which meshlet does not run in-process/),
      ],
      [
        'Warning',
        'telemetry.yaml',
        23,
        'spec.tracing[0].providers[0].name',
        expect.stringMatching(/"jaeger" is not defined in meshConfig extensionProviders/),
      ],
      [
        'Warning',
        'telemetry.yaml',
        21,
        'spec.accessLogging[0].providers[1].name',
        expect.stringMatching(/"als" is envoyHttpAls.*meshlet writes no access log for it/),
      ],
    ]);
  });

  it("knows istiod's built-in providers (prometheus, stackdriver, envoy) without an extensionProviders entry", () => {
    const snap = loadConfigText(`apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  metrics: [{ providers: [{ name: prometheus }, { name: stackdriver }] }]
  accessLogging: [{ providers: [{ name: envoy }] }]
`);
    expect(snap.diagnostics.map((d) => [d.path, d.message])).toEqual([
      [
        'spec.metrics[0].providers[1].name',
        expect.stringMatching(/"stackdriver" is stackdriver, which meshlet does not run in-process/),
      ],
    ]);
  });
});
