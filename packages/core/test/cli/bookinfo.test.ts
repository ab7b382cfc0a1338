import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAnalyze } from '../../src/cli/analyze.js';
import { SAMPLES } from '../analyze/support/raw-snapshot.js';
import { captureIO } from './support.js';

const net = (f: string) => path.join(SAMPLES, 'bookinfo-networking', f);
const platform = path.join(SAMPLES, 'bookinfo-platform', 'bookinfo.yaml');

describe('meshlet analyze on Bookinfo', () => {
  it('reports the ratings subsets whose pods Bookinfo does not deploy and the gateway route, as istioctl does', async () => {
    const io = captureIO();
    const code = await runAnalyze(
      [
        platform,
        net('bookinfo-gateway.yaml'),
        net('destination-rule-all.yaml'),
        net('virtual-service-all-v1.yaml'),
      ],
      io,
    );
    // v2-mysql and v2-mysql-vm select pods of bookinfo-ratings-v2-mysql*.yaml, not part of bookinfo.yaml.
    // The gateway's productpage route has no subset while virtual-service-all-v1.yaml splits
    // productpage by subset: istioctl warns IST0140 on it (istio/istio#36160, from
    // pkg/config/analysis/analyzers/virtualservice/destinationhosts.go analyzeSubset).
    const lines = io.out().trim().split('\n');
    expect(lines).toEqual([
      ...['v2-mysql', 'v2-mysql-vm'].map((subset): unknown =>
        expect.stringMatching(
          new RegExp(
            `^Error \\[IST0173\\] \\(DestinationRule default/ratings .*destination-rule-all\\.yaml:\\d+\\) The Subset ${subset} defined in the DestinationRule does not select any pods\\.`,
          ),
        ),
      ),
      expect.stringMatching(
        /^Warning \[IST0140\] \(VirtualService default\/bookinfo .*bookinfo-gateway\.yaml:\d+\) Subset in virtual service default\/productpage has no effect on ingress gateway default\/bookinfo requests$/,
      ),
    ]);
    expect(code).toBe(79);
  });

  it('finds nothing when only the deployed subsets are routed to', async () => {
    const io = captureIO();
    const code = await runAnalyze(
      [
        platform,
        net('bookinfo-gateway.yaml'),
        net('destination-rule-reviews.yaml'),
        net('virtual-service-reviews-v3.yaml'),
      ],
      io,
    );
    expect(io.out().trim()).toBe('');
    expect(code).toBe(0);
    expect(io.err()).toContain('\u2714 No validation issues found when analyzing:');
  });

  it('reports each missing subset when the v1 routes come without their destination rules', async () => {
    const io = captureIO();
    const code = await runAnalyze([platform, net('virtual-service-all-v1.yaml')], io);
    expect(code).toBe(79);
    const lines = io.out().trim().split('\n');
    expect(lines).toEqual(
      ['details', 'productpage', 'ratings', 'reviews'].map((svc): unknown =>
        expect.stringMatching(
          new RegExp(
            `^Error \\[IST0101\\] \\(VirtualService default/${svc} .*virtual-service-all-v1\\.yaml:\\d+\\) Referenced host\\+subset in destinationrule not found: "${svc}\\+v1"$`,
          ),
        ),
      ),
    );
  });

  it('reports no IST0128/IST0129 for ISTIO_MUTUAL rules', async () => {
    const io = captureIO();
    await runAnalyze(['-o', 'json', platform, net('destination-rule-all-mtls.yaml')], io);
    const codes = (JSON.parse(io.out()) as { code: string }[]).map((m) => m.code);
    // ISTIO_MUTUAL needs no caCertificates: no IST0128/IST0129.
    expect(codes.filter((c) => c === 'IST0128' || c === 'IST0129')).toEqual([]);
  });
});
