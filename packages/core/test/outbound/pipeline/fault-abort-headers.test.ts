import { describe, expect, it } from 'vitest';
import { bookinfo, echoAddress, harness, planOf } from './support/setup.js';
import { threeV1 } from './support/yaml.js';

// envoy filter_manager.cc sendLocalReplyViaFilterChain: every local reply sent through the
// filter chain (the fault filter's abort included) runs the route entry's
// finalizeResponseHeaders, so the rule's and the chosen destination's response header
// operations apply to the abort as to any other response.
describe('fault abort local reply', () => {
  it('carries the rule and destination response header operations', async () => {
    const vs = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - fault: { abort: { httpStatus: 418, percentage: { value: 100 } } }
    headers: { response: { set: { x-rule: r1 }, add: { x-added: a } } }
    route:
    - destination: { host: reviews, subset: v1 }
      headers: { response: { set: { x-dest: d1 } } }
`;
    const h = harness(planOf([...bookinfo(), vs], threeV1), echoAddress);
    const res = await h.call('http://reviews:9080/');
    expect([
      res.status,
      await res.text(),
      res.meshlet.flags,
      res.headers.get('x-rule'),
      res.headers.get('x-added'),
      res.headers.get('x-dest'),
    ]).toEqual([418, 'fault filter abort', ['FI'], 'r1', 'a', 'd1']);
    expect(h.transport.seen).toHaveLength(0);
  });
});
