import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import {
  CA_SUFFIX,
  credentialDir,
  readCaSecret,
  readCertSecret,
  readCredentialCa,
  type MountedCredentials,
} from '../identity/mounted-secret.js';
import type { SecretDump } from '../admin/secrets-dump.js';
import { CONFIGMAP_PREFIX } from '../compile/credential-reader.js';
import { TransportError } from '../outbound/transport.js';
import type { Clock } from '../runtime/clock.js';

/** What a DestinationRule's `credentialName` gives one upstream TLS context. */
export interface ClientCredential {
  /** The client certificate chain and key (MUTUAL); null for SIMPLE. */
  readonly cert: string | null;
  readonly key: string | null;
  /** The CA the server's chain must reach (null: the system roots), with its CRL. */
  readonly ca: string | null;
  readonly crl: string | null;
}

/**
 * How often a mounted credential is read again: a renewed secret (cert-manager, a
 * Kubernetes `..data` swap) is in use for new connections within this time, as istiod
 * pushes a changed secret to the proxy's SDS.
 */
const REFRESH_MS = 1_000;

/**
 * Envoy's `%UPSTREAM_TRANSPORT_FAILURE_REASON%` when a cluster's TLS context waits for a
 * secret SDS never supplied (envoy ssl_socket.cc `NotReadySslSocket::failureReason`; the
 * text istio issues 34903 and envoyproxy/gateway 3838 quote).
 */
export const SECRET_NOT_SUPPLIED = 'TLS error: Secret is not supplied by SDS';

/**
 * What happens to a DestinationRule credential (the mesh's `clientTls` event), named by its
 * SDS resource: first `loaded`; `rotated` when a renewal replaced it; `rejected` when a
 * renewal did not load and the last good one stays; `unavailable` while there is nothing to
 * use (each connection then fails: `503 UF`), with the reason and what to do.
 */
export type ClientTlsEvent =
  | { readonly type: 'loaded' | 'rotated'; readonly resource: string }
  | { readonly type: 'rejected' | 'unavailable'; readonly resource: string; readonly reason: string };

interface Entry {
  /** The SDS resource names Istio gives the certificate and the CA (null: not asked for). */
  readonly certName: string | null;
  readonly caName: string | null;
  value: ClientCredential | null;
  /** Why `value` is null (the error's message), or why the last renewal was rejected. */
  problem: string;
  readAt: number;
}

/** The files a DestinationRule's SIMPLE or MUTUAL settings name; null for those not used. */
export interface CredentialFiles {
  readonly cert: string | null;
  readonly key: string | null;
  readonly ca: string | null;
  readonly crl: string | null;
}

/** The current credential of one rule; throws TransportError (`tls`, before the request) when there is none. */
export type CredentialHandle = () => ClientCredential;

/**
 * Where DestinationRule TLS origination gets its certificates (`ClientCredentials`, or the
 * mock mesh's): a handle per rule, made once, which each try calls.
 */
export interface ClientCredentialSource {
  /** A `credentialName` secret's. */
  secret(name: string, mutual: boolean): CredentialHandle;
  /** The files the rule names. */
  files(files: CredentialFiles): CredentialHandle;
  /** What was asked for so far, supplied or awaited, as Envoy's config dump lists secrets. */
  resources?(): SecretDump[];
}

/**
 * The certificates of DestinationRule TLS origination, as Istio serves them to Envoy over
 * SDS and so keeps them current: the secrets `credentialName`s name, read where they are
 * mounted (`createMesh({ credentials })`) as istiod's SDS serves them (pilot/pkg/xds/sds.go:
 * for MUTUAL the secret's key and chain, and the CA of `<name>-cacert`, else of the secret
 * itself; istiod's validation refuses `insecureSkipVerify` beside a credentialName), and
 * the files `clientCertificate`, `privateKey`, `caCertificates` and `caCrl` name, which the
 * istio-agent serves from disk so they rotate too (cluster_tls.go constructUpstreamTLS:
 * "Rather than reading directly in Envoy, which does not support rotation"). What cannot
 * be read fails each connection as Envoy's not-ready TLS socket does; a renewal that does
 * not load (a half-written key) keeps the last good one.
 */
export class ClientCredentials implements ClientCredentialSource {
  readonly #credentials: MountedCredentials | undefined;
  readonly #clock: Clock;
  readonly #entries = new Map<string, Entry>();
  readonly #onEvent: (event: ClientTlsEvent) => void;

  constructor(
    credentials: MountedCredentials | undefined,
    clock: Clock,
    onEvent: (event: ClientTlsEvent) => void = () => undefined,
  ) {
    this.#credentials = credentials;
    this.#clock = clock;
    this.#onEvent = onEvent;
  }

