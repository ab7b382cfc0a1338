import { describe, expect, it } from 'vitest';
import type { ConsistentHash } from '../../../src/compile/traffic-policy.js';
import { hashKeyOf } from '../../../src/outbound/hash-key.js';
import { headerHash } from '../../../src/outbound/upstream/hash.js';
import { HostState } from '../../../src/outbound/upstream/host-state.js';
import { buildMaglev, createMaglev, maglevPick } from '../../../src/outbound/upstream/maglev.js';
import { buildRing, createRingHash, ringPick } from '../../../src/outbound/upstream/ring-hash.js';
import { seededRandom } from '../../../src/runtime/random.js';
import { endpoints } from './support.js';

// A header sent several times: Envoy hashes every value, sorted and chained
// (envoy source/common/http/hash_policy.cc HeaderHashMethod::evaluate: headers.get(name) gives
// one entry per header line, std::sort, HashUtil::xxHash64(absl::MakeSpan(values))).

const header: ConsistentHash = {
  key: { kind: 'header', name: 'x-user' },
  ring: { kind: 'ringHash', minimumRingSize: 1024 },
};

describe('consistent-hash key of a header sent several times', () => {
  it('keeps every value of the header, not only the first', () => {
    expect(hashKeyOf(header, { 'x-user': ['b', 'a'] }, '/', () => 'sleep')).toEqual(['b', 'a']);
  });

  it('is the plain string for one value, and no key for none', () => {
    expect(hashKeyOf(header, { 'x-user': ['a'] }, '/', () => 'sleep')).toBe('a');
    expect(hashKeyOf(header, { 'x-user': [] }, '/', () => 'sleep')).toBeNull();
  });

  const hosts = endpoints(20).map((e) => new HostState(e));
  // Keys whose chained hash and first-value hash land on different hosts.
  const keys = Array.from({ length: 40 }, (_, i) => [`u${i}`, `v${i}`] as const);

  it('ring hash looks up the sorted, chained hash of all values', () => {
    const ring = buildRing(hosts, 1024);
    const picker = createRingHash(1024, seededRandom(1));
    let differs = 0;
    for (const [a, b] of keys) {
      const want = ringPick(ring, headerHash([a, b]), 0, null)!;
      expect(picker.pick(hosts, 0, null, [b, a]).id).toBe(want.id);
      expect(picker.pick(hosts, 0, null, [a, b]).id).toBe(want.id);
      if (picker.pick(hosts, 0, null, b).id !== want.id) differs++;
    }
    expect(differs).toBeGreaterThan(10);
  });

  it('Maglev looks up the sorted, chained hash of all values', () => {
    const table = buildMaglev(hosts, 65537);
    const picker = createMaglev(65537, seededRandom(1));
    for (const [a, b] of keys) {
      const want = maglevPick(table, headerHash([a, b]), 0, null)!;
      expect(picker.pick(hosts, 0, null, [b, a]).id).toBe(want.id);
    }
  });
});
