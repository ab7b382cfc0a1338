import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { istioConfigMap } from '../helpers/istio-config-map.js';

// ProxyConfig proxyHeaders in meshConfig.defaultConfig: the fields meshlet acts on are read
// with Istio's defaults (pilot/pkg/networking/util/proxy_headers.go), the others Istio
// documents are told as not used, a wrong value is the schema error istiod's validation
// gives, and a field meshlet does not know loads with a warning.
function load(proxyHeaders: string) {
  return loadConfigText(istioConfigMap(`defaultConfig:\n  proxyHeaders:\n${proxyHeaders}`), {
    file: 'mesh/istio.yaml',
  });
}

describe('meshConfig defaultConfig.proxyHeaders', () => {
  it("defaults to Istio's sidecar headers", () => {
    expect(loadConfigText('').meshConfig.proxyHeaders).toEqual({
      envoyDebugHeaders: true,
      attemptCount: true,
      server: { inbound: 'istio-envoy', outbound: 'envoy' },
      requestId: true,
      forwardedClientCert: 'APPEND_FORWARD',
      clientCertDetails: { subject: true, uri: true, dns: true, cert: false, chain: false },
      metadataExchange: 'PROPAGATE',
      xForwardedPort: false,
      xForwardedHost: false,
    });
  });

  it('reads every field it acts on, and tells which fields meshlet does not use and why', () => {
    const snap = load(`    envoyDebugHeaders: { disabled: true }
    attemptCount: { disabled: false }
    server: { disabled: true }
    requestId: { disabled: true }
    forwardedClientCert: SANITIZE_SET
    setCurrentClientCertDetails: { cert: true, dns: false }
    metadataExchangeHeaders: { mode: IN_MESH }
    xForwardedPort: { enabled: true }
    xForwardedHost: { enabled: true }
    preserveHttp1HeaderCase: true`);
    expect(snap.meshConfig.proxyHeaders).toEqual({
      envoyDebugHeaders: false,
      attemptCount: true,
      server: null,
      requestId: false,
      forwardedClientCert: 'SANITIZE_SET',
      clientCertDetails: { subject: true, uri: true, dns: false, cert: true, chain: false },
      metadataExchange: 'IN_MESH',
      xForwardedPort: true,
      xForwardedHost: true,
    });
    expect(snap.diagnostics.map((d) => [d.level, d.path, d.line, d.message])).toEqual([
      [
        'Info',
        'defaultConfig.proxyHeaders.preserveHttp1HeaderCase',
        17,
        'ProxyConfig proxyHeaders field "preserveHttp1HeaderCase" is not used by meshlet: header names keep the case Node gives them',
      ],
    ]);
  });

  it('names the server on both sides with server.value, and keeps the defaults for an empty value', () => {
    expect(load('    server: { value: my-proxy }').meshConfig.proxyHeaders.server).toEqual({
      inbound: 'my-proxy',
      outbound: 'my-proxy',
    });
    expect(load('    server: { value: "" }').meshConfig.proxyHeaders.server).toEqual({
      inbound: 'istio-envoy',
      outbound: 'envoy',
    });
    expect(load('    forwardedClientCert: UNDEFINED').meshConfig.proxyHeaders.forwardedClientCert).toBe(
      'APPEND_FORWARD',
    );
    // UNDEFINED, the proto's zero value, is Istio's default: the headers go everywhere.
    expect(
      load('    metadataExchangeHeaders: { mode: UNDEFINED }').meshConfig.proxyHeaders.metadataExchange,
    ).toBe('PROPAGATE');
  });

  it('rejects an unknown forwardedClientCert mode and an unknown detail, naming each field', () => {
    const snap = load(`    forwardedClientCert: APPEND
    setCurrentClientCertDetails: { san: true }
    metadataExchangeHeaders: { mode: OUT_OF_MESH }
    xForwardedPort: { enabled: "yes" }`);
    expect(snap.diagnostics.map((d) => [d.level, d.path, d.line, d.message])).toEqual([
      [
        'Error',
        'defaultConfig.proxyHeaders.forwardedClientCert',
        8,
        'Unsupported value: "APPEND": supported values: SANITIZE, FORWARD_ONLY, APPEND_FORWARD, SANITIZE_SET, ALWAYS_FORWARD_ONLY',
      ],
      [
        'Error',
        'defaultConfig.proxyHeaders.setCurrentClientCertDetails.san',
        9,
        'unknown field "san": expected subject, cert, chain, dns or uri',
      ],
      [
        'Error',
        'defaultConfig.proxyHeaders.metadataExchangeHeaders.mode',
        10,
        'Unsupported value: "OUT_OF_MESH": supported values: UNDEFINED, IN_MESH',
      ],
      ['Error', 'defaultConfig.proxyHeaders.xForwardedPort.enabled', 11, 'expected true or false, got "yes"'],
    ]);
  });

  it('rejects a disabled flag that is not a boolean, naming the field', () => {
    const snap = load('    envoyDebugHeaders: { disabled: "yes" }');
    const errors = snap.diagnostics.filter((d) => d.level === 'Error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      code: 'IST0106',
      file: 'mesh/istio.yaml',
      line: 8,
      message: 'expected true or false, got "yes"',
    });
    expect(errors[0]!.path).toBe('defaultConfig.proxyHeaders.envoyDebugHeaders.disabled');
    expect(snap.meshConfig.proxyHeaders.envoyDebugHeaders).toBe(true);
  });

  it('loads a field it does not know with a warning', () => {
    const snap = load('    someFutureHeader: { disabled: true }');
    expect(snap.diagnostics.map((d) => [d.level, d.message])).toEqual([
      [
        'Warning',
        'ProxyConfig proxyHeaders field "someFutureHeader" is unknown to meshlet and has no effect',
      ],
    ]);
  });
});
