import { describe, expect, it } from 'vitest';
import { DEFAULT_MESH_CONFIG, type MeshConfig } from '../../src/config/mesh-config.js';
import { resolveAccessLogs } from '../../src/telemetry/config/access-log-config.js';
import { applicableTelemetries } from '../../src/telemetry/config/telemetry-scope.js';
import { PRODUCTPAGE, snapshotOf } from './helpers.js';

const mesh = (over: Partial<MeshConfig> = {}): MeshConfig => ({
  ...DEFAULT_MESH_CONFIG,
  accessLogFile: '/tmp/legacy.log',
  ...over,
});
const tel = (ns: string, name: string, body: string) => `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: ${name}, namespace: ${ns} }
spec:
${body}
---
`;
const scopedOf = (yaml: string) => applicableTelemetries(snapshotOf(yaml), PRODUCTPAGE);
const providers = (scoped: ReturnType<typeof scopedOf>, m: MeshConfig, mode: 'CLIENT' | 'SERVER') =>
  resolveAccessLogs(scoped, m, mode).logs.map((l) => [l.provider, l.path]);

// istio pilot/pkg/networking/core/accesslog.go setHTTPAccessLog: when
// Telemetries.AccessLogging returns no config (len(cfgs) == 0) the legacy meshConfig
// accessLogFile is used. AccessLogging (pilot/pkg/model/telemetry.go) leaves out
// providers mergeLogs did not keep for the mode, providers fetchProvider cannot find,
// and providers with no access logger (telemetryAccessLog returns nil); a provider
// mergeLogs marked disabled is kept (and then skipped by buildAccessLogFromTelemetry).
describe('resolveAccessLogs fallback to meshConfig accessLogFile', () => {
  it('keeps the legacy log when a Telemetry disables logging but names no provider and there is no default', () => {
    const scoped = scopedOf(tel('istio-system', 'mesh-default', '  accessLogging:\n  - disabled: true\n'));
    expect(providers(scoped, mesh(), 'SERVER')).toEqual([['meshConfig', '/tmp/legacy.log']]);
  });

  it('turns the legacy log off when a Telemetry disables a named file provider', () => {
    const scoped = scopedOf(
      tel(
        'istio-system',
        'mesh-default',
        '  accessLogging:\n  - providers: [{ name: envoy }]\n    disabled: true\n',
      ),
    );
    expect(providers(scoped, mesh(), 'SERVER')).toEqual([]);
  });

  it('keeps the legacy log for the direction a mode-matched Telemetry does not cover', () => {
    const scoped = scopedOf(
      tel(
        'istio-system',
        'mesh-default',
        '  accessLogging:\n  - match: { mode: CLIENT }\n    providers: [{ name: envoy }]\n',
      ),
    );
    expect(providers(scoped, mesh(), 'CLIENT')).toEqual([['envoy', '/dev/stdout']]);
    expect(providers(scoped, mesh(), 'SERVER')).toEqual([['meshConfig', '/tmp/legacy.log']]);
  });

  it('keeps the legacy log when the only provider named is undefined or logs nothing (prometheus)', () => {
    const undefinedName = scopedOf(
      tel('istio-system', 'a', '  accessLogging:\n  - providers: [{ name: nope }]\n'),
    );
    expect(providers(undefinedName, mesh(), 'SERVER')).toEqual([['meshConfig', '/tmp/legacy.log']]);
    const notALogger = scopedOf(
      tel('istio-system', 'a', '  accessLogging:\n  - providers: [{ name: prometheus }]\n'),
    );
    expect(providers(notALogger, mesh(), 'SERVER')).toEqual([['meshConfig', '/tmp/legacy.log']]);
  });

  it('does not fall back when an OpenTelemetry ALS provider is configured: it is the log', () => {
    const scoped = scopedOf(tel('istio-system', 'a', '  accessLogging:\n  - providers: [{ name: otel }]\n'));
    const m = mesh({
      extensionProviders: [
        { name: 'otel', type: 'envoyOtelAls', config: { service: 'otel.svc', port: 4317 } },
      ],
    });
    const r = resolveAccessLogs(scoped, m, 'SERVER');
    expect(r.logs).toEqual([]);
    expect(r.otel.map((o) => o.provider)).toEqual(['otel']);
    expect(r.unsupported).toEqual([]);
  });

  it('still reports Envoy gRPC ALS providers (envoyHttpAls, envoyTcpAls), which meshlet cannot write, and does not fall back', () => {
    const scoped = scopedOf(
      tel('istio-system', 'a', '  accessLogging:\n  - providers: [{ name: http-als }, { name: tcp-als }]\n'),
    );
    const m = mesh({
      extensionProviders: [
        { name: 'http-als', type: 'envoyHttpAls', config: { service: 'als.svc', port: 9000 } },
        { name: 'tcp-als', type: 'envoyTcpAls', config: { service: 'als.svc', port: 9000 } },
      ],
    });
    const r = resolveAccessLogs(scoped, m, 'SERVER');
    expect(r.logs).toEqual([]);
    expect(r.otel).toEqual([]);
    expect(r.unsupported).toEqual(['http-als (envoyHttpAls)', 'tcp-als (envoyTcpAls)']);
  });

  it('keeps the legacy log when defaultProviders names only an undefined provider', () => {
    const m = mesh({ defaultProviders: { tracing: [], metrics: ['prometheus'], accessLogging: ['nope'] } });
    expect(providers([], m, 'SERVER')).toEqual([['meshConfig', '/tmp/legacy.log']]);
  });
});
