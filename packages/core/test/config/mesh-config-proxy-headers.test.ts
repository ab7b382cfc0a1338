import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { istioConfigMap } from '../helpers/istio-config-map.js';

// ProxyConfig proxyHeaders in meshConfig.defaultConfig: two fields are acted on, the others
// Istio documents are told as not used, a wrong value is the schema error istiod's
// validation gives, and a field meshlet does not know loads with a warning.
function load(proxyHeaders: string) {
  return loadConfigText(istioConfigMap(`defaultConfig:\n  proxyHeaders:\n${proxyHeaders}`), {
    file: 'mesh/istio.yaml',
  });
}

describe('meshConfig defaultConfig.proxyHeaders', () => {
  it('defaults to every header on', () => {
    expect(loadConfigText('').meshConfig.proxyHeaders).toEqual({
      envoyDebugHeaders: true,
      attemptCount: true,
    });
  });

  it('reads envoyDebugHeaders and attemptCount, and tells which fields meshlet does not use', () => {
    const snap = load(`    envoyDebugHeaders: { disabled: true }
    attemptCount: { disabled: false }
    server: { disabled: true }
    requestId: { disabled: true }`);
    expect(snap.meshConfig.proxyHeaders).toEqual({ envoyDebugHeaders: false, attemptCount: true });
    expect(snap.diagnostics.map((d) => [d.level, d.path, d.line])).toEqual([
      ['Info', 'defaultConfig.proxyHeaders.server', 10],
      ['Info', 'defaultConfig.proxyHeaders.requestId', 11],
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
