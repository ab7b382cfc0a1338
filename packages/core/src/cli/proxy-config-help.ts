/** `meshlet proxy-config --help`. */
export const PROXY_CONFIG_HELP = `Show the configuration a running meshlet instance uses, read from its admin
server, with istioctl proxy-config's columns.

Usage:
  meshlet proxy-config routes|clusters|endpoints|listeners|secret <admin url> [-o json]

Types:
  routes      NAME, VHOST NAME, DOMAINS, MATCH, then DESTINATION, TIMEOUT, RETRIES, FAULT
              and VIRTUAL SERVICE, as meshlet routes prints them (from /config_dump)
  clusters    SERVICE FQDN, PORT, SUBSET, DIRECTION, TYPE, DESTINATION RULE (from /config_dump)
  endpoints   ENDPOINT, STATUS, OUTLIER CHECK (FAILED while ejected), CLUSTER (from /clusters)
  listeners   ADDRESS, PORT, MATCH, DESTINATION: a gateway's servers (HTTP and HTTPS routes,
              TCP and TLS passthrough clusters, by SNI), else the outbound route ports and
              the virtual inbound listener's chains on 15006 per Service port and mTLS mode
              (from /config_dump)
  secret      RESOURCE NAME, TYPE, STATUS, VALID CERT, SERIAL NUMBER, NOT AFTER, NOT BEFORE:
              the workload certificate (default) and root (ROOTCA), the gateway listeners'
              certificates, and the DestinationRule credentials (kubernetes://<name>,
              <name>-cacert, file-cert:, file-root:) the instance has used, WARMING while one
              is not mounted (from /config_dump)

Examples:
  meshlet proxy-config routes 127.0.0.1:15000
  meshlet proxy-config endpoints http://10.0.0.7:15000 -o json

Options:
  -o, --output <format>   "" (table, default) or "json" (the admin server's data for that type).
      --timeout <ms>      Request timeout (default 5000).
  -h, --help              Show this help.

Exit codes: 0 success, 1 the admin URL could not be read, 64 usage error.
`;