  secret(name: string, mutual: boolean): CredentialHandle {
    // ConstructSdsSecretConfigForCredential: `kubernetes://<name>`, unless the name has a scheme.
    const resource = name.includes('://') ? name : `kubernetes://${name}`;
    return this.#handle(
      `${mutual ? 'm' : 's'}|${name}`,
      { certName: mutual ? resource : null, caName: `${resource}${CA_SUFFIX}` },
      `DestinationRule credentialName "${name}"`,
      () => this.#load(name, mutual),
    );
  }

  files(files: CredentialFiles): CredentialHandle {
    // security.SdsCertificateConfig GetResourceName / GetRootResourceName.
    const names = {
      certName: files.cert === null ? null : `file-cert:${files.cert}~${files.key ?? ''}`,
      caName: files.ca === null ? null : `file-root:${files.ca}`,
    };
    return this.#handle(
      `f|${files.cert ?? ''}|${files.key ?? ''}|${files.ca ?? ''}|${files.crl ?? ''}`,
      names,
      'DestinationRule tls',
      () => ({
        cert: readFile(files.cert),
        key: readFile(files.key),
        ca: readFile(files.ca),
        crl: readFile(files.crl),
      }),
    );
  }

  resources(): SecretDump[] {
    const out = new Map<string, SecretDump>();
    for (const e of this.#entries.values()) {
      const state = e.value === null ? 'WARMING' : 'ACTIVE';
      if (e.certName !== null && !out.has(e.certName))
        out.set(e.certName, { name: e.certName, state, certificate: e.value?.cert ?? null });
      if (e.caName !== null && !out.has(e.caName))
        out.set(e.caName, { name: e.caName, state, certificate: e.value?.ca ?? null });
    }
    return [...out.values()];
  }

  /** One entry per credential, shared by the rules that name it (and kept across reloads). */
  #handle(
    key: string,
    names: Pick<Entry, 'certName' | 'caName'>,
    what: string,
    load: () => ClientCredential,
  ): CredentialHandle {
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      entry = { ...names, value: null, problem: '', readAt: -Infinity };
      this.#entries.set(key, entry);
    }
    const e = entry;
    return () => {
      const now = this.#clock.now();
      if (now - e.readAt >= REFRESH_MS) {
        e.readAt = now;
        const event = refresh(e, load);
        if (event !== null) this.#onEvent(event);
      }
      if (e.value !== null) return e.value;
      throw new TransportError('tls', `${what}: ${e.problem}`, true, {
        transportFailureReason: SECRET_NOT_SUPPLIED,
      });
    };
  }

  #load(name: string, mutual: boolean): ClientCredential {
    const where = this.#credentials;
    if (where === undefined)
      throw new Error(
        `no secret is mounted: pass createMesh({ credentials: '<dir>' }) holding ${name}/tls.crt and ${name}/tls.key (and ca.crt), or { credentials: { '${name}': '<dir>' } }`,
      );
    if (name.startsWith(CONFIGMAP_PREFIX)) {
      // `configmap://[<ns>/]<name>`, in the rule's own namespace: a CA only (secrets.go
      // GetConfigMapCaCert, the same keys as a secret's); no SDS serves a certificate from one.
      const map = name.slice(CONFIGMAP_PREFIX.length).split('/').pop() ?? '';
      if (mutual) throw new Error(`ConfigMap ${map} holds no client certificate for MUTUAL`);
      const dir = credentialDir(where, map);
      const ca = dir === null ? null : readCaSecret(dir);
      if (ca === null) throw new Error(`ConfigMap ${map} has no ca.crt (nor cacert) mounted`);
      return { cert: null, key: null, ca: ca.ca, crl: ca.crl };
    }
    let cert: string | null = null;
    let key: string | null = null;
    if (mutual) {
      const dir = credentialDir(where, name);
      const secret = dir === null ? null : readCertSecret(dir);
      if (secret === null)
        throw new Error(`secret ${name} is not mounted with tls.crt and tls.key (nor cert and key)`);
      cert = secret.cert;
      key = secret.key;
    }
    const ca = readCredentialCa(where, name);
    if (ca === null)
      throw new Error(
        `no CA for ${name}: neither a ${name}-cacert secret nor ca.crt (cacert) in ${name} is mounted`,
      );
    return { cert, key, ca: ca.ca, crl: ca.crl };
  }
}

function readFile(path: string | null): string | null {
  return path === null ? null : readFileSync(path, 'utf8');
}

/** Reads the entry again; what changed, as the event to report (null: nothing new). */
function refresh(entry: Entry, load: () => ClientCredential): ClientTlsEvent | null {
  const resource = entry.certName ?? entry.caName ?? '';
  const failed = (reason: string): ClientTlsEvent | null => {
    // Reported once per reason, not on every read while it lasts.
    if (entry.problem === reason) return null;
    entry.problem = reason;
    return { type: entry.value === null ? 'unavailable' : 'rejected', resource, reason };
  };
  let next: ClientCredential;
  try {
    next = load();
  } catch (err) {
    // Unreadable now (a renewal half way through its swap): a good credential stays in use.
    return entry.value === null ? failed((err as Error).message) : null;
  }
  const last = entry.value;
  if (
    last !== null &&
    last.cert === next.cert &&
    last.key === next.key &&
    last.ca === next.ca &&
    last.crl === next.crl
  )
    return null;
  try {
    // A key that does not match its chain, or a PEM cut short, never replaces a good one.
    createSecureContext({
      ...(next.cert === null ? {} : { cert: next.cert, key: next.key ?? '' }),
      ...(next.ca === null ? {} : { ca: next.ca }),
      ...(next.crl === null ? {} : { crl: next.crl }),
    });
  } catch (err) {
    return failed(`it does not load: ${(err as Error).message}`);
  }
  entry.value = next;
  entry.problem = '';
  return { type: last === null ? 'loaded' : 'rotated', resource };
}
