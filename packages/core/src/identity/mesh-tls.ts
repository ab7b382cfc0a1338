import type { MeshTlsConfig } from '../config/mesh-config.js';

/** meshConfig `meshMTLS` as Node TLS options, for mesh (ISTIO_MUTUAL) connections either way. */
export function meshTlsOptions(m: MeshTlsConfig): {
  minVersion: 'TLSv1.2' | 'TLSv1.3';
  ecdhCurve?: string;
  ciphers?: string;
} {
  return {
    minVersion: m.minVersion,
    ...(m.ecdhCurves.length === 0 ? {} : { ecdhCurve: m.ecdhCurves.join(':') }),
    ...(m.cipherSuites.length === 0 ? {} : { ciphers: m.cipherSuites.join(':') }),
  };
}
