import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { SecureContextOptions } from 'node:tls';
import type { GatewayServerInfo } from '../compile/plan-types.js';
import type { ServerTLSSettings } from '../config/schema/gateway-tls.js';
import { MeshletError } from '../errors/meshlet-error.js';
import type { CertSource } from '../identity/types.js';
import type { TlsDefaults } from '../config/mesh-config.js';
import type { SecretDump } from '../admin/secrets-dump.js';
import {
  CA_SUFFIX,
  credentialDir,
  readCaSecret,
  readCertSecret,
  readCredentialCa,
  type MountedCredentials,
} from '../identity/mounted-secret.js';

/** Where `credentialName` secrets are mounted: one directory per name under a root, or a map. */
export type GatewayCredentials = MountedCredentials;

/** What one terminating server's TLS needs: its certificates, and whether clients must present one. */
export interface ServerTlsMaterial {
  readonly context: SecureContextOptions;
  /** MUTUAL and ISTIO_MUTUAL require a client certificate; OPTIONAL_MUTUAL asks for one. */
  readonly clientCert: 'none' | 'optional' | 'required';
  /** The directories the certificates were read from, to watch for rotations. */
  readonly sources: readonly string[];
  /** Its certificates under Istio's SDS names (`kubernetes://<name>`, `file-cert:`...), for the config dump. */
  readonly secrets: readonly SecretDump[];
}

/** Settings meshlet's gateway applies; any other one set on a server is refused, never ignored. */
const APPLIED: ReadonlySet<keyof ServerTLSSettings> = new Set([
  'mode',
  'httpsRedirect',
  'credentialName',
  'credentialNames',
  'caCertCredentialName',
  'serverCertificate',
  'privateKey',
  'caCertificates',
  'minProtocolVersion',
  'maxProtocolVersion',
  'cipherSuites',
  'ecdhCurves',
]);

/**
 * meshConfig `tlsDefaults` for a SIMPLE, MUTUAL or OPTIONAL_MUTUAL server, which its own
 * settings override (istio listener.go: applyDownstreamTLSDefaults, then
 * applyServerTLSSettings, both for those modes only).
 */
function meshDefaults(d: TlsDefaults): SecureContextOptions {
  return {
    ...(d.minProtocolVersion == null ? {} : { minVersion: d.minProtocolVersion }),
    ...(d.cipherSuites.length === 0 ? {} : { ciphers: d.cipherSuites.join(':') }),
    ...(d.ecdhCurves.length === 0 ? {} : { ecdhCurve: d.ecdhCurves.join(':') }),
  };
}

/** Istio's TLS version names as Node's (`TLS_AUTO` leaves Node's default). */
const VERSIONS: Readonly<Record<string, SecureContextOptions['minVersion']>> = {
  TLSV1_0: 'TLSv1',
  TLSV1_1: 'TLSv1.1',
  TLSV1_2: 'TLSv1.2',
  TLSV1_3: 'TLSv1.3',
};

function refuse(server: GatewayServerInfo, problem: string): never {
  throw new MeshletError(
    'MESHLET_ERR_MESH_OPTIONS',
    `mesh.listenGateway: Gateway ${server.gateway.namespace}/${server.gateway.name} server on port ${server.port}: ${problem}`,
    { option: 'gateway', gateway: `${server.gateway.namespace}/${server.gateway.name}`, port: server.port },
  );
}

/**
 * A Kubernetes TLS secret as istiod reads it for a gateway (pilot/pkg/credentials/kube
 * secrets.go `ExtractCertInfo`): `cert`/`key`, else `tls.crt`/`tls.key`; its own CA is
 * read apart (`caFor`).
 */
function readCredential(
  server: GatewayServerInfo,
  credentials: GatewayCredentials | undefined,
  name: string,
): { cert: string; key: string; dir: string } {
  const dir = credentialDir(credentials, name);
  if (dir === null) {
    refuse(
      server,
      `credentialName "${name}" needs its secret mounted: pass { credentials: '<dir>' } holding ${name}/tls.crt and ${name}/tls.key, or { credentials: { '${name}': '<dir>' } }`,
    );
  }
  const secret = readCertSecret(dir);
  if (secret === null)
    refuse(server, `credential "${name}" in ${dir} has no tls.crt and tls.key (nor cert and key)`);
  return { cert: secret.cert, key: secret.key, dir };
}

/**
 * The CA client certificates must chain to: `caCertCredentialName`'s, else the
 * `<name>-cacert` resource istiod serves (that secret, else the credential's own CA:
 * secrets.go `GetCaCert`), else the `caCertificates` file.
 */
