import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/analyze/analyze.js';
import { loadConfig } from '../../src/config/load.js';
import { SAMPLES } from './support/raw-snapshot.js';

// istio pkg/config/analysis/analyzers/authn/blockedcidrs.go; messages.yaml IST0175.
describe('authn.BlockedCIDRsAnalyzer', () => {
  it('reports an istiod Deployment without BLOCKED_CIDRS_IN_JWKS_URIS, with istioctl text', async () => {
    const snapshot = await loadConfig(path.join(SAMPLES, 'analyzers', 'blocked-cidrs-missing.yaml'));
    const ms = analyze(snapshot, { analyzers: ['authn.BlockedCIDRsAnalyzer'], includeLoaderFindings: false });
    expect(ms).toHaveLength(1);
    expect(ms[0]).toMatchObject({
      code: 'IST0175',
      level: 'Warning',
      origin: 'Deployment istio-system/istiod',
    });
    expect(ms[0]?.message).toMatch(
      /^BLOCKED_CIDRS_IN_JWKS_URIS is not configured but \d+ RequestAuthentication resource\(s\) exist \([^)]+\)\. Consider configuring it to restrict JWKS URI fetches to trusted networks\.$/,
    );
  });
});
