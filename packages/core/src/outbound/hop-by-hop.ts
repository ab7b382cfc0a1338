/**
 * Connection-level headers a proxy does not forward (RFC 9110 §7.6.1): Envoy drops them on
 * the way upstream, and undici refuses to send them.
 */
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
]);
