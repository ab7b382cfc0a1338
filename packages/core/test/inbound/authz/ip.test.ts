import { describe, expect, it } from 'vitest';
import { cidrContains, parseCidr, parseIp } from '../../../src/inbound/authz/ip.js';
import { remoteIp } from '../../../src/inbound/authz/remote-ip.js';

const bytes = (t: string) => {
  const ip = parseIp(t);
  return ip === null ? null : [...ip.bytes];
};

describe('parseIp', () => {
  it.each([
    ['10.0.0.9', [10, 0, 0, 9]],
    ['255.255.255.255', [255, 255, 255, 255]],
    ['::ffff:10.1.2.3', [10, 1, 2, 3]],
    ['::1', [...Array<number>(15).fill(0), 1]],
    ['[2001:db8::1]', [0x20, 0x01, 0x0d, 0xb8, ...Array<number>(11).fill(0), 1]],
    ['256.0.0.1', null],
    ['01.2.3.4', null],
    ['1.2.3', null],
    ['1.2.3.4.5', null],
    ['example.com', null],
    ['', null],
  ])('reads %j', (text, want) => {
    expect(bytes(text)).toEqual(want);
  });
});

describe('cidrContains', () => {
  it.each([
    ['5.6.0.0/16', '5.6.200.1', true],
    ['5.6.0.0/16', '5.7.0.1', false],
    ['10.0.0.1', '10.0.0.1', true],
    ['10.0.0.1', '10.0.0.2', false],
    ['0.0.0.0/0', '192.0.2.1', true],
    ['10.0.0.0/9', '10.127.255.255', true],
    ['10.0.0.0/9', '10.128.0.0', false],
    ['2001:db8::/32', '2001:db8:ffff::1', true],
    ['2001:db8::/32', '10.0.0.1', false],
  ])('%s contains %s: %s', (cidr, ip, want) => {
    expect(cidrContains(parseCidr(cidr), parseIp(ip))).toBe(want);
  });

  it('refuses a malformed block', () => {
    expect(() => parseCidr('10.0.0.0/33')).toThrow(/bad CIDR/);
    expect(() => parseCidr('nope')).toThrow(/bad IP/);
  });
});

describe('remoteIp', () => {
  const peer = parseIp('10.0.0.5');
  it.each([
    [undefined, 1, '10.0.0.5'],
    ['203.0.113.7', 0, '10.0.0.5'],
    ['203.0.113.7', 1, '203.0.113.7'],
    ['1.1.1.1, 203.0.113.7', 1, '203.0.113.7'],
    ['1.1.1.1, 203.0.113.7', 2, '1.1.1.1'],
    ['203.0.113.7', 2, '10.0.0.5'],
    ['garbage', 1, '10.0.0.5'],
  ] as const)('XFF %j with %i trusted proxies → %s', (xff, n, want) => {
    expect(remoteIp(xff, peer, n)).toEqual(parseIp(want));
  });

  it.each([
    [undefined, '10.0.0.5'],
    ['203.0.113.7', '203.0.113.7'],
    ['1.1.1.1, 203.0.113.7', '203.0.113.7'],
    ['1.1.1.1,  203.0.113.7 ', '203.0.113.7'],
    ['203.0.113.7, garbage', '10.0.0.5'],
    ['', '10.0.0.5'],
  ] as const)('a sidecar: XFF %j → %s (the rightmost entry, whatever numTrustedProxies)', (xff, want) => {
    expect(remoteIp(xff, peer, 0, false)).toEqual(parseIp(want));
    expect(remoteIp(xff, peer, 2, false)).toEqual(parseIp(want));
  });

  it('joins repeated X-Forwarded-For headers', () => {
    expect(remoteIp(['1.1.1.1', '203.0.113.7'], peer, 1)).toEqual(parseIp('203.0.113.7'));
  });
});
