import { isMeshletError } from '../errors/meshlet-error.js';
import { MESHLET_VERSION } from '../version.js';
import { runAnalyze } from './analyze.js';
import { runCerts } from './certs.js';
import { EXIT } from './exit-codes.js';
import { runExplain } from './explain.js';
import { MAIN_HELP } from './help.js';
import type { CliCommand, CliIO } from './io.js';
import { runProxyConfig } from './proxy-config.js';
import { runProxyStatus } from './proxy-status.js';
import { runRoutes } from './routes.js';

const COMMANDS: Readonly<Record<string, CliCommand>> = {
  analyze: runAnalyze,
  certs: runCerts,
  explain: runExplain,
  'proxy-config': runProxyConfig,
  'proxy-status': runProxyStatus,
  routes: runRoutes,
};

/**
 * `meshlet <command> [args]`: dispatch, `--help`, `--version`. Returns the exit
 * code. A user error prints a message, never a stack trace; only a bug does.
 */
export async function main(argv: readonly string[], io: CliIO): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
    if (first === 'help' && rest[0] !== undefined && COMMANDS[rest[0]] !== undefined) {
      return (COMMANDS[rest[0]] as CliCommand)(['--help'], io);
    }
    (first === undefined ? io.stderr : io.stdout)(MAIN_HELP);
    return first === undefined ? EXIT.usage : EXIT.ok;
  }
  if (first === '-v' || first === '--version' || first === 'version') {
    io.stdout(`meshlet ${MESHLET_VERSION}\n`);
    return EXIT.ok;
  }
  const command = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
  if (command === undefined) {
    io.stderr(`Error: unknown command ${JSON.stringify(first)} for "meshlet"\n\n${MAIN_HELP}`);
    return EXIT.usage;
  }
  try {
    return await command(rest, io);
  } catch (err) {
    if (isMeshletError(err)) {
      io.stderr(`Error: ${err.message}\n`);
      return err.code === 'MESHLET_ERR_CLI_USAGE' ? EXIT.usage : EXIT.failure;
    }
    // Not a user error: a bug. Say so, with the stack, so it can be reported.
    io.stderr(
      `meshlet: internal error (please report it): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    return EXIT.failure;
  }
}
