import type { InboundPort, MtlsMode } from '../compile/inbound-types.js';
import type { MeshPlan } from '../compile/plan-types.js';
import type { ListenerRow } from './listeners-view.js';

/** Envoy's virtual inbound listener, where iptables sends a sidecar's inbound traffic. */
const VIRTUAL_INBOUND_PORT = 15006;

const TLS = 'Trans: tls';
const RAW = 'Trans: raw_buffer';
// The ALPN lists istiod matches (listener.go), as istioctl names them (configdump/listener.go
// protDescrs: only [istio-peer-exchange, istio] has a name of its own, "TCP TLS").
const ALL_ISTIO_MTLS = 'App: istio,istio-peer-exchange,istio-http/1.0,istio-http/1.1,istio-h2';
const MTLS_HTTP = 'App: istio-http/1.0,istio-http/1.1,istio-h2';
const PLAINTEXT_HTTP = 'App: http/1.1,h2c';
const TCP_TLS = 'App: TCP TLS';

/**
 * The filter chain matches istiod gives a port by its listener protocol and mTLS mode
 * (filterchain_options.go `getFilterChainMatchOptions`), each as istioctl prints it
 * (`Trans: ...; App: ...`).
 */
const CHAINS: Readonly<Record<InboundPort['protocol'], Readonly<Record<MtlsMode, readonly string[]>>>> = {
  HTTP: {
    STRICT: [TLS],
    PERMISSIVE: [`${TLS}; ${ALL_ISTIO_MTLS}`, RAW],
    DISABLE: [RAW],
  },
  TCP: {
    STRICT: [TLS],
    PERMISSIVE: [`${TLS}; ${ALL_ISTIO_MTLS}`, TLS, RAW],
    DISABLE: [RAW],
  },
  AUTO: {
    STRICT: [`${TLS}; ${MTLS_HTTP}`, TLS],
    PERMISSIVE: [`${TLS}; ${MTLS_HTTP}`, `${RAW}; ${PLAINTEXT_HTTP}`, `${TLS}; ${TCP_TLS}`, RAW, TLS],
    DISABLE: [`${RAW}; ${PLAINTEXT_HTTP}`, RAW],
  },
};

function rows(matches: readonly string[], port: number | null, destination: string): ListenerRow[] {
  return matches.map((m) => ({
    address: '0.0.0.0',
    port: VIRTUAL_INBOUND_PORT,
    match: port === null ? m : `${m}; Addr: *:${port}`,
    destination,
  }));
}

/**
 * A sidecar's virtual inbound listener, as istiod builds it (listener_inbound.go
 * `inboundVirtualListener`): the chain that refuses traffic to 15006 itself, the
 * passthrough chains for ports no Service declares (the workload's mTLS mode, then each
 * port-level mode on such a port), then each Service port's chains by its protocol and its
 * PeerAuthentication mode, to `inbound|<port>||`.
 */
export function inboundListenerRows(plan: MeshPlan): ListenerRow[] {
  const pa = plan.inbound.peerAuthentication;
  const ports = plan.inbound.ports ?? [];
  const served = new Set(ports.map((p) => p.port));
  const out: ListenerRow[] = [
    {
      address: '0.0.0.0',
      port: VIRTUAL_INBOUND_PORT,
      match: `Addr: *:${VIRTUAL_INBOUND_PORT}`,
      destination: 'Non-HTTP/Non-TCP',
    },
    ...rows(CHAINS.AUTO[pa.mode], null, 'InboundPassthroughCluster'),
  ];
  // authentication.go ForPassthrough: a port-level mode on a port no Service declares.
  const extra = Object.keys(pa.portLevel)
    .map(Number)
    .filter((p) => !served.has(p))
    .sort((a, b) => a - b);
  for (const p of extra) out.push(...rows(CHAINS.AUTO[pa.modeFor(p)], p, 'InboundPassthroughCluster'));
  for (const p of ports)
    out.push(...rows(CHAINS[p.protocol][pa.modeFor(p.port)], p.port, `Cluster: inbound|${p.port}||`));
  return out;
}
