import { describe, expect, it } from 'vitest';
import { runExplain } from '../../src/cli/explain.js';
import type { TcpExplanation } from '../../src/cli/explain-tcp.js';
import { captureIO, tempFiles } from './support.js';

// meshlet explain --tcp: whether mesh.listenTcp admits a TCP connection, with the policies of
// the istio.io TCP authorization task (tasks/security/authorization/authz-tcp) as Istio
// applies them to a TCP chain.

const TCP_ECHO = ['--workload', 'foo/tcp-echo:app=tcp-echo', '--service-account', 'tcp-echo'];
const SLEEP = ['--peer', 'spiffe://cluster.local/ns/foo/sa/sleep'];

function policy(action: string, operation: string, name = 'tcp-policy'): string {
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ${name}, namespace: foo }
spec:
  selector: { matchLabels: { app: tcp-echo } }
  action: ${action}
  rules:
  - to:
    - operation: ${operation}
`;
}

/** A config dir with one extension provider and a CUSTOM policy `foo/ext` on port 9000 using it. */
function customOn9000(provider: string, kind: string, port: number): string {
  return tempFiles({
    'mesh.yaml': `apiVersion: v1
kind: ConfigMap
metadata: { name: istio, namespace: istio-system }
data:
  mesh: |-
    extensionProviders:
    - name: ${provider}
      ${kind}: { service: ext-authz.foo.svc.cluster.local, port: ${port} }
`,
    'p.yaml': `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ext, namespace: foo }
spec:
  selector: { matchLabels: { app: tcp-echo } }
  action: CUSTOM
  provider: { name: ${provider} }
  rules: [{ to: [{ operation: { ports: ["9000"] } }] }]
`,
  });
}

async function explain(argv: string[]) {
  const io = captureIO();
  const code = await runExplain(argv, io);
  return { code, out: io.out(), err: io.err() };
}

describe('meshlet explain --tcp', () => {
  it('admits port 9000 under the task’s ALLOW of ports 9000 and 9001, and names the rule', async () => {
    const dir = tempFiles({ 'p.yaml': policy('ALLOW', '{ ports: ["9000", "9001"] }') });
    const r = await explain([dir, ...TCP_ECHO, '--tcp', '9000', ...SLEEP]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]).toBe(
      'Connection    tcp to foo/tcp-echo port 9000 from spiffe://cluster.local/ns/foo/sa/sleep (127.0.0.1)',
    );
    expect(lines[1]).toBe('Verdict       ADMITTED: the application gets the connection');
    expect(r.out).toContain('  ALLOW foo/tcp-policy: rule[0] matched');
  });

  it('says an ALLOW rule with `methods` is left out on TCP, so nothing is admitted', async () => {
    const dir = tempFiles({ 'p.yaml': policy('ALLOW', '{ methods: ["GET"], ports: ["9000"] }') });
    const r = await explain([dir, ...TCP_ECHO, '--tcp', '9000', ...SLEEP]);
    const lines = r.out.trimEnd().split('\n');
    expect(lines[1]).toBe(
      'Verdict       REFUSED: no ALLOW policy matched (1 in scope); closed before the application sees it',
    );
    expect(lines[2]).toBe('Access log    rbac_access_denied_matched_policy[none]');
    expect(r.out).toContain(
      '    rule[0]: left out on TCP: an ALLOW rule with an HTTP-only field (to[0].operation.methods) matches no connection',
    );
  });

  it('says a DENY drops `methods` and refuses every connection to 9000 (JSON)', async () => {
    const dir = tempFiles({ 'p.yaml': policy('DENY', '{ methods: ["GET"], ports: ["9000"] }') });
    const r = await explain([dir, ...TCP_ECHO, '--tcp', '9000', ...SLEEP, '-o', 'json']);
    const e = JSON.parse(r.out) as TcpExplanation;
    expect(e.decision).toMatchObject({
      allow: false,
      stage: 'deny',
      policy: 'foo/tcp-policy',
      terminationDetails: 'rbac_access_denied_matched_policy[ns[foo]-policy[tcp-policy]-rule[0]]',
    });
    expect(e.authorization.deny[0]!.rules![0]).toMatchObject({
      matched: true,
      dropped: ['to[0].operation.methods'],
    });
    const other = await explain([dir, ...TCP_ECHO, '--tcp', '9001', ...SLEEP]);
    expect(other.out).toContain('Verdict       ADMITTED');
    expect(other.out).toContain('    rule[0] on TCP without to[0].operation.methods (HTTP only)');
  });

  it('says a CUSTOM policy with an HTTP provider is not applied to TCP', async () => {
    const dir = customOn9000('ext-authz-http', 'envoyExtAuthzHttp', 8000);
    const r = await explain([dir, ...TCP_ECHO, '--tcp', '9000', ...SLEEP]);
    expect(r.err).toBe('');
    expect(r.out).toContain('Verdict       ADMITTED');
    expect(r.out).toContain(
      '  CUSTOM foo/ext: its provider is HTTP, which has no TCP filter: not applied to TCP connections (istiod builds none)',
    );
  });

  it('says a CUSTOM policy with a gRPC provider sends the connections it matches to the provider', async () => {
    const dir = customOn9000('ext-authz-grpc', 'envoyExtAuthzGrpc', 9000);
    const r = await explain([dir, ...TCP_ECHO, '--tcp', '9000', ...SLEEP]);
    expect(r.err).toBe('');
    expect(r.out).toContain(
      'Verdict       ASKS gRPC ext_authz provider "ext-authz-grpc" (Envoy\'s network ext_authz, CUSTOM policy foo/ext): admitted only if it answers OK, else closed (UAEX)',
    );
    expect(r.out).toContain(
      '  CUSTOM foo/ext: the connections it matches are sent to gRPC provider "ext-authz-grpc" (Envoy\'s network ext_authz), admitted only if it answers OK',
    );
    // Another port is no rule's: admitted without asking.
    const other = await explain([dir, ...TCP_ECHO, '--tcp', '9001', ...SLEEP]);
    expect(other.out).toContain('Verdict       ADMITTED');
  });

  it('refuses a plaintext caller on a STRICT port before any policy', async () => {
    const dir = tempFiles({
      'pa.yaml': `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: foo }
spec: { mtls: { mode: STRICT } }
`,
    });
    const r = await explain([dir, ...TCP_ECHO, '--tcp', '9000']);
    expect(r.out).toContain(
      'Verdict       REFUSED at the connection: STRICT mTLS (PeerAuthentication foo/default (namespace)) and the caller has no client certificate',
    );
  });

  it('rejects a --tcp that is not a port', async () => {
    const r = await explain([tempFiles({}), ...TCP_ECHO, '--tcp', 'tcp-echo:9000']);
    expect(r.code).toBe(64);
    expect(r.err).toContain('--tcp must be the workload port a TCP connection arrives on');
  });
});
