import { describe, expect, it } from 'vitest';
import { compilePlan } from '../../src/compile/compile-plan.js';
import { namespaceMtlsMode } from '../../src/compile/service-mtls.js';
import { loadConfigText } from '../../src/config/load.js';
import { istioConfigMap } from '../helpers/istio-config-map.js';
import { snapshotOf } from './helpers.js';

// The PeerAuthentication modes a client reads for auto mTLS, as istio
// pilot/pkg/model/authentication.go initPeerAuthentications / GetNamespaceMutualTLSMode.

const client = { name: 'c', namespace: 'client-ns', serviceAccount: 'c', labels: { app: 'c' } };

function pa(ns: string, name: string, mode: string | null, ts: string, selector = false): string {
  return `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: ${name}, namespace: ${ns}, creationTimestamp: "${ts}" }
spec:${selector ? '\n  selector: { matchLabels: { app: legacy } }' : ''}${mode === null ? ' {}' : `\n  mtls: { mode: ${mode} }`}
`;
}

function modes(...docs: string[]) {
  return compilePlan(snapshotOf(...docs), client).outbound.serviceMtls;
}

describe('service mTLS modes for auto mTLS', () => {
  it('is unknown (null) with no mesh or namespace policy, and ignores workload policies', () => {
    const m = modes(pa('legacy', 'wl', 'DISABLE', '2024-01-01T00:00:00Z', true));
    expect(namespaceMtlsMode(m, 'legacy')).toBeNull();
  });

  it('takes the oldest selector-less policy of a namespace', () => {
    const m = modes(
      pa('legacy', 'newer', 'STRICT', '2024-02-01T00:00:00Z'),
      pa('legacy', 'older', 'DISABLE', '2024-01-01T00:00:00Z'),
    );
    expect(namespaceMtlsMode(m, 'legacy')).toBe('DISABLE');
  });

  it('falls back to the mesh policy, whose UNSET means PERMISSIVE', () => {
    expect(
      namespaceMtlsMode(modes(pa('istio-system', 'mesh', 'DISABLE', '2024-01-01T00:00:00Z')), 'any'),
    ).toBe('DISABLE');
    expect(namespaceMtlsMode(modes(pa('istio-system', 'mesh', null, '2024-01-01T00:00:00Z')), 'any')).toBe(
      'PERMISSIVE',
    );
  });

  it("lets a namespace's UNSET inherit the mesh mode and its own mode override it", () => {
    const m = modes(
      pa('istio-system', 'mesh', 'DISABLE', '2024-01-01T00:00:00Z'),
      pa('inherits', 'default', null, '2024-01-01T00:00:00Z'),
      pa('strict', 'default', 'STRICT', '2024-01-01T00:00:00Z'),
    );
    expect(namespaceMtlsMode(m, 'inherits')).toBe('DISABLE');
    expect(namespaceMtlsMode(m, 'strict')).toBe('STRICT');
    expect(namespaceMtlsMode(m, 'other')).toBe('DISABLE');
  });
});

describe('meshConfig enableAutoMtls', () => {
  it('defaults to true and is read as a boolean', () => {
    expect(loadConfigText([]).meshConfig.enableAutoMtls).toBe(true);
    const off = loadConfigText(istioConfigMap('enableAutoMtls: false'));
    expect(off.diagnostics).toEqual([]);
    expect(off.meshConfig.enableAutoMtls).toBe(false);
    const bad = loadConfigText(istioConfigMap('enableAutoMtls: "no"'));
    expect(bad.diagnostics.map((d) => [d.level, d.path, d.message])).toEqual([
      ['Error', 'enableAutoMtls', 'expected true or false, got "no"'],
    ]);
  });
});
