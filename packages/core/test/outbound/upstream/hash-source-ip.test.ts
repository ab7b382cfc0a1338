import { describe, expect, it } from 'vitest';
import type { ConsistentHash } from '../../../src/compile/traffic-policy.js';
import { hashKeyOf } from '../../../src/outbound/hash-key.js';
import { sourceAddress } from '../../../src/outbound/source-address.js';

// consistentHash.useSourceIp: Envoy's IpHashMethod (envoy source/common/http/hash_policy.cc)
// hashes `downstream_addr->ip()->addressAsString()`. On a sidecar's outbound listener Istio
// leaves use_remote_address off (pilot listener.go, features.UseRemoteAddress defaults false),
// so conn_manager_utility.cc takes the downstream address from the last x-forwarded-for entry
// when it parses as an IP (http/utility.cc getLastAddressFromXFF, xff_num_trusted_hops 0),
// else from the connection: the pod's IP.

const src: ConsistentHash = { key: { kind: 'sourceIp' }, ring: { kind: 'ringHash', minimumRingSize: 1024 } };
const POD = '10.244.1.7';

describe('useSourceIp hash key', () => {
  it('is the pod address without x-forwarded-for', () => {
    expect(hashKeyOf(src, {}, '/', () => POD)).toBe(POD);
  });

  it.each([
    ['203.0.113.9', '203.0.113.9'],
    ['198.51.100.1, 203.0.113.9', '203.0.113.9'],
    ['198.51.100.1,203.0.113.9 \t', '203.0.113.9'],
    ['198.51.100.1, 2001:DB8:0:0::1', '2001:db8::1'],
  ])('is the last x-forwarded-for address of %j: %j', (xff, want) => {
    expect(hashKeyOf(src, { 'x-forwarded-for': xff }, '/', () => POD)).toBe(want);
  });

  it.each([
    ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
    ['::FFFF:0102:0304', '::ffff:1.2.3.4'],
    ['::1', '::1'],
    ['::2', '::2'],
    ['::1.2.3.4', '::1.2.3.4'],
    ['1:0:0:1:0:0:0:1', '1:0:0:1::1'],
    ['2001:db8:0:1:0:0:0:0', '2001:db8:0:1::'],
    ['2001:db8:1:1:1:1:0:1', '2001:db8:1:1:1:1:0:1'],
  ])('prints an IPv6 x-forwarded-for address %j as inet_ntop does: %j', (xff, want) => {
    expect(hashKeyOf(src, { 'x-forwarded-for': xff }, '/', () => POD)).toBe(want);
  });

  it('joins repeated x-forwarded-for lines with "," first (an inline header in Envoy)', () => {
    expect(hashKeyOf(src, { 'x-forwarded-for': ['198.51.100.1', '203.0.113.9'] }, '/', () => POD)).toBe(
      '203.0.113.9',
    );
  });

  it.each([['unknown'], ['203.0.113.9,'], ['203.0.113.9:8080'], ['[2001:db8::1]'], ['']])(
    'falls back to the pod address when the last entry of %j is not an IP',
    (xff) => {
      expect(hashKeyOf(src, { 'x-forwarded-for': xff }, '/', () => POD)).toBe(POD);
    },
  );
});

describe('the source address of this workload', () => {
  const w = { name: 'sleep-7d9f', namespace: 'default', serviceAccount: 'sleep', labels: {} };

  it('is the workload ip when set', () => {
    expect(sourceAddress({ ...w, ip: '10.244.1.7' }, () => ({}))).toBe('10.244.1.7');
  });

  it('else the first non-internal IPv4 of the network interfaces', () => {
    const nics = () => ({
      lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true }],
      eth0: [
        { address: 'fe80::1', family: 'IPv6', internal: false },
        { address: '10.244.1.8', family: 'IPv4', internal: false },
      ],
    });
    expect(sourceAddress(w, nics)).toBe('10.244.1.8');
  });

  it('else the workload name', () => {
    const nics = () => ({ lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true }] });
    expect(sourceAddress(w, nics)).toBe('sleep-7d9f');
  });
});
