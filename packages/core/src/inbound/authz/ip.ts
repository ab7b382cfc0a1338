import { isIPv4, isIPv6 } from 'node:net';

/** An IP address as bytes (4 for IPv4, 16 for IPv6). */
export interface Ip {
  readonly bytes: Uint8Array;
}

/** A CIDR range (`ipBlocks`, `remoteIpBlocks`, `source.ip`, `remote.ip`, `destination.ip`). */
export interface Cidr {
  readonly bytes: Uint8Array;
  readonly prefixLen: number;
}

function v4Bytes(text: string): Uint8Array {
  return Uint8Array.from(text.split('.').map(Number));
}

/** The 16 bytes of a valid IPv6 address in text (`::` and an embedded dotted IPv4 allowed). */
export function v6Bytes(text: string): Uint8Array {
  let head = text;
  let tail4: Uint8Array | null = null;
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    tail4 = v4Bytes(text.slice(lastColon + 1));
    head = text.slice(0, lastColon + 1) + '0:0';
  }
  const [left = '', right] = head.split('::');
  const l = left === '' ? [] : left.split(':');
  const r = right === undefined || right === '' ? [] : right.split(':');
  const groups = [...l, ...Array<string>(8 - l.length - r.length).fill('0'), ...r];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  });
  if (tail4 !== null) out.set(tail4, 12);
  return out;
}

/** A dotted-quad IPv4 address without leading zeros, parsed without allocating strings (the hot path). */
function parseV4(t: string): Uint8Array | null {
  const out = new Uint8Array(4);
  let part = 0;
  let value = -1;
  let digits = 0;
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits > 0 && value === 0) return null;
      value = (value < 0 ? 0 : value * 10) + (c - 48);
      if (value > 255 || ++digits > 3) return null;
    } else if (c === 46 && value >= 0 && part < 3) {
      out[part++] = value;
      value = -1;
      digits = 0;
    } else return null;
  }
  if (part !== 3 || value < 0) return null;
  out[3] = value;
  return out;
}

/**
 * Parses an address as a peer reports it. An IPv4-mapped IPv6 address
 * (`::ffff:10.0.0.1`, what a dual-stack Node socket reports) is read as IPv4, as
 * Envoy sees it on an IPv4 listener. Null when not an address.
 */
export function parseIp(text: string): Ip | null {
  const fast = parseV4(text);
  if (fast !== null) return { bytes: fast };
  let t = text.trim();
  if (t.startsWith('[') && t.endsWith(']')) t = t.slice(1, -1);
  const zone = t.indexOf('%');
  if (zone >= 0) t = t.slice(0, zone);
  if (isIPv4(t)) return { bytes: v4Bytes(t) };
  if (!isIPv6(t)) return null;
  const b = v6Bytes(t);
  const mapped = b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
  return { bytes: mapped ? b.slice(12) : b };
}

/** `1.2.3.4` (a /32 or /128) or `5.6.0.0/16`; throws on anything else (validation rejected it already). */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/');
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (ip === null) throw new Error(`bad IP address (${text})`);
  const max = ip.bytes.length * 8;
  const prefixLen = slash < 0 ? max : Number(text.slice(slash + 1));
  if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > max)
    throw new Error(`bad CIDR range (${text})`);
  return { bytes: ip.bytes, prefixLen };
}

/** Envoy `CidrRange::isInRange`: same family, and the first `prefixLen` bits equal. */
export function cidrContains(cidr: Cidr, ip: Ip | null): boolean {
  if (ip === null || ip.bytes.length !== cidr.bytes.length) return false;
  let bits = cidr.prefixLen;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((ip.bytes[i] as number) & mask) !== ((cidr.bytes[i] as number) & mask)) return false;
  }
  return true;
}
