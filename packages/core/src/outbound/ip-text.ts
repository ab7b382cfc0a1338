import { isIP } from 'node:net';
import { v6Bytes } from '../inbound/authz/ip.js';

let lastIp = '';
let lastText: string | null = null;

/**
 * An IP as Envoy prints it (`Ip::addressAsString`): IPv4 as written (inet_pton takes only
 * dotted quads), IPv6 as glibc's inet_ntop writes it; null for anything else. The last
 * answer is remembered: a workload's address or a caller's x-forwarded-for repeats.
 */
export function ipText(s: string): string | null {
  if (s === lastIp) return lastText;
  const kind = isIP(s);
  const text = kind === 4 ? s : kind === 6 && !s.includes('%') ? ipv6Text(s) : null;
  lastIp = s;
  lastText = text;
  return text;
}

/**
 * inet_ntop(AF_INET6): lower-case hex, the first longest run of two or more zero groups as
 * `::`, and an embedded IPv4 dotted when the first six groups are zero and the seventh is
 * not (`::a.b.c.d`) or the first five are zero and the sixth is ffff (`::ffff:a.b.c.d`),
 * glibc resolv/inet_ntop.c `inet_ntop6`.
 */
function ipv6Text(s: string): string {
  const b = v6Bytes(s);
  const words = Array.from({ length: 8 }, (_, i) => (b[2 * i]! << 8) | b[2 * i + 1]!);
  const zero5 = words.slice(0, 5).every((w) => w === 0);
  const dotted = `${words[6]! >> 8}.${words[6]! & 0xff}.${words[7]! >> 8}.${words[7]! & 0xff}`;
  if (zero5 && words[5] === 0xffff) return `::ffff:${dotted}`;
  if (zero5 && words[5] === 0 && words[6] !== 0) return `::${dotted}`;
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}
