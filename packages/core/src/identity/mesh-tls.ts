import type { MeshTlsConfig, TlsDefaults } from '../config/mesh-config.js';

/** meshConfig `meshMTLS` as Node TLS server options: the mesh server's handshakes. */
export function meshTlsServerOptions(m: MeshTlsConfig): {
  minVersion: 'TLSv1.2' | 'TLSv1.3';
  ciphers?: string;
} {
  return {
    minVersion: m.minVersion,
    ...(m.cipherSuites.length === 0 ? {} : { ciphers: m.cipherSuites.join(':') }),
  };
}

/** meshConfig `tlsDefaults` as Node TLS client options, for DestinationRule SIMPLE and MUTUAL. */
export function tlsDefaultsClientOptions(d: TlsDefaults): { ecdhCurve?: string; ciphers?: string } {
  return {
    ...(d.ecdhCurves.length === 0 ? {} : { ecdhCurve: d.ecdhCurves.join(':') }),
    ...(d.cipherSuites.length === 0 ? {} : { ciphers: d.cipherSuites.join(':') }),
  };
}
