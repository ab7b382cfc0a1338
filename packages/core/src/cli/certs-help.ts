/** `meshlet certs --help` and its subcommands. */
export const CERTS_HELP = `Create a development CA and issue workload certificates with SPIFFE identities,
like istiod's self-signed CA does, so a mesh needs no openssl.

Usage:
  meshlet certs ca --out <dir> [options]
  meshlet certs issue --ca <dir> --namespace <ns> --service-account <sa> --out <dir> [options]

Commands:
  ca      Create a self-signed root CA (RSA 2048, 10 years): <dir>/ca.crt and <dir>/ca.key
  issue   Issue a workload certificate with URI SAN spiffe://<trust-domain>/ns/<ns>/sa/<sa>

Examples:
  meshlet certs ca --out ./dev-ca
  meshlet certs issue --ca ./dev-ca -n shop --service-account cart --out ./certs
  meshlet certs issue --ca ./dev-ca -n shop --service-account cart --out ./certs --ttl 1h --layout istio

Run "meshlet certs <command> --help" for the options of each command.

Exit codes: 0 success, 64 usage error, 65 the CA could not be read, 1 other error.
`;

export const CERTS_CA_HELP = `Create a self-signed development root CA (RSA 2048, SHA-256).

Usage:
  meshlet certs ca --out <dir> [options]

Writes <dir>/ca.crt and <dir>/ca.key (mode 0600). Keep the key private: anyone with it can
issue identities your mesh trusts. For development and tests; production meshes use their own CA.

Options:
      --out <dir>             Directory to write to (required; created if missing)
      --common-name <name>    Subject CN (default "meshlet development CA")
      --days <n>              Validity in days (default 3650)
      --force                 Overwrite an existing CA in <dir>
  -h, --help                  Show this help

Exit codes: 0 success, 64 usage error, 1 other error.
`;

export const CERTS_ISSUE_HELP = `Issue a workload certificate signed by a CA.

Usage:
  meshlet certs issue --ca <dir> --namespace <ns> --service-account <sa> --out <dir> [options]

The certificate carries the URI SAN spiffe://<trust-domain>/ns/<ns>/sa/<sa>, key usages
for both TLS server and client authentication, and an RSA 2048 key. The CA directory holds
ca.crt and ca.key (meshlet certs ca) or Istio's cacerts files (ca-cert.pem, ca-key.pem,
cert-chain.pem, root-cert.pem).

Options:
      --ca <dir>                  CA directory (required)
  -n, --namespace <ns>            Kubernetes namespace of the workload (required)
      --service-account <sa>      Service account of the workload (required)
      --out <dir>                 Directory to write to (required; created if missing)
      --trust-domain <domain>     meshConfig trustDomain (default cluster.local)
      --ttl <duration>            Lifetime, e.g. 24h, 1h, 90s (default 24h, like istio-agent; at most 2160h)
      --layout <k8s|istio|spiffe-helper>
                                  File names: k8s = tls.crt, tls.key, ca.crt (default);
                                  istio = cert-chain.pem, key.pem, root-cert.pem;
                                  spiffe-helper = svid.pem, svid_key.pem, svid_bundle.pem
      --dns <name>                Add a DNS SAN (repeatable)
  -h, --help                      Show this help

Exit codes: 0 success, 64 usage error, 65 the CA could not be read, 1 other error.
`;
