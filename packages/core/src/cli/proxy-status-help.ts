/** `meshlet proxy-status --help`. */
export const PROXY_STATUS_HELP = `Show which configuration each running meshlet instance has loaded, like
istioctl proxy-status: reads /server_info and /config_dump from each admin URL and
compares the instance's config hash with the hash of a config directory.

Usage:
  meshlet proxy-status <admin url>... [--config <file|dir>...] [-o json]

Columns:
  NAME         the instance's workload (<name>.<namespace>)
  ADMIN        the admin URL asked
  CONFIG HASH  the content hash of the configuration the instance runs
  LOADED       how long ago it loaded that configuration
  STATUS       SYNCED when the hash equals the hash of --config, STALE when it differs,
               ERROR when the admin URL cannot be read; "-" without --config
  VERSION      the meshlet version of the instance

Examples:
  # Are both replicas running what is in ./mesh?
  meshlet proxy-status 10.0.0.7:15000 10.0.0.8:15000 --config mesh/

Options:
  -c, --config <file|dir>   The configuration to compare with (repeatable; read like createMesh's config).
  -o, --output <format>     "" (table, default) or "json".
      --timeout <ms>        Per-request timeout (default 5000).
  -h, --help                Show this help.

Exit codes: 0 every instance answered (and is SYNCED when --config is given),
1 an instance is STALE or unreachable, 64 usage error.
`;
