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
