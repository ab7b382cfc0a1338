import type { TransportTls } from '../../outbound/transport.js';

/** Istio's in-mesh ALPN, which it offers upstream only under ISTIO_MUTUAL (pilot cluster_tls.go). */
const ISTIO_ALPN = 'istio';

/**
 * Whether an outbound try's TLS was Istio mTLS (ISTIO_MUTUAL, auto mTLS included)
 * presenting the workload certificate: the `mtls` of the client's MetricEvent, under
 * which it reports its own principal and the upstream's. SIMPLE and MUTUAL present no
 * mesh identity of this workload and do not count. meshlet's `createTlsFor`, like
 * istiod, offers the in-mesh ALPN only for ISTIO_MUTUAL.
 */
export function isIstioMutual(tls: TransportTls | null): boolean {
  return tls !== null && tls.cert !== null && tls.alpn?.includes(ISTIO_ALPN) === true;
}
