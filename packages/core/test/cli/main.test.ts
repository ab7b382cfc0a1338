import { describe, expect, it, vi } from 'vitest';
import { captureIO } from './support.js';

// routes.ts is another engineer's; main's dispatch is tested against a stand-in.
vi.mock('../../src/cli/routes.js', () => ({
  runRoutes: vi.fn((argv: readonly string[]) => Promise.resolve(argv.includes('--fail') ? 3 : 0)),
}));

const { main } = await import('../../src/cli/main.js');

async function run(argv: string[]) {
  const io = captureIO();
  const code = await main(argv, io);
  return { code, out: io.out(), err: io.err() };
}

describe('meshlet main', () => {
  it('prints the command list with --help and -h and exits 0', async () => {
    for (const flag of ['--help', '-h']) {
      const r = await run([flag]);
      expect(r.code).toBe(0);
      expect(r.out).toContain('analyze   Analyze Istio configuration');
      expect(r.out).toContain('routes    Show the effective outbound route table');
    }
  });

  it('prints usage on stderr and exits 64 without a command', async () => {
    const r = await run([]);
    expect(r.code).toBe(64);
    expect(r.err).toContain('Usage:\n  meshlet <command>');
  });

  it('prints usage on stderr and exits 64 for an unknown command', async () => {
    const r = await run(['frobnicate']);
    expect(r.code).toBe(64);
    expect(r.err).toContain('unknown command "frobnicate"');
    expect(r.out).toBe('');
  });

  it('prints the package version with --version', async () => {
    const r = await run(['--version']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^meshlet \d+\.\d+\.\d+/);
  });

  it('shows per-command help with <command> --help and help <command>', async () => {
    for (const argv of [
      ['analyze', '--help'],
      ['help', 'analyze'],
    ]) {
      const r = await run(argv);
      expect(r.code).toBe(0);
      expect(r.out).toContain('meshlet analyze <file|dir>...');
    }
  });

  it('passes the remaining arguments to routes and returns its exit code', async () => {
    expect((await run(['routes', 'x.yaml'])).code).toBe(0);
    expect((await run(['routes', '--fail'])).code).toBe(3);
  });

  it('exits 65 without a stack trace when analyze is given a missing file', async () => {
    const r = await run(['analyze', '/nonexistent/meshlet/missing.yaml']);
    expect(r.code).toBe(65);
    expect(r.err).not.toMatch(/\n\s+at /);
  });
});
