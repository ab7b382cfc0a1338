/** Help texts for `meshlet` and its commands. */

export const MAIN_HELP = `meshlet: Istio's service mesh as a library; this CLI checks and explains Istio YAML.

Usage:
  meshlet <command> [options]

Commands:
  analyze   Analyze Istio configuration files and print validation messages (like istioctl analyze)
  routes    Show the effective outbound route table of a workload (like istioctl proxy-config routes)
  certs     Create a development CA and issue SPIFFE workload certificates
  explain   Explain one request: its route, subset and policies, or why it was denied
  proxy-status  Show which config hash each running instance has loaded (SYNCED/STALE)
  proxy-config  Show a running instance's routes, clusters, endpoints, listeners or secrets (from its admin port)

Options:
  -h, --help      Show help (also: meshlet <command> --help)
  -v, --version   Print the meshlet version

Exit codes: 0 success, 64 usage error, 65 unparseable input, 79 analysis found issues, 1 other error.
`;

export const ANALYZE_HELP = `Analyze Istio configuration and print validation messages.
For more information about message codes, refer to:
https://istio.io/latest/docs/reference/config/analysis

Usage:
  meshlet analyze <file|dir>... [options]

Files and directories are read recursively (.yaml, .yml, .json). Kubernetes
Services, Pods, workloads (their pod templates), Namespaces, Nodes and Secrets in
the files stand in for the cluster, as if the files had been applied to one.

Examples:
  # Analyze the Bookinfo sample
  meshlet analyze samples/bookinfo/platform samples/bookinfo/networking

  # Machine-readable output
  meshlet analyze -o json mesh/

  # Suppress IST0101 on one VirtualService, and IST0132 on everything in 'testing'
  meshlet analyze -S "IST0101=VirtualService default/reviews" -S "IST0132=* testing/*" mesh/

Options:
  -o, --output <log|json|yaml>      Output format (default log)
      --failure-threshold <level>   Lowest level that makes the exit code non-zero: Info, Warning, Error (default Error)
      --output-threshold <level>    Lowest level printed: Info, Warning, Error (default Info)
  -S, --suppress <code=resource>    Suppress a message code on a resource, e.g. "IST0102=DestinationRule primary-dr.default"
                                    or "IST0102=DestinationRule default/primary-dr"; '*' matches anything. Repeatable.
  -n, --namespace <ns>              Namespace for documents without one, and the namespace reported on (default: default)
  -A, --all-namespaces              Report on every namespace
      --analyzer <name>             Run only this analyzer (repeatable); see --list-analyzers
  -L, --list-analyzers              List the analyzers and exit
      --ignore-unknown              Do not fail (exit 65) on unparseable input
      --color[=false]               Colour the level words (default: on a terminal, unless NO_COLOR or TERM=dumb)
  -h, --help                        Show this help

Exit codes:
  0   no message at or above the failure threshold
  79  a message at or above the failure threshold (log output only; json/yaml always exit 0)
  65  an input file could not be read or parsed
  64  usage error
`;
