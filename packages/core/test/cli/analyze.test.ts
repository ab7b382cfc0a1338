import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAnalyze } from '../../src/cli/analyze.js';
import { captureIO, tempFiles } from './support.js';

const SERVICE = `apiVersion: v1
kind: Service
metadata:
  name: reviews
spec:
  ports:
  - port: 9080
    name: http
  selector:
    app: reviews
`;

const VS_GOOD = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - route:
    - destination:
        host: reviews
`;

const VS_BAD_HOST = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: foo
spec:
  hosts:
  - foo
  http:
  - route:
    - destination:
        host: bar
`;

// SIMPLE TLS without caCertificates: IST0128, a Warning.
const DR_WARNING = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews-tls
spec:
  host: reviews
  trafficPolicy:
    tls:
      mode: SIMPLE
`;

async function run(argv: string[], cwd?: string) {
  const io = captureIO(cwd === undefined ? {} : { cwd });
  const code = await runAnalyze(argv, io);
  return { code, out: io.out(), err: io.err() };
}

describe('meshlet analyze', () => {
  it('exits 0 and says so on stderr when the files are clean', async () => {
    const dir = tempFiles({ 'svc.yaml': SERVICE, 'vs.yaml': VS_GOOD });
    const file = path.join(dir, 'vs.yaml');
    const r = await run([path.join(dir, 'svc.yaml'), file]);
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe('');
    expect(r.err).toContain('\u2714 No validation issues found when analyzing:\n');
    expect(r.err).toContain(`  - ${file}`);
  });

  it('names the single file in the clean message when given one file', async () => {
    const dir = tempFiles({ 'all.yaml': `${SERVICE}---\n${VS_GOOD}` });
    const file = path.join(dir, 'all.yaml');
    const r = await run([file]);
    expect(r.code).toBe(0);
    expect(r.err).toBe(`\u2714 No validation issues found when analyzing ${file}.\n`);
  });

  it('prints istioctl log lines and exits 79 when an Error is found', async () => {
    const dir = tempFiles({ 'f.yaml': VS_BAD_HOST });
    const r = await run(['f.yaml'], dir);
    expect(r.code).toBe(79);
    // The reference points at the destination host field (line 11 of f.yaml).
    expect(r.out).toContain(
      'Error [IST0101] (VirtualService default/foo f.yaml:11) Referenced host not found: "bar"',
    );
    expect(r.err).toContain('Error: Analyzers found issues when analyzing namespace: default.');
  });

  it('prints a JSON array of istioctl objects and exits 0 with -o json', async () => {
    const dir = tempFiles({ 'f.yaml': VS_BAD_HOST });
    const r = await run(['-o', 'json', 'f.yaml'], dir);
    expect(r.code).toBe(0);
    const parsed = JSON.parse(r.out) as Record<string, string>[];
    expect(parsed).toEqual([
      {
        code: 'IST0101',
        documentationUrl: 'https://istio.io/latest/docs/reference/config/analysis/ist0101/',
        level: 'Error',
        message: 'Referenced host not found: "bar"',
        origin: 'VirtualService default/foo',
        reference: 'f.yaml:11',
      },
    ]);
  });

  it('prints YAML objects with -o yaml', async () => {
    const dir = tempFiles({ 'f.yaml': VS_BAD_HOST });
    const r = await run(['--output=yaml', 'f.yaml'], dir);
    expect(r.code).toBe(0);
    expect(r.out).toContain('- code: IST0101\n');
    expect(r.out).toContain('  origin: VirtualService default/foo\n');
  });

  it('exits 0 on a Warning by default and 79 with --failure-threshold Warning', async () => {
    const dir = tempFiles({ 'svc.yaml': SERVICE, 'dr.yaml': DR_WARNING });
    const byDefault = await run(['svc.yaml', 'dr.yaml'], dir);
    expect(byDefault.code).toBe(0);
    expect(byDefault.out).toContain('Warning [IST0128]');
    const strict = await run(['--failure-threshold', 'warning', 'svc.yaml', 'dr.yaml'], dir);
    expect(strict.code).toBe(79);
  });

  it('hides messages below --output-threshold but still fails on them', async () => {
    const dir = tempFiles({ 'svc.yaml': SERVICE, 'dr.yaml': DR_WARNING });
    const r = await run(
      ['--output-threshold', 'Error', '--failure-threshold', 'Warning', 'svc.yaml', 'dr.yaml'],
      dir,
    );
    expect(r.out).not.toContain('IST0128');
    expect(r.code).toBe(79);
  });

  it('suppresses a message with -S in either Kind ns/name or Kind name.ns form', async () => {
    const dir = tempFiles({ 'f.yaml': VS_BAD_HOST });
    for (const spec of [
      'IST0101=VirtualService default/foo',
      'IST0101=VirtualService foo.default',
      'IST0101=VirtualService *',
    ]) {
      const r = await run(['-S', spec, 'f.yaml'], dir);
      expect(r.code, spec).toBe(0);
      expect(r.out, spec).not.toContain('IST0101');
    }
    const other = await run(['-S', 'IST0101=VirtualService default/other', 'f.yaml'], dir);
    expect(other.code).toBe(79);
  });

  it('warns about an unknown code given to -S', async () => {
    const dir = tempFiles({ 'f.yaml': VS_GOOD });
    const r = await run(['-S', 'IST9999=VirtualService default/foo', 'f.yaml'], dir);
    expect(r.err).toContain("Warning: Supplied message code 'IST9999' is an unknown message code");
  });

  it('reports only the selected namespace unless -A is given', async () => {
    const dir = tempFiles({ 'f.yaml': VS_BAD_HOST.replace('name: foo', 'name: foo\n  namespace: other') });
    const scoped = await run(['f.yaml'], dir);
    expect(scoped.code).toBe(0);
    const all = await run(['-A', 'f.yaml'], dir);
    expect(all.code).toBe(79);
    expect(all.out).toContain('(VirtualService other/foo f.yaml:');
  });

  it("keeps a cluster-scoped resource's message without -A, as istioctl does (istiod_analyze.go filterMessages)", async () => {
    const dir = tempFiles({
      'ns.yaml':
        'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: staging\n  annotations:\n    networking.istio.io/exportTo: "."\n',
    });
    const r = await run(['ns.yaml'], dir);
    expect(r.out).toContain('IST0107');
    expect(r.out).toContain('(Namespace staging ns.yaml:');
  });

  it('exits 65 when a file is not valid YAML', async () => {
    const dir = tempFiles({ 'broken.yaml': 'kind: VirtualService\nmetadata: [unclosed\n' });
    const r = await run(['broken.yaml'], dir);
    expect(r.code).toBe(65);
    expect(r.err).toContain('Error(s) adding files');
    expect(r.err).toContain("Error: Some files couldn't be parsed.");
  });

  it('exits 65 without a stack trace when a file does not exist', async () => {
    const dir = tempFiles({});
    const r = await run(['missing.yaml'], dir);
    expect(r.code).toBe(65);
    expect(r.err).toContain('missing.yaml');
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it.each([
    [['-o', 'xml', 'f.yaml'], 'xml not a valid option for format'],
    [['--failure-threshold', 'Fatal', 'f.yaml'], 'invalid level option'],
    [['--bogus', 'f.yaml'], 'unknown option --bogus'],
    [['-S', 'IST0101', 'f.yaml'], 'is not a valid suppression value'],
    [[], 'no files to analyze'],
  ])('exits 64 with a usage message for %j', async (argv, text) => {
    const r = await run(argv);
    expect(r.code).toBe(64);
    expect(r.err).toContain(text);
    expect(r.err).toContain("Run 'meshlet analyze --help'");
  });

  it('prints its help with --help and exits 0', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('meshlet analyze <file|dir>...');
    expect(r.out).toContain('--failure-threshold');
  });

  it('lists the analyzers with -L', async () => {
    const r = await run(['-L']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('* virtualservice.DestinationHostAnalyzer:\n    Checks the destination hosts');
  });

  it('colours the level word only when asked', async () => {
    const dir = tempFiles({ 'f.yaml': VS_BAD_HOST });
    const io = captureIO({ color: true, cwd: dir });
    await runAnalyze(['f.yaml'], io);
    expect(io.out()).toContain('\u001b[1;31mError\u001b[0m [IST0101]');
    const plain = await run(['f.yaml'], dir);
    expect(plain.out).not.toContain('\u001b[');
  });
});
