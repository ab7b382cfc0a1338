/**
 * The one catalogue of meshlet error codes (`MESHLET_ERR_<AREA>_<PROBLEM>`).
 * Codes are never reused; `docs/errors.md` is kept in sync by a test.
 */
export const ERROR_CODES = {
  MESHLET_ERR_CONFIG_INVALID: 'The configuration has errors; every diagnostic is attached.',
  MESHLET_ERR_CONFIG_SOURCE:
    'A configuration source could not be read (missing, unreadable, or a symlink loop).',
  MESHLET_ERR_CONFIG_WORKLOAD: 'The workload identity passed to compilePlan is incomplete or malformed.',
  MESHLET_ERR_CLI_USAGE: 'The command line could not be understood.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
