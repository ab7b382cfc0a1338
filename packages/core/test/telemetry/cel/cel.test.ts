import { describe, expect, it } from 'vitest';
import { HeaderMap, type Activation } from '../../../src/telemetry/cel/attributes.js';
import { compileCel } from '../../../src/telemetry/cel/compile.js';
import { printValue } from '../../../src/telemetry/cel/print.js';
import { CelError, CelUint, type CelValue } from '../../../src/telemetry/cel/values.js';

// Expectations follow cel-spec doc/langdef.md and the conformance suite
// (tests/simple/testdata/*.textproto), run as Envoy runs them: the access-log filter in
// Envoy's shared builder (evaluator.cc createBuilder), tagOverrides in istio_stats' own
// builder with cel-cpp's default InterpreterOptions.

const ACT: Activation = {
  field(root, name) {
    const attrs: Record<string, Record<string, CelValue>> = {
      request: {
        method: 'GET',
        path: '/api/v1/items?limit=5',
        headers: new HeaderMap(
          { 'x-user': 'alice', accept: ['a', 'b'] },
          { names: [':method'], get: () => 'GET' },
        ),
      },
      response: { code: 503n, flags: 0x80n },
      destination: { port: 9080n },
    };
    const fields = Object.hasOwn(attrs, root) ? attrs[root] : undefined;
    return fields !== undefined && Object.hasOwn(fields, name) ? fields[name] : undefined;
  },
};

function run(src: string, use: 'accessLog' | 'metrics' = 'metrics'): CelValue {
  const c = compileCel(src, use);
  if (!c.ok) throw new Error(`${c.problem.kind}: ${c.problem.message}`);
  return c.program.evaluate(ACT);
}

const problem = (src: string, use: 'accessLog' | 'metrics' = 'metrics') => {
  const c = compileCel(src, use);
  return c.ok ? null : c.problem.kind;
};

describe('CEL literals and operators', () => {
  it('reads int, uint, double, string, bytes, bool and null literals', () => {
    expect(run('42')).toBe(42n);
    expect(run('0x1F')).toBe(31n);
    expect(run('-9223372036854775808')).toBe(-(2n ** 63n));
    expect(run('7u')).toEqual(new CelUint(7n));
    expect(run('2.5')).toBe(2.5);
    expect(run('1e3')).toBe(1000);
    expect(run(String.raw`'a\tb\x41\u00e9\101'`)).toBe('a\tbAéA');
    expect(run(String.raw`r'a\tb'`)).toBe(String.raw`a\tb`);
    expect(
      run(`"""two
lines"""`),
    ).toBe('two\nlines');
    expect(run(String.raw`b'\xff'`)).toEqual(Uint8Array.from([255]));
    expect(run('true')).toBe(true);
    expect(run('null')).toBe(null);
  });

  it('does integer arithmetic with overflow and divide-by-zero errors', () => {
    expect(run('7 / 2')).toBe(3n);
    expect(run('-7 % 3')).toBe(-1n);
    expect(run('2 + 3 * 4')).toBe(14n);
    expect(run('9223372036854775807 + 1')).toBeInstanceOf(CelError);
    expect(run('1 / 0')).toBeInstanceOf(CelError);
    expect(run('1u - 2u')).toBeInstanceOf(CelError);
    expect(run('1 + 1u')).toBeInstanceOf(CelError); // no int+uint overload
    expect(run('1.0 / 0.0')).toBe(Infinity);
  });

  it('compares across numeric types and orders strings, but has no < between unrelated types', () => {
    expect(run('1 == 1.0')).toBe(true);
    expect(run('1u == 1')).toBe(true);
    expect(run('2 < 2.5')).toBe(true);
    expect(run("'abc' < 'abd'")).toBe(true);
    expect(run("1 == '1'")).toBe(false);
    expect(run("1 < '1'")).toBeInstanceOf(CelError);
    expect(run('[1, 2] == [1, 2]')).toBe(true);
    expect(run("{'a': 1} == {'a': 1.0}")).toBe(true);
  });

  it('has in, ternary, list and map literals, indexing and string concatenation (istio_stats)', () => {
    expect(run('2 in [1, 2, 3]')).toBe(true);
    expect(run("'a' in {'a': 1}")).toBe(true);
    expect(run("response.code >= 500 ? 'error' : 'ok'")).toBe('error');
    expect(run("{'a': 'x'}['a']")).toBe('x');
    expect(run("{'a': 'x'}['b']")).toBeInstanceOf(CelError);
    expect(run('[1, 2][5]')).toBeInstanceOf(CelError);
    expect(run("'v' + '1'")).toBe('v1');
    expect(run('[1] + [2]')).toEqual([1n, 2n]);
    expect(run("{'a': 1, 'a': 2}")).toBeInstanceOf(CelError);
  });
});

describe('CEL error semantics', () => {
  it('propagates errors, except where && and || decide without the erroring side', () => {
    expect(run("request.headers['missing'] == 'x'")).toBeInstanceOf(CelError);
    expect(run("request.headers['missing'] == 'x' || true")).toBe(true);
    expect(run("true || request.headers['missing'] == 'x'")).toBe(true);
    expect(run("request.headers['missing'] == 'x' && false")).toBe(false);
    expect(run("request.headers['missing'] == 'x' && true")).toBeInstanceOf(CelError);
    expect(run("request.headers['missing'] == 'x' || false")).toBeInstanceOf(CelError);
    expect(run("!(request.headers['missing'] == 'x')")).toBeInstanceOf(CelError);
    expect(run('1 || true')).toBe(true);
    expect(run('1 && true')).toBeInstanceOf(CelError);
    expect(run("request.headers['missing'] == 'x' ? 1 : 2")).toBeInstanceOf(CelError);
    expect(run('nope == 1')).toBeInstanceOf(CelError);
  });
});

