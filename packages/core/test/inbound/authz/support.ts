import type { AuthzInput } from '../../../src/inbound/authz/input.js';
import { parseIp } from '../../../src/inbound/authz/ip.js';

/** An authorization input for `GET /` to httpbin.foo:8000 from 10.0.0.9, no peer, no token; `over` wins. */
export function authzInput(over: Partial<AuthzInput> = {}): AuthzInput {
  return {
    method: 'GET',
    path: '/',
    host: 'httpbin.foo',
    port: 8000,
    headers: {},
    overlay: null,
    peer: null,
    peerUri: null,
    claims: null,
    sourceIp: parseIp('10.0.0.9'),
    remoteIp: parseIp('10.0.0.9'),
    destinationIp: parseIp('10.0.0.1'),
    sni: null,
    ...over,
  };
}

/**
 * An AuthorizationPolicy `name` in `foo` selecting `app: httpbin`, with `rules` as YAML flow
 * text; `dryRun` adds `istio.io/dry-run: "true"`, `created` a creationTimestamp. Ends with a
 * document separator.
 */
export function httpbinPolicy(
  name: string,
  action: string,
  rules: string,
  options: { readonly dryRun?: boolean; readonly created?: string } = {},
): string {
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ${name}
  namespace: foo
${options.created === undefined ? '' : `  creationTimestamp: "${options.created}"\n`}${options.dryRun === true ? '  annotations: { "istio.io/dry-run": "true" }\n' : ''}spec:
  selector: { matchLabels: { app: httpbin } }
  action: ${action}
  rules: ${rules}
---
`;
}
