import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../src/runtime/random.js';
import { bookinfo, echoAddress, harness, planOf, sample } from './support/setup.js';
import { reviewsVs, threeV1 } from './support/yaml.js';

const ratings = 'http://ratings:9080/ratings/0';

describe('outbound fault injection', () => {
  it('aborts jason with 500 "fault filter abort" and FI, and lets others through (Bookinfo ratings-test-abort)', async () => {
    const h = harness(
      planOf([...bookinfo(), sample('bookinfo-networking/virtual-service-ratings-test-abort.yaml')]),
      echoAddress,
    );
    const jason = await h.call(ratings, { headers: { 'end-user': 'jason' } });
    expect([jason.status, await jason.text(), jason.meshlet.flags, jason.meshlet.attempts]).toEqual([
      500,
      'fault filter abort',
      ['FI'],
      0,
    ]);
    expect(jason.headers.get('content-type')).toBe('text/plain');
    expect(h.transport.seen).toHaveLength(0);
    const other = await h.call(ratings);
    expect([other.status, other.meshlet.flags]).toEqual([200, []]);
  });

  it('delays jason by 7s on the injected clock with DI (Bookinfo ratings-test-delay)', async () => {
    const h = harness(
      planOf([...bookinfo(), sample('bookinfo-networking/virtual-service-ratings-test-delay.yaml')]),
      echoAddress,
    );
    const res = await h.call(ratings, { headers: { 'end-user': 'jason' } });
    expect([res.status, res.meshlet.flags, h.clock.now()]).toEqual([200, ['DI'], 7000]);
    const other = await h.call(ratings);
    expect([other.meshlet.flags, h.clock.now()]).toEqual([[], 7000]);
  });

  it('uses the deprecated integer delay.percent when percentage is absent (request-timeouts task)', async () => {
    const h = harness(
      planOf([...bookinfo(), sample('tasks/request-timeouts/02-ratings-delay-2s.yaml')]),
      echoAddress,
    );
    const res = await h.call(ratings);
    expect([res.meshlet.flags, h.clock.now()]).toEqual([['DI'], 2000]);
  });

  it('never fires a fault whose percentage is absent', async () => {
    const h = harness(
      planOf(
        [...bookinfo(), reviewsVs('    fault: { abort: { httpStatus: 503 }, delay: { fixedDelay: 5s } }\n')],
        threeV1,
      ),
      echoAddress,
    );
    for (let i = 0; i < 20; i++) {
      const res = await h.call('http://reviews:9080/');
      expect([res.status, res.meshlet.flags]).toEqual([200, []]);
    }
    expect(h.clock.now()).toBe(0);
  });

  it('draws delay and abort independently at their percentages', async () => {
    const yaml = reviewsVs(
      '    fault:\n      delay: { fixedDelay: 1s, percentage: { value: 50 } }\n      abort: { httpStatus: 503, percentage: { value: 20 } }\n',
    );
    const h = harness(planOf([...bookinfo(), yaml], threeV1), echoAddress, { random: seededRandom(3) });
    const n = 2000;
    const counts = { DI: 0, FI: 0, both: 0 };
    for (let i = 0; i < n; i++) {
      const res = await h.call('http://reviews:9080/');
      const f = res.meshlet.flags;
      if (f.includes('DI')) counts.DI++;
      if (f.includes('FI')) {
        counts.FI++;
        expect(res.status).toBe(503);
      }
      if (f.includes('DI') && f.includes('FI')) counts.both++;
    }
    const within = (got: number, p: number) => Math.abs(got - n * p) < 4 * Math.sqrt(n * p * (1 - p));
    expect(within(counts.DI, 0.5), `DI ${counts.DI}`).toBe(true);
    expect(within(counts.FI, 0.2), `FI ${counts.FI}`).toBe(true);
    expect(within(counts.both, 0.1), `both ${counts.both}`).toBe(true);
  });

  it('answers a gRPC abort with HTTP 200 and grpc-status', async () => {
    const yaml = reviewsVs('    fault: { abort: { grpcStatus: UNAVAILABLE, percentage: { value: 100 } } }\n');
    const h = harness(planOf([...bookinfo(), yaml], threeV1), echoAddress);
    const res = await h.call('http://reviews:9080/');
    expect([
      res.status,
      res.headers.get('grpc-status'),
      res.headers.get('content-type'),
      res.meshlet.flags,
    ]).toEqual([200, '14', 'application/grpc', ['FI']]);
  });

  it('never retries an injected abort, even under retryOn 5xx', async () => {
    const yaml = reviewsVs(
      '    retries: { attempts: 3, retryOn: 5xx }\n    fault: { abort: { httpStatus: 503, percentage: { value: 100 } } }\n',
    );
    const h = harness(planOf([...bookinfo(), yaml], threeV1), echoAddress);
    const res = await h.call('http://reviews:9080/');
    expect([res.status, res.meshlet.attempts, res.meshlet.flags]).toEqual([503, 0, ['FI']]);
    expect(h.transport.seen).toHaveLength(0);
  });
});