describe('CEL functions and macros', () => {
  it('tests presence with has() and reads headers lower-cased, repeats joined with commas', () => {
    expect(run('has(request.headers.accept)')).toBe(true);
    expect(run('has(request.headers.nothere)')).toBe(false);
    expect(run('has(request.method)')).toBe(true);
    expect(run("request.headers['X-User']")).toBe('alice');
    expect(run("request.headers['accept']")).toBe('a,b');
    expect(run("request.headers[':method']")).toBe('GET');
    expect(run("'x-user' in request.headers")).toBe(true);
    expect(run("request['method']")).toBe('GET');
  });

  it('has size, conversions and the string methods, matches with RE2 partial matching', () => {
    expect(run("size('héllo')")).toBe(5n);
    expect(run("'abc'.size()")).toBe(3n);
    expect(run('size([1, 2])')).toBe(2n);
    expect(run('size(request.headers)')).toBe(3n);
    expect(run('string(destination.port)')).toBe('9080');
    expect(run('string(1.5)')).toBe('1.5');
    expect(run("int('42')")).toBe(42n);
    expect(run("int('4x')")).toBeInstanceOf(CelError);
    expect(run('int(2.9)')).toBe(2n);
    expect(run("double('2.5')")).toBe(2.5);
    expect(run("request.path.startsWith('/api/')")).toBe(true);
    expect(run("request.path.endsWith('=5')")).toBe(true);
    expect(run("request.path.contains('v1')")).toBe(true);
    expect(run("request.path.matches('^/api/v[0-9]+/')")).toBe(true);
    expect(run("matches(request.method, 'G.T')")).toBe(true);
    expect(run("request.path.matches('(')")).toBeInstanceOf(CelError);
    expect(run('response.flags == 128')).toBe(true);
  });

  it('evaluates comprehensions in istio_stats, durations and timestamps', () => {
    expect(run('[1, 2, 3].exists(x, x > 2)')).toBe(true);
    expect(run('[1, 2, 3].all(x, x > 2)')).toBe(false);
    expect(run('[1, 2, 3].map(x, x * 2)')).toEqual([2n, 4n, 6n]);
    expect(run('[1, 2, 3].filter(x, x % 2 == 1)')).toEqual([1n, 3n]);
    expect(run("request.headers.exists(h, h == 'x-user')")).toBe(true);
    expect(run("duration('1.5s') > duration('1s')")).toBe(true);
    expect(run("timestamp('2026-01-02T03:04:05Z') + duration('1h')")).toEqual(
      run("timestamp('2026-01-02T04:04:05Z')"),
    );
  });
});

describe('CEL runtimes and problems', () => {
  it('reports syntax errors as cel-cpp Parse would', () => {
    for (const src of [
      'response.code >=',
      "'unterminated",
      '(1 + 2',
      'if == 1',
      'a.in',
      'has(a)',
      '1 +* 2',
      '',
      '9223372036854775808',
    ])
      expect(problem(src), src).toBe('syntax');
    // Reserved words are refused as plain identifiers only, not as selected fields.
    expect(problem('request.namespace == 1')).toBeNull();
  });

  it("rejects in Envoy's access-log runtime what its builder disables: string(), comprehensions, unknown functions", () => {
    expect(problem('string(response.code) == "503"', 'accessLog')).toBe('rejected');
    expect(problem("request.headers.exists(h, h == 'x')", 'accessLog')).toBe('rejected');
    expect(problem('frobnicate(1)')).toBe('rejected');
    expect(problem("'a'.startsWith()")).toBe('rejected');
    // String + parses and plans (`_+_` has int overloads) but finds no string overload at run time.
    const concat = compileCel("request.method + 'x' == 'GETx'", 'accessLog');
    expect(concat.ok && concat.program.evaluate(ACT)).toBeInstanceOf(CelError);
  });

  it('reports attributes meshlet cannot read in a use, and records what an expression reads', () => {
    expect(problem("filter_state['wasm.upstream_peer'] == 'x'")).toBe('unsupported');
    expect(problem('upstream.cx_pool_ready_duration > duration("1s")', 'accessLog')).toBe('unsupported');
    expect(problem('upstream.cx_pool_ready_duration > duration("1s")', 'metrics')).toBe('unsupported');
    expect(problem('xds.node.id == "x"', 'accessLog')).toBe(null);
    const c = compileCel("request.headers['x'] == 'y' && response.code == 200", 'accessLog');
    expect(c.ok && [...c.program.reads]).toEqual(['request.headers', 'response.code']);
    const k = compileCel("'v' + '1'", 'metrics');
    expect(k.ok && k.program.reads.size).toBe(0);
  });

  it('treats Object.prototype names as plain names, never as JavaScript properties', () => {
    expect(run('toString == 1')).toBeInstanceOf(CelError);
    expect(run("request.headers['constructor']")).toBeInstanceOf(CelError);
    expect(run('request.constructor')).toBeInstanceOf(CelError);
    expect(problem('toString(1)')).toBe('rejected');
    expect(run('// a comment\n  1 + 1 // another')).toBe(2n);
  });

  it("prints values as Envoy's print() does for tag values", () => {
    expect(printValue(run('503'))).toBe('503');
    expect(printValue(run('true'))).toBe('true');
    expect(printValue(run('null'))).toBe('NULL');
    expect(printValue(run('1.0'))).toBe('1');
    expect(printValue(run('1234567.0'))).toBe('1.23457e+06');
    expect(printValue(run('[1]'))).toBe('list value');
    expect(printValue(run("duration('90s')"))).toBe('1m30s');
    expect(printValue(run("duration('0.25s')"))).toBe('250ms');
  });
});
