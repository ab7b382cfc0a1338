import type { MeshTlsConfig, TlsDefaults } from '../config/mesh-config.js';

/**
 * The TLS 1.2 suites of a sidecar's inbound mTLS chain when meshMTLS names none, in Istio's
 * order (istio pilot/pkg/security/authn/utils/utils.go SupportedCiphers). Not node's
 * default list, which adds CHACHA20 and CBC suites an Istio sidecar refuses. TLS 1.3 suites
 * are not configurable in Envoy; node keeps its (the same three) when the list has none.
 */
export const ISTIO_INBOUND_CIPHERS: readonly string[] = Object.freeze([
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'AES256-GCM-SHA384',
  'AES128-GCM-SHA256',
]);

/**
 * Envoy's server curves: BuildInboundTLS sets no ecdh_curves (meshMTLS.ecdhCurves is refused),
 * so envoy source/common/tls/server_context_config_impl.cc DEFAULT_CURVES applies; node's
 * `auto` would also take P-384, P-521 and X448.
 */
export const ENVOY_SERVER_CURVES = 'X25519:P-256';

/** Server-side TLS options of the mesh server's handshakes. */
export interface MeshTlsServerOptions {
  readonly minVersion: 'TLSv1.2' | 'TLSv1.3';
  readonly maxVersion: 'TLSv1.3';
  readonly ciphers: string;
  readonly ecdhCurve: string;
  /** Envoy's DownstreamTlsContext `prefer_client_ciphers` is false: the server's order wins. */
  readonly honorCipherOrder: true;
}

/** meshConfig `meshMTLS` as Node TLS server options: the mesh server's handshakes. */
export function meshTlsServerOptions(m: MeshTlsConfig): MeshTlsServerOptions {
  // Read once per new context (a rotation or a reload); a plan's meshConfig is frozen.
  let options = serverOptions.get(m);
  if (options === undefined) {
    options = Object.freeze({
      minVersion: m.minVersion,
      maxVersion: 'TLSv1.3' as const,
      ciphers: (m.cipherSuites.length === 0 ? ISTIO_INBOUND_CIPHERS : m.cipherSuites).join(':'),
      ecdhCurve: ENVOY_SERVER_CURVES,
      honorCipherOrder: true as const,
    });
    serverOptions.set(m, options);
  }
  return options;
}

const serverOptions = new WeakMap<MeshTlsConfig, MeshTlsServerOptions>();

/** meshConfig `tlsDefaults` as Node TLS client options, for DestinationRule SIMPLE and MUTUAL. */
export function tlsDefaultsClientOptions(d: TlsDefaults): { ecdhCurve?: string; ciphers?: string } {
  // Asked per call; a plan's meshConfig is frozen, so the joined strings are kept.
  let options = clientOptions.get(d);
  if (options === undefined) {
    options = Object.freeze({
      ...(d.ecdhCurves.length === 0 ? {} : { ecdhCurve: d.ecdhCurves.join(':') }),
      ...(d.cipherSuites.length === 0 ? {} : { ciphers: d.cipherSuites.join(':') }),
    });
    clientOptions.set(d, options);
  }
  return options;
}

const clientOptions = new WeakMap<TlsDefaults, { readonly ecdhCurve?: string; readonly ciphers?: string }>();
