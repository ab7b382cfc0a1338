/**
 * The ALPN values an Istio client offers over mTLS (istio pilot/pkg/networking/core/listener.go
 * allIstioMtlsALPNs). A sidecar's PERMISSIVE HTTP port has an mTLS filter chain only for a
 * ClientHello offering one of them (filterchain_options.go
 * inboundPermissiveHTTPFilterChainMatchWithMxcOptions); its STRICT one matches any TLS.
 */
export const ISTIO_MTLS_ALPNS: readonly string[] = Object.freeze([
  'istio',
  'istio-peer-exchange',
  'istio-http/1.0',
  'istio-http/1.1',
  'istio-h2',
]);

/** Whether a ClientHello offering `alpn` matches the mTLS chain of a PERMISSIVE HTTP port. */
export function offersIstioMtls(alpn: readonly string[]): boolean {
  return alpn.some((p) => ISTIO_MTLS_ALPNS.includes(p));
}
