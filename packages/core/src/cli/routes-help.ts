/** `meshlet routes --help`. */
export const ROUTES_HELP = `Show the effective outbound route table of one workload, like
istioctl proxy-config routes: for each host and port the VirtualService that owns
it, its routes in match order with destinations, weights, timeout, retries and
faults, and the fallback for hosts no route covers.

Usage:
  meshlet routes <file|dir>... --workload <ns>/<name>[:key=value,...] [options]

Files and directories are read recursively (.yaml, .yml, .json). Kubernetes
Services in the files define the hosts and ports, as they would in a cluster.

Examples:
  # Routes the productpage pod sees in Bookinfo
  meshlet routes samples/bookinfo/platform samples/bookinfo/networking \\
    --workload default/productpage-v1:app=productpage,version=v1

  # Machine-readable output
  meshlet routes mesh/ --workload shop/cart:app=cart -o json

Options:
  -w, --workload <ns>/<name>[:labels]   The workload whose outbound routes to show (required).
                                        Labels decide VirtualService sourceLabels matches.
      --service-account <sa>            The workload's service account (default "default").
  -o, --output <format>                 Output format: "" (table, default) or "json".
  -h, --help                            Show this help.

Exit codes: 0 success, 64 usage error, 65 the configuration has errors.
`;
