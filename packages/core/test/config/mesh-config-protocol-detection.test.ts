import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { istioConfigMap } from '../helpers/istio-config-map.js';

// meshConfig protocolDetectionTimeout (istio/api mesh/v1alpha1/config.proto; default 0s, no
// timeout), validated as istiod's ValidateProtocolDetectionTimeout does: 0s, or a whole number
// of milliseconds.
function load(value: string) {
  return loadConfigText(istioConfigMap(`protocolDetectionTimeout: ${value}`), { file: 'mesh/istio.yaml' });
}

describe('meshConfig protocolDetectionTimeout', () => {
  it('is 0 (none) by default and reads a duration, without an "unused field" note', () => {
    expect(loadConfigText('').meshConfig.protocolDetectionTimeoutMs).toBe(0);
    const snap = load('5s');
    expect(snap.diagnostics).toEqual([]);
    expect(snap.meshConfig.protocolDetectionTimeoutMs).toBe(5000);
    expect(load('0s').meshConfig.protocolDetectionTimeoutMs).toBe(0);
    expect(load('250ms').meshConfig.protocolDetectionTimeoutMs).toBe(250);
  });

  it('refuses sub-millisecond precision and a non-duration, naming the field', () => {
    for (const [value, message] of [
      ['1500us', 'only durations to ms precision are supported'],
      ['soon', '"soon" is not a duration (e.g. "5s", "100ms")'],
    ] as const) {
      const snap = load(value);
      expect(snap.diagnostics.map((d) => [d.level, d.path, d.message])).toEqual([
        ['Error', 'protocolDetectionTimeout', message],
      ]);
      expect(snap.meshConfig.protocolDetectionTimeoutMs).toBe(0);
    }
  });
});
