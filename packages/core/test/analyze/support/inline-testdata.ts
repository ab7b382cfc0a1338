import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * Istio analyzer inputs that ../shared/istio-samples lacks, cut down to the
 * documents (and fields) the analyzer reads. From istio/istio
 * pkg/config/analysis/analyzers/testdata/, same names: Copyright Istio Authors, Apache
 * License 2.0 (the text is ../shared/istio-samples/LICENSE-istio-Apache-2.0.txt); modified
 * by leaving out documents and fields.
 */
export const INLINE_TESTDATA: Readonly<Record<string, string>> = {
  'misannotated.yaml': `
apiVersion: v1
kind: Service
metadata:
  name: httpbin
  annotations:
    networking.istio.io/exportThree: bar
    networking.istio.io/exportTo: baz
spec:
  ports:
  - name: http
    port: 8000
---
apiVersion: v1
kind: Pod
metadata:
  name: invalid-annotations
  annotations:
    readiness.status.sidecar.istio.io/initialDelaySeconds: bar
    readiness.status.sidecar.istio.io/periodSeconds: "10"
spec:
  containers:
    - name: foo
---
apiVersion: v1
kind: Service
metadata:
  name: details
  annotations:
    kubernetes.io/psp: my-privileged-psp
spec:
  ports:
  - name: http
    port: 80
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: gateway
  annotations:
    istio.io/ingress.class: "istio"
spec: {}
---
apiVersion: v1
kind: Pod
metadata:
  name: grafana-test
  annotations:
    proxy.istio.io/config: "{}"
    helm.sh/hook: test-success
    kubernetes.io/ingress.class: "istio"
    gateway.istio.io/controller-version: "5"
spec:
  containers:
    - name: grafana-test
---
apiVersion: v1
kind: Pod
metadata:
  name: annotation-set-by-default
  annotations:
    sidecar.istio.io/interceptionMode: REDIRECT
    traffic.sidecar.istio.io/excludeInboundPorts: "15020"
    traffic.sidecar.istio.io/includeInboundPorts: '*'
    traffic.sidecar.istio.io/includeOutboundIPRanges: '*'
    gateway.istio.io/controller-version: "5"
spec:
  containers:
    - name: grafana-test
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: fortio-deploy
  annotations:
     sidecar.istio.io/statsInclusionPrefixes: cluster.outbound
spec:
  selector:
    matchLabels:
      app: fortio
  template:
    metadata:
      labels:
        app: fortio
    spec:
      containers:
      - name: fortio
---
apiVersion: v1
kind: Namespace
metadata:
  name: staging
  annotations:
    kubernetes.io/ingress.class: "foo"
---
apiVersion: v1
kind: Pod
metadata:
  name: ignore-istio-annotations
  annotations:
    istio.io/rev: rev
    ambient.istio.io/redirection: enabled
spec:
  containers:
  - name: foo
`,
  'service-no-port-name.yaml': `
apiVersion: v1
kind: Service
metadata:
  name: my-service1
  namespace: my-namespace1
spec:
  selector:
    app: my-service1
  ports:
    - protocol: TCP
      port: 8080
      targetPort: 8080
    - protocol: TCP
      port: 8081
      targetPort: 8081
---
apiVersion: v1
kind: Service
metadata:
  name: my-service2
  namespace: my-namespace2
spec:
  selector:
    app: my-service2
  ports:
    - name: foo
      protocol: TCP
      port: 8080
      targetPort: 8080
`,
  'service-port-name.yaml': `
apiVersion: v1
kind: Service
metadata:
  name: my-service
  namespace: my-namespace
spec:
  ports:
  - name: tcp-foo
    protocol: TCP
    port: 8080
---
apiVersion: v1
kind: Service
metadata:
  labels:
    gateway.istio.io/managed: istio.io-mesh-controller
  name: reviews-istio-waypoint
  namespace: ambient
spec:
  ports:
  - appProtocol: tcp
    name: status-port
    port: 15021
  - appProtocol: hbone
    name: mesh
    port: 15008
---
apiVersion: v1
kind: Service
metadata:
  labels:
    gateway.istio.io/managed: istio.io-gateway-controller
  name: gateway-istio
  namespace: istio-ingress
spec:
  ports:
  - appProtocol: tcp
    name: status-port
    port: 15021
  - appProtocol: http
    name: default
    port: 80
  type: LoadBalancer
`,
  'service-no-port-name-system-namespace.yaml': `
apiVersion: v1
kind: Service
metadata:
  name: my-service1
  namespace: kube-system
spec:
  ports:
    - port: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: my-service2
  namespace: istio-system
  labels:
    istio: xxx
spec:
  ports:
    - name: foo
      port: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: my-service3
  namespace: kube-public
spec:
  ports:
    - name: bar
      port: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: my-service4
  namespace: istio-system
  labels:
    release: istio
spec:
  ports:
    - name: foo
      port: 8080
`,
  'incorrect-port-name-external-name-service-type.yaml': `
apiVersion: v1
kind: Service
metadata:
  name: nginx
  namespace: nginx-ns
spec:
  externalName: nginx.example.com
  ports:
  - name: nginx
    port: 443
  type: ExternalName
---
apiVersion: v1
kind: Service
metadata:
  name: nginx-svc2
  namespace: nginx-ns2
spec:
  externalName: nginx.example.com
  ports:
  - port: 443
  type: ExternalName
---
apiVersion: v1
kind: Service
metadata:
  name: nginx-svc3
  namespace: nginx-ns3
spec:
  externalName: nginx.example.com
  ports:
  - name: tcp
    port: 443
  type: ExternalName
`,
  'correct-port-name-external-name-service-type.yaml': `
apiVersion: v1
kind: Service
metadata:
  name: nginx-svc4
  namespace: nginx-ns4
spec:
  externalName: nginx.example.com
  ports:
  - name: https
    port: 443
  type: ExternalName
`,
  'deployment-multi-service.yaml': `
apiVersion: v1
kind: Namespace
metadata:
  name: bookinfo
  labels:
    istio-injection: "enabled"
spec: {}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: multiple-svc-multiple-prot
  namespace: bookinfo
  labels:
    app: details
    version: v1
spec:
  selector:
    matchLabels:
      app: details
      version: v1
  template:
    metadata:
      labels:
        app: details
        version: v1
    spec:
      containers:
        - name: details
          image: registry.istio.io/release/examples-bookinfo-details-v1:1.15.0
          ports:
            - containerPort: 9080
---
apiVersion: v1
kind: Service
metadata:
  name: details-tcp-v1
  namespace: bookinfo
  labels:
    app: details
    service: details
spec:
  ports:
    - port: 9080
      name: tcp
      protocol: TCP
  selector:
    app: details
---
apiVersion: v1
kind: Service
metadata:
  name: details-http-v1
  namespace: bookinfo
  labels:
    app: details
    service: details
spec:
  ports:
    - port: 9080
      name: http
      protocol: HTTP
  selector:
    app: details
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: conflicting-ports
  namespace: bookinfo
  labels:
    app: conflicting-ports
    version: v1
spec:
  selector:
    matchLabels:
      app: conflicting-ports
      version: v1
  template:
    metadata:
      labels:
        app: conflicting-ports
        version: v1
    spec:
      containers:
        - name: details
          image: registry.istio.io/release/examples-bookinfo-details-v1:1.15.0
          ports:
            - containerPort: 9080
---
apiVersion: v1
kind: Service
metadata:
  name: conflicting-ports-1
  namespace: bookinfo
  labels:
    app: conflicting-ports
spec:
  ports:
    - port: 9080
      name: tcp
      targetPort: 9080
      protocol: TCP
  selector:
    app: conflicting-ports
---
apiVersion: v1
kind: Service
metadata:
  name: conflicting-ports-2
  namespace: bookinfo
  labels:
    app: conflicting-ports
spec:
  ports:
    - port: 9090
      name: http
      targetPort: 9080
      protocol: HTTP
  selector:
    app: conflicting-ports
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: reviews-v2
  namespace: bookinfo
  labels:
    app: reviews
    version: v2
spec:
  selector:
    matchLabels:
      app: reviews
      version: v2
  template:
    metadata:
      labels:
        app: reviews
        version: v2
    spec:
      containers:
        - name: reviews
          image: registry.istio.io/release/examples-bookinfo-reviews-v2:1.15.0
          ports:
            - containerPort: 9080
        - name: reviews-2
          image: registry.istio.io/release/examples-bookinfo-reviews-v2:1.15.0
          ports:
            - containerPort: 9090
---
apiVersion: v1
kind: Service
metadata:
  name: reviews-http-9080
  namespace: bookinfo
  labels:
    app: reviews
    service: reviews
spec:
  ports:
  - port: 9080
    name: http
    protocol: HTTP
  selector:
    app: reviews
---
apiVersion: v1
kind: Service
metadata:
  name: reviews-http-9090
  namespace: bookinfo
  labels:
    app: reviews
    service: reviews
spec:
  ports:
    - port: 9090
      name: http
      protocol: HTTP
  selector:
    app: reviews
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: no-services
  namespace: bookinfo
  labels:
    app: ratings
    version: v1
spec:
  selector:
    matchLabels:
      app: ratings
      version: v1
  template:
    metadata:
      labels:
        app: ratings
        version: v1
    spec:
      containers:
        - name: ratings
          image: registry.istio.io/release/examples-bookinfo-ratings-v1:1.15.0
          ports:
            - containerPort: 9080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: multiple-without-port
  namespace: bookinfo
  labels:
    app: productpage
    version: v1
spec:
  selector:
    matchLabels:
      app: productpage
      version: v1
  template:
    metadata:
      labels:
        app: productpage
        version: v1
    spec:
      containers:
        - name: productpage
          image: registry.istio.io/release/examples-bookinfo-productpage-v1:1.15.0
---
apiVersion: v1
kind: Service
metadata:
  name: productpage-tcp-v1
  namespace: bookinfo
  labels:
    app: productpage
    service: productpage
spec:
  ports:
    - port: 9080
      name: tcp
      protocol: TCP
  selector:
    app: productpage
---
apiVersion: v1
kind: Service
metadata:
  name: productpage-http-v1
  namespace: bookinfo
  labels:
    app: productpage
    service: productpage
spec:
  ports:
    - port: 9080
      name: http
      protocol: HTTP
  selector:
    app: productpage
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: deployment-out-mesh
  namespace: bookinfo
  labels:
    app: productpage
    version: v1
spec:
  selector:
    matchLabels:
      app: productpage
      version: v1
  template:
    metadata:
      annotations:
        sidecar.istio.io/inject: "false"
      labels:
        app: productpage
        version: v1
    spec:
      containers:
        - name: productpage
          image: registry.istio.io/release/examples-bookinfo-productpage-v1:1.15.0
---
apiVersion: v1
kind: Namespace
metadata:
  name: injection-disabled-ns
spec: {}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ann-enabled-ns-disabled
  namespace: injection-disabled-ns
  labels:
    app: ratings
    version: v1
spec:
  selector:
    matchLabels:
      app: ratings
      version: v1
  template:
    metadata:
      annotations:
        sidecar.istio.io/inject: "true"
      labels:
        app: ratings
        version: v1
    spec:
      containers:
        - name: ratings
          image: registry.istio.io/release/examples-bookinfo-ratings-v1:1.15.0
          ports:
            - containerPort: 9080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: test-waypoint
  namespace: bookinfo
  labels:
    gateway.istio.io/managed: istio.io-mesh-controller
spec:
  selector:
    matchLabels:
      gateway.networking.k8s.io/gateway-name: productpage
  template:
    metadata:
      labels:
        sidecar.istio.io/inject: "false"
        gateway.networking.k8s.io/gateway-name: productpage
    spec:
      containers:
        - name: istio-proxy
          image: registry.istio.io/release/proxyv2:1.20.0-dev1
`,
  'deployment-multi-service-different-ns.yaml': `
apiVersion: v1
kind: Namespace
metadata:
  name: bookinfo
  labels:
    istio-injection: "enabled"
spec: {}
---
apiVersion: v1
kind: Namespace
metadata:
  name: bookinfo2
  labels:
    istio-injection: "enabled"
spec: {}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: conflicting-ports
  namespace: bookinfo
  labels:
    app: conflicting-ports
    version: v1
spec:
  selector:
    matchLabels:
      app: conflicting-ports
      version: v1
  template:
    metadata:
      labels:
        app: conflicting-ports
        version: v1
    spec:
      containers:
        - name: details
          image: registry.istio.io/release/examples-bookinfo-details-v1:1.15.0
          ports:
            - containerPort: 9080
---
apiVersion: v1
kind: Service
metadata:
  name: conflicting-ports-1
  namespace: bookinfo
  labels:
    app: conflicting-ports
spec:
  ports:
    - port: 9080
      name: tcp
      targetPort: 9080
      protocol: TCP
  selector:
    app: conflicting-ports
---
apiVersion: v1
kind: Service
metadata:
  name: conflicting-ports-1
  namespace: bookinfo2
  labels:
    app: conflicting-ports
spec:
  ports:
    - port: 9090
      name: http
      targetPort: 9080
      protocol: HTTP
  selector:
    app: conflicting-ports
`,
  'deployment-service-no-selector.yaml': `
apiVersion: v1
kind: Service
metadata:
  name: svc-no-selector
  namespace: default
spec:
  ports:
    - name: https
      port: 443
      protocol: TCP
      targetPort: 6443
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: helloworld-v2
  namespace: default
  labels:
    app: helloworld
    version: v2
spec:
  selector:
    matchLabels:
      app: helloworld
      version: v2
  template:
    metadata:
      labels:
        app: helloworld
        version: v2
        sidecar.istio.io/inject: "true"
    spec:
      containers:
        - name: helloworld
          image: registry.istio.io/release/examples-helloworld-v2
          ports:
            - containerPort: 5000
`,
  'relative-envoy-filter-operation.yaml': `
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: test-relative-1, namespace: bookinfo}
spec:
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      listener:
        filterChain:
          filter: {name: envoy.filters.network.http_connection_manager}
    patch:
      operation: INSERT_BEFORE
      value: {name: envoy.lua}
  - applyTo: CLUSTER
    match: {context: SIDECAR_OUTBOUND}
    patch:
      operation: ADD
      value: {name: lua_cluster}
---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: test-relative-2, namespace: bookinfo}
spec:
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      listener:
        filterChain:
          filter: {name: envoy.filters.network.http_connection_manager}
    patch:
      operation: INSERT_AFTER
      value: {name: envoy.lua2}
  - applyTo: CLUSTER
    match: {context: SIDECAR_OUTBOUND}
    patch:
      operation: ADD
      value: {name: lua2_cluster}
---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: test-relative-3, namespace: bookinfo}
spec:
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      proxy: {proxyVersion: ^1\\.11.*}
      listener:
        filterChain:
          filter: {name: envoy.filters.network.http_connection_manager.InternalAddressConfig}
    patch:
      operation: INSERT_AFTER
      value: {name: envoy.lua1}
  - applyTo: CLUSTER
    match:
      context: SIDECAR_INBOUND
      listener:
        filterChain:
          filter: {name: envoy.filters.network.http_connection_manager.InternalAddressConfig}
    patch:
      operation: INSERT_AFTER
      value: {name: envoy.lua1}
`,
  'envoy-filter-filterchain.yaml': `
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: test-patch-filter-chain, namespace: egress}
spec:
  configPatches:
  - applyTo: FILTER_CHAIN
    match:
      listener:
        filterChain: {}
    patch:
      operation: MERGE
      value:
        typed_config: {'@type': x}
`,
  'absolute-envoy-filter-operation.yaml': `
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: test-reviews-lua-1, namespace: bookinfo}
spec:
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      listener:
        filterChain:
          filter: {name: envoy.filters.network.http_connection_manager}
    patch:
      operation: INSERT_FIRST
      value: {name: envoy.lua}
  - applyTo: CLUSTER
    match: {context: SIDECAR_OUTBOUND}
    patch:
      operation: ADD
      value: {name: lua_cluster}
---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: test-reviews-lua-2, namespace: bookinfo}
spec:
  priority: 10
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      listener:
        filterChain:
          filter: {name: envoy.filters.network.http_connection_manager}
    patch:
      operation: INSERT_BEFORE
      value: {name: envoy.lua}
  - applyTo: CLUSTER
    match: {context: SIDECAR_OUTBOUND}
    patch:
      operation: ADD
      value: {name: lua_cluster}
`,
  'envoy-filter-replace-operation.yaml': `
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: test-replace-1, namespace: bookinfo}
spec:
  priority: 10
  configPatches:
  - applyTo: CLUSTER
    match: {context: SIDECAR_OUTBOUND}
    patch:
      operation: REPLACE
      value: {name: lua_cluster}
---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: test-replace-2, namespace: bookinfo}
spec:
  priority: 10
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      listener:
        filterChain:
          filter: {name: envoy.filters.network.http_connection_manager}
    patch:
      operation: REPLACE
      value: {name: envoy.lua}
---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: test-replace-3, namespace: bookinfo}
spec:
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_OUTBOUND
      proxy: {proxyVersion: ^1\\.11.*}
      listener:
        filterChain:
          filter: {name: envoy.filters.network.http_connection_manager}
    patch:
      operation: REPLACE
      value: {name: envoy.lua}
  - applyTo: HTTP_FILTER
    match: {context: SIDECAR_INBOUND}
    patch:
      operation: REPLACE
      value: {name: envoy.lua}
  - applyTo: NETWORK_FILTER
    match: {context: SIDECAR_OUTBOUND}
    patch:
      operation: REPLACE
      value: {name: lua_cluster}
  - applyTo: VIRTUAL_HOST
    match: {context: SIDECAR_INBOUND}
    patch:
      operation: REPLACE
      value: {name: inbound|http|9080}
`,
  'envoy-filter-add-operation.yaml': `
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: test-auth-1, namespace: bookinfo}
spec:
  configPatches:
  - applyTo: HTTP_FILTER
    match: {context: SIDECAR_INBOUND}
    patch:
      operation: ADD
      value: {name: envoy.filters.http.ext_authz}
---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: test-auth-2, namespace: bookinfo}
spec:
  configPatches:
  - applyTo: ROUTE_CONFIGURATION
    match: {context: SIDECAR_INBOUND}
    patch:
      operation: ADD
      value: {name: envoy.filters.http.ext_authz}
---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: test-auth-3, namespace: bookinfo}
spec:
  configPatches:
  - applyTo: HTTP_ROUTE
    match: {context: SIDECAR_INBOUND}
    patch:
      operation: ADD
      value: {name: envoy.filters.http.ext_authz}
---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: test-auth-4, namespace: bookinfo}
spec:
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      proxy: {proxyVersion: ^1\\.11.*}
    patch:
      operation: ADD
      value: {name: envoy.filters.http.ext_authz}
---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: test-auth-5, namespace: bookinfo}
spec:
  configPatches:
  - applyTo: HTTP_FILTER
    match: {context: SIDECAR_INBOUND}
    patch:
      operation: ADD
      value: {name: envoy.filters.http.ext_authz}
`,
  'envoy-filter-remove-operation.yaml': `
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: test-remove-1, namespace: bookinfo}
spec:
  configPatches:
  - applyTo: NETWORK_FILTER
    match:
      context: GATEWAY
      listener:
        filterChain:
          filter: {name: envoy.filters.network.http_connection_manager.InternalAddressConfig}
    patch: {operation: REMOVE}
---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: test-remove-2, namespace: bookinfo}
spec:
  configPatches:
  - applyTo: ROUTE_CONFIGURATION
    match:
      context: GATEWAY
      listener:
        filterChain:
          filter: {name: envoy.filters.network.http_connection_manager.InternalAddressConfig}
    patch: {operation: REMOVE}
---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: test-remove-3, namespace: bookinfo}
spec:
  configPatches:
  - applyTo: HTTP_ROUTE
    match:
      context: GATEWAY
      listener:
        filterChain:
          filter: {name: envoy.filters.network.http_connection_manager.InternalAddressConfig}
    patch: {operation: REMOVE}
---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: test-remove-4, namespace: bookinfo}
spec:
  configPatches:
  - {applyTo: NETWORK_FILTER}
---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: test-remove-5, namespace: bookinfo}
spec:
  configPatches:
  - applyTo: NETWORK_FILTER
    patch: {operation: REMOVE}
`,
  'sidecar-default-selector.yaml': `
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: no-selector
  namespace: ns1
spec: {}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: has-selector
  namespace: ns1
spec:
  workloadSelector:
    labels:
      app: foo
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: has-conflict-1
  namespace: ns2
spec: {}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: has-conflict-2
  namespace: ns2
spec: {}
---
apiVersion: v1
kind: Namespace
metadata:
  name: ns1
---
apiVersion: v1
kind: Namespace
metadata:
  name: ns2
---
apiVersion: v1
kind: Pod
metadata:
  name: random-pod
  namespace: ns1
  labels:
    app: foo
spec:
  containers:
  - image: proxyv2
---
apiVersion: v1
kind: Namespace
metadata:
  name: ns-ambient
  labels:
    istio.io/dataplane-mode: ambient
---
apiVersion: v1
kind: Pod
metadata:
  name: random-pod-ambient
  namespace: ns-ambient
  labels:
    app: ambient
  annotations:
    ambient.istio.io/redirection: enabled
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: namespace-scoped
  namespace: ns-ambient
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: pod-scoped
  namespace: ns-ambient
spec:
  workloadSelector:
    labels:
      app: ambient
---
apiVersion: v1
kind: Namespace
metadata:
  name: ns-not-ambient
  labels:
    istio.io/dataplane-mode: ambient
    istio-injection: enabled
---
apiVersion: v1
kind: Namespace
metadata:
  name: ns-not-ambient-rev
  labels:
    istio.io/dataplane-mode: ambient
    istio.io/rev: canary
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: namespace-not-ambient
  namespace: ns-not-ambient
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: namespace-not-ambient
  namespace: ns-not-ambient-rev
`,
  'sidecar-selector.yaml': `
apiVersion: v1
kind: Pod
metadata:
  labels:
    app: productpage
  name: productpage
  namespace: default
---
apiVersion: v1
kind: Pod
metadata:
  labels:
    app: productpage
  name: productpage-other
  namespace: other
---
apiVersion: v1
kind: Pod
metadata:
  labels:
    app: reviews
  name: reviews
  namespace: default
---
apiVersion: v1
kind: Pod
metadata:
  labels:
    app: ratings-app
    myapp: ratings-myapp
  name: ratings
  namespace: default
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: maps-correctly-no-conflicts
  namespace: default
spec:
  workloadSelector:
    labels:
      app: productpage
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: maps-to-nonexistent
  namespace: default
spec:
  workloadSelector:
    labels:
      app: bogus
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: maps-to-different-ns
  namespace: other
spec:
  workloadSelector:
    labels:
      app: reviews
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: dupe-1
  namespace: default
spec:
  workloadSelector:
    labels:
      app: reviews
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: dupe-2
  namespace: default
spec:
  workloadSelector:
    labels:
      app: reviews
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: overlap-1
  namespace: default
spec:
  workloadSelector:
    labels:
      app: ratings-app
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: overlap-2
  namespace: default
spec:
  workloadSelector:
    labels:
      myapp: ratings-myapp
`,
  'pod-sec-uid.yaml': `
apiVersion: v1
kind: Pod
metadata:
  name: pod-sec-uid
spec:
  securityContext:
    runAsUser: 1337
  containers:
  - name: helloworld
`,
  'pod-con-sec-uid.yaml': `
apiVersion: v1
kind: Pod
metadata:
  name: con-sec-uid
spec:
  containers:
  - name: helloworld
    securityContext:
      runAsUser: 1337
`,
  'deployment-pod-sec-uid.yaml': `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: deploy-pod-sec-uid
spec:
  template:
    spec:
      securityContext:
        runAsUser: 1337
      containers:
      - name: helloworld
`,
  'deployment-con-sec-uid.yaml': `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: deploy-con-sec-uid
spec:
  template:
    spec:
      securityContext:
        runAsUser: 1337
      containers:
      - name: helloworld
        securityContext:
          runAsUser: 1337
`,
  'k8sgateway-selector.yaml': `
apiVersion: v1
kind: Pod
metadata:
  labels:
    gateway.networking.k8s.io/gateway-name: bookinfo-gateway
  name: bookinfo-gateway-istio-6ff4cf9645-xbqmc
  namespace: default
spec:
  containers:
  - image: proxyv2:1.3.1
    name: istio-proxy
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata:
  namespace: default
  name: ra-ineffective
spec:
  selector:
    matchLabels:
      gateway.networking.k8s.io/gateway-name: bookinfo-gateway
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  namespace: default
  name: ap-ineffective
spec:
  selector:
    matchLabels:
      gateway.networking.k8s.io/gateway-name: bookinfo-gateway
---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata:
  name: wasmplugin-ineffective
  namespace: default
spec:
  selector:
    matchLabels:
      gateway.networking.k8s.io/gateway-name: bookinfo-gateway
  url: google.com
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata:
  name: telemetry-ineffective
  namespace: default
spec:
  selector:
    matchLabels:
      gateway.networking.k8s.io/gateway-name: bookinfo-gateway
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata:
  name: telemetry-effective
  namespace: default
spec:
  selector:
    matchLabels:
      gateway.networking.k8s.io/gateway-name: bookinfo-gateway
  targetRef:
    group: gateway.networking.k8s.io
    kind: Gateway
    name: bookinfo-gateway
`,
  'telemetry-lightstep.yaml': `
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata:
  name: mesh-default
  namespace: istio-system
spec:
  tracing:
    - providers:
        - name: lightstep
`,
  'telemetry-lightstep-meshconfig.yaml': `
extensionProviders:
  - name: lightstep
    lightstep:
      service: lightstep.monitoring.svc.cluster.local
      port: 443
      accessToken: "fake-token"
`,
};

let dir: string | undefined;

/** Write an inline input to a temporary directory (once) and return its path. */
export function inlineFile(name: string): string {
  const text = INLINE_TESTDATA[name];
  if (text === undefined) throw new Error(`no inline testdata ${name}`);
  dir ??= mkdtempSync(path.join(tmpdir(), 'meshlet-analyzers-'));
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}