async function caFor(
  server: GatewayServerInfo,
  tls: ServerTLSSettings,
  credentials: GatewayCredentials | undefined,
  name: string | null,
): Promise<{ ca: string; source: string | null; resource: string }> {
  if (tls.caCertCredentialName !== undefined) {
    const dir = credentialDir(credentials, tls.caCertCredentialName);
    const ca = dir === null ? null : readCaSecret(dir);
    if (ca === null || dir === null)
      refuse(server, `caCertCredentialName "${tls.caCertCredentialName}" has no ca.crt mounted`);
    return { ca: ca.ca, source: dir, resource: `kubernetes://${tls.caCertCredentialName}` };
  }
  if (name !== null) {
    const found = readCredentialCa(credentials, name);
    if (found !== null)
      return { ca: found.ca, source: found.dir, resource: `kubernetes://${name}${CA_SUFFIX}` };
  }
  if (tls.caCertificates !== undefined)
    return {
      ca: await readFile(tls.caCertificates, 'utf8'),
      source: path.dirname(tls.caCertificates),
      resource: `file-root:${tls.caCertificates}`,
    };
  return refuse(
    server,
    `${tls.mode ?? ''} needs the CA that client certificates chain to: ca.crt in the credential, a "<credentialName>-cacert" credential, caCertCredentialName or caCertificates`,
  );
}

/**
 * The TLS a gateway server terminates with, as istiod configures its listener
 * (gateway.go buildGatewayListenerTLSContext): SIMPLE with the server's certificate;
 * MUTUAL also verifying the client's against the CA; OPTIONAL_MUTUAL asking for one;
 * ISTIO_MUTUAL with the workload's own certificates and the mesh root.
 */
export async function serverTlsMaterial(
  server: GatewayServerInfo,
  credentials: GatewayCredentials | undefined,
  certs: CertSource | null,
  defaults: TlsDefaults,
): Promise<ServerTlsMaterial> {
  const tls = server.tls ?? refuse(server, 'has no tls settings');
  for (const field of Object.keys(tls) as (keyof ServerTLSSettings)[]) {
    if (!APPLIED.has(field) && tls[field] !== undefined)
      refuse(
        server,
        `tls.${field} is not supported by meshlet's gateway; remove it or terminate TLS in front of it`,
      );
  }
  const versions: SecureContextOptions = {
    ...(tls.minProtocolVersion !== undefined && VERSIONS[tls.minProtocolVersion] !== undefined
      ? { minVersion: VERSIONS[tls.minProtocolVersion] }
      : {}),
    ...(tls.maxProtocolVersion !== undefined && VERSIONS[tls.maxProtocolVersion] !== undefined
      ? { maxVersion: VERSIONS[tls.maxProtocolVersion] }
      : {}),
    ...(tls.cipherSuites !== undefined ? { ciphers: tls.cipherSuites.join(':') } : {}),
    ...(tls.ecdhCurves !== undefined ? { ecdhCurve: tls.ecdhCurves.join(':') } : {}),
  };
  const mode = tls.mode ?? 'PASSTHROUGH';
  if (mode === 'ISTIO_MUTUAL') {
    if (certs === null) refuse(server, 'ISTIO_MUTUAL needs the workload certificates: createMesh({ certs })');
    const c = certs.current();
    return {
      context: { ...versions, key: c.keyPem, cert: c.certChainPem, ca: c.rootCertPem },
      clientCert: 'required',
      // The workload certificates rotate through the mesh's own watcher.
      sources: [],
      // `default` and `ROOTCA`, which the workload's own list already has.
      secrets: [],
    };
  }
  const names = tls.credentialNames ?? (tls.credentialName === undefined ? [] : [tls.credentialName]);
  let keys: string[];
  let chains: string[];
  const sources: string[] = [];
  const secrets: SecretDump[] = [];
  if (names.length > 0) {
    const read = names.map((n) => readCredential(server, credentials, n));
    keys = read.map((r) => r.key);
    chains = read.map((r) => r.cert);
    sources.push(...read.map((r) => r.dir));
    names.forEach((n, i) =>
      secrets.push({ name: `kubernetes://${n}`, state: 'ACTIVE', certificate: chains[i] ?? null }),
    );
  } else if (tls.serverCertificate !== undefined && tls.privateKey !== undefined) {
    keys = [await readFile(tls.privateKey, 'utf8')];
    chains = [await readFile(tls.serverCertificate, 'utf8')];
    sources.push(path.dirname(tls.serverCertificate), path.dirname(tls.privateKey));
    secrets.push({
      name: `file-cert:${tls.serverCertificate}~${tls.privateKey}`,
      state: 'ACTIVE',
      certificate: chains[0] ?? null,
    });
  } else {
    return refuse(server, `${mode} needs a certificate: credentialName, or serverCertificate and privateKey`);
  }
  const context: SecureContextOptions = { ...meshDefaults(defaults), ...versions, key: keys, cert: chains };
  if (mode === 'SIMPLE') return { context, clientCert: 'none', sources, secrets };
  const { ca, source, resource } = await caFor(server, tls, credentials, names[0] ?? null);
  if (source !== null) sources.push(source);
  // A `<name>-cacert` secret mounted later takes over the CA (secrets.go GetCaCert): watch
  // the directory it would appear in.
  if (names.length > 0 && tls.caCertCredentialName === undefined && typeof credentials === 'string')
    sources.push(credentials);
  secrets.push({ name: resource, state: 'ACTIVE', certificate: ca });
  return {
    context: { ...context, ca },
    clientCert: mode === 'OPTIONAL_MUTUAL' ? 'optional' : 'required',
    sources: [...new Set(sources)],
    secrets,
  };
}
