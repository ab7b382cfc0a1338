/** `meshlet explain --help`. */
export const EXPLAIN_HELP = `Explain what the mesh does with one request: for an outbound call, which
virtual host and route it takes (and why earlier routes did not match), which
subset and cluster, with the cluster's load balancing, pool and outlier policy,
timeout, retries and faults; for an inbound request, the mTLS mode, path
normalization, JWT outcome and the authorization decision with the policy and
rule that decided it.

Usage:
  meshlet explain <file|dir>... --workload <ns>/<name>[:labels] --request "<METHOD> <url>" [options]
  meshlet explain <file|dir>... --workload <ns>/<name>[:labels] --inbound "<METHOD> <path|url>" [options]
  meshlet explain <file|dir>... --workload <ns>/<name>[:labels] --gateway "<METHOD> <url>" [options]
  meshlet explain <file|dir>... --workload <ns>/<name>[:labels] --connect <host>:<port> [options]
  meshlet explain <file|dir>... --workload <ns>/<name>[:labels] --tcp <port> [options]

Examples:
  # Where does productpage's call for jason go?
  meshlet explain samples/bookinfo --workload default/productpage-v1:app=productpage,version=v1 \\
    --request "GET http://reviews:9080/reviews/0" -H "end-user: jason"

  # Where does the ingress gateway send this request? (the URL's host is the Host header)
  meshlet explain samples/bookinfo --workload istio-system/istio-ingressgateway:istio=ingressgateway \\
    --gateway "GET http://bookinfo.example.com/productpage"

  # Where does a TCP connection to tcp-echo go (mesh.connect)?
  meshlet explain samples/tcp-echo --workload default/sleep:app=sleep --connect tcp-echo:9000

  # Is sleep's TCP connection to tcp-echo's port 9000 admitted (mesh.listenTcp)?
  meshlet explain policies/ --workload foo/tcp-echo:app=tcp-echo --tcp 9000 \\
    --peer spiffe://cluster.local/ns/foo/sa/sleep

  # Why is this request to httpbin denied?
  meshlet explain policies/ --workload foo/httpbin:app=httpbin --inbound "GET /headers" \\
    --peer spiffe://cluster.local/ns/foo/sa/sleep

Options:
  -w, --workload <ns>/<name>[:labels]   The workload that sends (--request) or receives (--inbound) it (required).
      --service-account <sa>            The workload's service account (default "default").
      --request "<METHOD> <url>"        An outbound call, e.g. "GET http://reviews:9080/".
      --inbound "<METHOD> <path|url>"   An inbound request, e.g. "GET /admin" or "POST http://httpbin:8000/post".
      --gateway "<METHOD> <url>"        A request arriving at a gateway workload, routed by the VirtualServices
                                        bound to its Gateways.
      --connect <host>:<port>           A TCP connection (mesh.connect): its VirtualService tcp route, or on a
                                        TLS port the tls rule for its SNI, or the default cluster, and each
                                        destination's cluster and policy.
      --tcp <port>                      A TCP connection arriving on this workload port (mesh.listenTcp): the mTLS
                                        mode and the AuthorizationPolicies as Istio applies them to TCP.
  -H, --header "<name>: <value>"        A request header (repeatable).
      --peer <spiffe id>                The caller's mTLS identity (inbound, --tcp); none = plaintext.
      --token <jwt|file>                A JWT (or a file holding one), sent as Authorization: Bearer (inbound).
      --source-ip <ip>                  The caller's address (inbound, --tcp; default 127.0.0.1).
      --sni <name>                      The SNI of the caller's TLS handshake: connection.sni (--tcp), the
                                        HTTPS Gateway server it picks (--gateway; default the URL's host), or
                                        the TLS port's filter chain (--connect; default the host).
      --port <n>                        The workload port the request arrives on (inbound; default the URL's, else 80),
                                        or the Gateway server port (--gateway; default its only HTTP server port).
  -o, --output <format>                 "" (text, default) or "json".
  -h, --help                            Show this help.

Exit codes: 0 explained, 64 usage error, 65 the configuration has errors.
`;
