import { describe, expect, it } from 'vitest';
import { validateWorkload } from '../../src/compile/workload.js';
import { workloadFromEnv } from '../../src/mesh/workload-env.js';

// The workload's IP: what consistentHash.useSourceIp hashes (envoy hash_policy.cc IpHashMethod,
// the downstream connection's address, the pod IP for a sidecar's outbound). Istio's injection
// template sets INSTANCE_IP from status.podIP (istio-discovery files/injection-template.yaml).

const base = { name: 'sleep', namespace: 'default', serviceAccount: 'sleep', labels: {} };

describe('workload ip', () => {
  it('keeps a valid IPv4 or IPv6 address', () => {
    expect(validateWorkload({ ...base, ip: '10.244.1.7' }).ip).toBe('10.244.1.7');
    expect(validateWorkload({ ...base, ip: 'fd00::7' }).ip).toBe('fd00::7');
    expect(validateWorkload(base).ip).toBeUndefined();
  });

  it.each([['pod-a'], ['10.244.1.256'], ['10.244.1.7:80'], [7]])('rejects %j', (ip) => {
    expect(() => validateWorkload({ ...base, ip })).toThrow(
      expect.objectContaining({ code: 'MESHLET_ERR_CONFIG_WORKLOAD' }) as Error,
    );
  });

  it('comes from INSTANCE_IP unless given', () => {
    const env = { POD_NAME: 'sleep-1', INSTANCE_IP: '10.244.1.7' };
    expect(workloadFromEnv(undefined, env, '/nonexistent').ip).toBe('10.244.1.7');
    expect(workloadFromEnv({ ip: '10.0.0.1' }, env, '/nonexistent').ip).toBe('10.0.0.1');
    expect(workloadFromEnv(undefined, { POD_NAME: 'sleep-1' }, '/nonexistent').ip).toBeUndefined();
  });
});
