import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { istioConfigMap } from '../helpers/istio-config-map.js';

// meshConfig defaultConfig.gatewayTopology.forwardClientCertDetails: a gateway's XFCC mode
// (istio/api mesh/v1alpha1/proxy.proto Topology; istio pilot/pkg/networking/core/gateway.go,
// SANITIZE_SET when unset or UNDEFINED), a wrong value the schema error istiod's validation gives.
function load(gatewayTopology: string) {
  return loadConfigText(istioConfigMap(`defaultConfig:\n  gatewayTopology:\n${gatewayTopology}`), {
    file: 'mesh/istio.yaml',
  });
}

describe('meshConfig defaultConfig.gatewayTopology.forwardClientCertDetails', () => {
  it('defaults to SANITIZE_SET, also for UNDEFINED', () => {
    expect(loadConfigText('').meshConfig.gatewayForwardClientCert).toBe('SANITIZE_SET');
    const snap = load('    forwardClientCertDetails: UNDEFINED');
    expect(snap.meshConfig.gatewayForwardClientCert).toBe('SANITIZE_SET');
    expect(snap.diagnostics).toEqual([]);
  });

  it.each(['SANITIZE', 'FORWARD_ONLY', 'APPEND_FORWARD', 'SANITIZE_SET', 'ALWAYS_FORWARD_ONLY'])(
    'reads %s, beside numTrustedProxies',
    (mode) => {
      const snap = load(`    numTrustedProxies: 2\n    forwardClientCertDetails: ${mode}`);
      expect(snap.diagnostics).toEqual([]);
      expect(snap.meshConfig.gatewayForwardClientCert).toBe(mode);
      expect(snap.meshConfig.numTrustedProxies).toBe(2);
      // The sidecar's mode is another field.
      expect(snap.meshConfig.proxyHeaders.forwardedClientCert).toBe('APPEND_FORWARD');
    },
  );

  it('rejects an unknown mode, naming the field, and keeps the default', () => {
    const snap = load('    forwardClientCertDetails: APPEND');
    expect(snap.diagnostics.map((d) => [d.level, d.path, d.line, d.message])).toEqual([
      [
        'Error',
        'defaultConfig.gatewayTopology.forwardClientCertDetails',
        8,
        'Unsupported value: "APPEND": supported values: SANITIZE, FORWARD_ONLY, APPEND_FORWARD, SANITIZE_SET, ALWAYS_FORWARD_ONLY',
      ],
    ]);
    expect(snap.meshConfig.gatewayForwardClientCert).toBe('SANITIZE_SET');
  });
});
