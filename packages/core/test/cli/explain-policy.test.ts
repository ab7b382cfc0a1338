import { describe, expect, it } from 'vitest';
import { summarizePolicy } from '../../src/cli/explain-policy.js';
import { compilePlan } from '../../src/compile/compile-plan.js';
import { snapshotOf } from '../compile/helpers.js';

const client = { name: 'c', namespace: 'default', serviceAccount: 'c', labels: { app: 'c' } };

function summaryOf(trafficPolicy: string) {
  const plan = compilePlan(
    snapshotOf(`apiVersion: v1
kind: Service
metadata: { name: api, namespace: default }
spec: { ports: [{ name: http, port: 80 }] }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: api, namespace: default }
spec: { host: api.default.svc.cluster.local, trafficPolicy: ${trafficPolicy} }
`),
    client,
  );
  return summarizePolicy(plan.outbound.cluster('outbound|80||api.default.svc.cluster.local')!, plan);
}

describe('meshlet explain: the cluster policy in words', () => {
  it('names maxConnectionDuration, the outlier error codes and the TLS checks a rule changes', () => {
    const summary = summaryOf(`{ connectionPool: { tcp: { maxConnections: 5, maxConnectionDuration: 30s } },
        outlierDetection: { consecutive5xxErrors: 2, outlierDetectionHttpErrorCodes: [429, 503] },
        tls: { mode: SIMPLE, caCertificates: /etc/ca.pem, caCrl: /etc/crl.pem, sni: api.example.com } }`);
    expect(summary.connectionPool).toBe('maxConnections 5, maxConnectionDuration 30000ms');
    expect(summary.outlierDetection).toContain('error codes 429 503');
    expect(summary.tls).toBe('SIMPLE sni api.example.com caCrl /etc/crl.pem');
    expect(summaryOf('{ tls: { mode: SIMPLE, insecureSkipVerify: true } }').tls).toBe(
      'SIMPLE insecureSkipVerify',
    );
  });
});
