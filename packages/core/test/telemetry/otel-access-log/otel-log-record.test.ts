import { describe, expect, it } from 'vitest';
import type { AccessLogEntry } from '../../../src/telemetry/access-log/entry.js';
import { compileOtelRecord, otlpTraceId } from '../../../src/telemetry/otel-access-log/otel-log-record.js';
import { reviewsCall } from '../access-log/fixtures.js';

const ENTRY: AccessLogEntry = reviewsCall({
  startTime: Date.UTC(2026, 0, 2, 3, 4, 5, 678),
  durationMs: 3,
  requestHeaders: { 'user-agent': 'curl' },
  routeName: null,
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
});

// envoy source/extensions/access_loggers/open_telemetry/access_log_impl.cc emitLog,
// substitution_formatter.cc (unset = "-", no newline added), otlp_log_utils.cc populateTraceContext.
describe('compileOtelRecord', () => {
  it('formats the body without adding a newline, and keeps one the format has', () => {
    const r = compileOtelRecord({ text: '%REQ(:METHOD)% %RESPONSE_CODE% %ROUTE_NAME%', labels: [] }, []);
    expect(r(ENTRY).body).toBe('GET 200 -');
    const n = compileOtelRecord({ text: '%REQ(:METHOD)%\n', labels: [] }, []);
    expect(n(ENTRY).body).toBe('GET\n');
  });

  it('formats each label as a string attribute, unset as "-", in the labels order', () => {
    const r = compileOtelRecord(
      {
        text: 'x',
        labels: [
          ['code', '%RESPONSE_CODE%'],
          ['route', '%ROUTE_NAME%'],
          ['ua', 'ua=%REQ(USER-AGENT)%'],
        ],
      },
      [],
    );
    const c = r(ENTRY);
    expect(c.attributes).toEqual({ code: '200', route: '-', ua: 'ua=curl' });
    expect(Object.keys(c.attributes)).toEqual(['code', 'route', 'ua']);
  });

  it('takes the time from the start and the trace id from the active trace', () => {
    const r = compileOtelRecord({ text: 'x', labels: [] }, []);
    expect(r(ENTRY).startTime).toBe(ENTRY.startTime);
    expect(r(ENTRY).traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(r({ ...ENTRY, traceId: null }).traceId).toBeNull();
  });

  it('pads a 64-bit trace id to 128 bits and drops ids of other lengths', () => {
    expect(otlpTraceId('a3ce929d0e0e4736')).toBe('0000000000000000a3ce929d0e0e4736');
    expect(otlpTraceId('abc')).toBeNull();
    expect(otlpTraceId(undefined)).toBeNull();
  });
});
