/** Process exit codes, as istioctl uses them (istioctl/cmd/sysexits.go, BSD sysexits). */
export const EXIT = Object.freeze({
  ok: 0,
  /** Any other error. */
  failure: 1,
  /** EX_USAGE: the command line could not be understood. */
  usage: 64,
  /** EX_DATAERR: an input file could not be read or parsed. */
  dataError: 65,
  /** istioctl's code for analyzer findings at or above the failure threshold. */
  analysisIssues: 79,
});
