import { describe, expect, it } from 'vitest';
import { compileInbound } from '../../../src/inbound/engine-compile.js';
import { createManualClock } from '../../../src/runtime/clock.js';
import { seededRandom } from '../../../src/runtime/random.js';
import { peer, planOf } from '../engine/support.js';
import { authzInput } from './support.js';

/**
 * Envoy's `authenticated` matcher tries every name of the peer certificate (rbac
 * matchers.cc AuthenticatedMatcher), so two callers with the same SPIFFE ID but different
 * second names can be decided differently, and the decision memo must keep them apart.
 */
const POLICY = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: from-b, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  rules:
  - from: [{ source: { namespaces: ["b"], principals: ["cluster.local/ns/b/sa/y"] } }]
`;

describe('the decision memo and the names of a peer certificate', () => {
  it('decides callers that share a SPIFFE ID by all their names', () => {
    const { rbac } = compileInbound(planOf(POLICY), createManualClock(), seededRandom(1));
    const caller = peer('cluster.local/ns/a/sa/x');
    const input = (second: string) =>
      authzInput({
        peer: caller,
        peerUri: 'spiffe://cluster.local/ns/a/sa/x',
        peerNames: ['spiffe://cluster.local/ns/a/sa/x', second],
      });
    const got = ['spiffe://cluster.local/ns/b/sa/y', 'spiffe://cluster.local/ns/c/sa/z'].flatMap((second) => [
      rbac(input(second)).allow,
      rbac(input(second)).allow,
    ]);
    expect(got).toEqual([true, true, false, false]);
  });
});
