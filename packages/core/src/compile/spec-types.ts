import type { JWTRule } from '../config/schema/request-authentication.js';
import type { Rule } from '../config/schema/authorization-policy.js';

/**
 * The parts of Istio's resource shapes (istio/api protos, JSON names) that the
 * compiler reads. Every field is optional and read-only so the schema types in
 * config/schema/*.ts are assignable to them; the compiler never mutates input.
 */

export interface StringMatchIn {
  readonly exact?: string | undefined;
  readonly prefix?: string | undefined;
  readonly regex?: string | undefined;
}

export interface PercentIn {
  readonly value?: number | undefined;
}

export interface PortSelectorIn {
  readonly number?: number | undefined;
}

export interface DestinationIn {
  readonly host: string;
  readonly subset?: string | undefined;
  readonly port?: PortSelectorIn | undefined;
}

export interface HeaderOperationsIn {
  readonly set?: Readonly<Record<string, string>> | undefined;
  readonly add?: Readonly<Record<string, string>> | undefined;
  readonly remove?: readonly string[] | undefined;
}

export interface HeadersIn {
  readonly request?: HeaderOperationsIn | undefined;
  readonly response?: HeaderOperationsIn | undefined;
}

export interface HTTPMatchRequestIn {
  readonly name?: string | undefined;
  readonly uri?: StringMatchIn | undefined;
  readonly scheme?: StringMatchIn | undefined;
  readonly method?: StringMatchIn | undefined;
  readonly authority?: StringMatchIn | undefined;
  readonly headers?: Readonly<Record<string, StringMatchIn>> | undefined;
  readonly port?: number | undefined;
  readonly sourceLabels?: Readonly<Record<string, string>> | undefined;
  readonly gateways?: readonly string[] | undefined;
  readonly queryParams?: Readonly<Record<string, StringMatchIn>> | undefined;
  readonly ignoreUriCase?: boolean | undefined;
  readonly withoutHeaders?: Readonly<Record<string, StringMatchIn>> | undefined;
  readonly sourceNamespace?: string | undefined;
  readonly statPrefix?: string | undefined;
}

export interface HTTPRouteDestinationIn {
  readonly destination: DestinationIn;
  readonly weight?: number | undefined;
  readonly headers?: HeadersIn | undefined;
}

export interface HTTPRedirectIn {
  readonly uri?: string | undefined;
  readonly authority?: string | undefined;
  readonly port?: number | undefined;
  readonly derivePort?: string | undefined;
  readonly scheme?: string | undefined;
  readonly redirectCode?: number | undefined;
  readonly prefixRewrite?: string | undefined;
}

export interface HTTPDirectResponseIn {
  readonly status: number;
  readonly body?: { readonly string?: string | undefined; readonly bytes?: string | undefined } | undefined;
}

export interface HTTPRewriteIn {
  readonly uri?: string | undefined;
  readonly authority?: string | undefined;
  readonly uriRegexRewrite?:
    { readonly match?: string | undefined; readonly rewrite?: string | undefined } | undefined;
}

export interface HTTPRetryIn {
  readonly attempts?: number | undefined;
  readonly perTryTimeout?: string | undefined;
  readonly retryOn?: string | undefined;
  readonly retryRemoteLocalities?: boolean | undefined;
  readonly retryIgnorePreviousHosts?: boolean | undefined;
  readonly backoff?: string | undefined;
}

export interface HTTPFaultInjectionIn {
  readonly delay?:
    | {
        readonly fixedDelay?: string | undefined;
        readonly exponentialDelay?: string | undefined;
        readonly percentage?: PercentIn | undefined;
        readonly percent?: number | undefined;
      }
    | undefined;
  readonly abort?:
    | {
        readonly httpStatus?: number | undefined;
        readonly grpcStatus?: string | undefined;
        readonly http2Error?: string | undefined;
        readonly percentage?: PercentIn | undefined;
      }
    | undefined;
}

export interface HTTPMirrorPolicyIn {
  readonly destination: DestinationIn;
  readonly percentage?: PercentIn | undefined;
}

export interface CorsPolicyIn {
  readonly allowOrigin?: readonly string[] | undefined;
  readonly allowOrigins?: readonly StringMatchIn[] | undefined;
  readonly allowMethods?: readonly string[] | undefined;
  readonly allowHeaders?: readonly string[] | undefined;
  readonly exposeHeaders?: readonly string[] | undefined;
  readonly maxAge?: string | undefined;
  readonly allowCredentials?: boolean | undefined;
  readonly unmatchedPreflights?: string | undefined;
}

export interface HTTPRouteIn {
  readonly name?: string | undefined;
  readonly match?: readonly HTTPMatchRequestIn[] | undefined;
  readonly route?: readonly HTTPRouteDestinationIn[] | undefined;
  readonly redirect?: HTTPRedirectIn | undefined;
  readonly directResponse?: HTTPDirectResponseIn | undefined;
  readonly delegate?:
    { readonly name?: string | undefined; readonly namespace?: string | undefined } | undefined;
  readonly rewrite?: HTTPRewriteIn | undefined;
  readonly timeout?: string | undefined;
  readonly retries?: HTTPRetryIn | undefined;
  readonly fault?: HTTPFaultInjectionIn | undefined;
  readonly mirror?: DestinationIn | undefined;
  readonly mirrors?: readonly HTTPMirrorPolicyIn[] | undefined;
  readonly mirrorPercentage?: PercentIn | undefined;
  readonly mirrorPercent?: number | undefined;
  readonly mirror_percent?: number | undefined;
  readonly corsPolicy?: CorsPolicyIn | undefined;
  readonly headers?: HeadersIn | undefined;
}

export interface VirtualServiceIn {
  readonly hosts?: readonly string[] | undefined;
  readonly gateways?: readonly string[] | undefined;
  readonly http?: readonly HTTPRouteIn[] | undefined;
  readonly exportTo?: readonly string[] | undefined;
}

export interface TrafficPolicyIn {
  readonly loadBalancer?: Readonly<Record<string, unknown>> | undefined;
  readonly connectionPool?: Readonly<Record<string, unknown>> | undefined;
  readonly outlierDetection?: Readonly<Record<string, unknown>> | undefined;
  readonly tls?: Readonly<Record<string, unknown>> | undefined;
  readonly portLevelSettings?: readonly PortTrafficPolicyIn[] | undefined;
  readonly tunnel?: Readonly<Record<string, unknown>> | undefined;
  readonly proxyProtocol?: Readonly<Record<string, unknown>> | undefined;
  readonly retryBudget?: Readonly<Record<string, unknown>> | undefined;
}

export interface PortTrafficPolicyIn {
  readonly port?: PortSelectorIn | undefined;
  readonly loadBalancer?: Readonly<Record<string, unknown>> | undefined;
  readonly connectionPool?: Readonly<Record<string, unknown>> | undefined;
  readonly outlierDetection?: Readonly<Record<string, unknown>> | undefined;
  readonly tls?: Readonly<Record<string, unknown>> | undefined;
}

export interface SubsetIn {
  readonly name: string;
  readonly labels?: Readonly<Record<string, string>> | undefined;
  readonly trafficPolicy?: TrafficPolicyIn | undefined;
}

export interface DestinationRuleIn {
  readonly host: string;
  readonly trafficPolicy?: TrafficPolicyIn | undefined;
  readonly subsets?: readonly SubsetIn[] | undefined;
  readonly exportTo?: readonly string[] | undefined;
  readonly workloadSelector?:
    { readonly matchLabels?: Readonly<Record<string, string>> | undefined } | undefined;
}

export interface ServicePortIn {
  readonly number: number;
  readonly protocol?: string | undefined;
  readonly name?: string | undefined;
  readonly targetPort?: number | undefined;
}

export interface WorkloadEntryIn {
  readonly address?: string | undefined;
  readonly ports?: Readonly<Record<string, number>> | undefined;
  readonly labels?: Readonly<Record<string, string>> | undefined;
  readonly network?: string | undefined;
  readonly locality?: string | undefined;
  readonly weight?: number | undefined;
  readonly serviceAccount?: string | undefined;
}

export interface ServiceEntryIn {
  readonly hosts: readonly string[];
  readonly addresses?: readonly string[] | undefined;
  readonly ports?: readonly ServicePortIn[] | undefined;
  readonly location?: string | undefined;
  readonly resolution?: string | undefined;
  readonly endpoints?: readonly WorkloadEntryIn[] | undefined;
  readonly workloadSelector?: { readonly labels?: Readonly<Record<string, string>> | undefined } | undefined;
  readonly exportTo?: readonly string[] | undefined;
  readonly subjectAltNames?: readonly string[] | undefined;
}

export interface SelectorIn {
  readonly matchLabels?: Readonly<Record<string, string>> | undefined;
}

export interface PolicyTargetRefIn {
  readonly group?: string | undefined;
  readonly kind?: string | undefined;
  readonly name?: string | undefined;
  readonly namespace?: string | undefined;
}

export interface PeerAuthenticationIn {
  readonly selector?: SelectorIn | undefined;
  readonly mtls?: { readonly mode?: string | undefined } | undefined;
  readonly portLevelMtls?: Readonly<Record<string, { readonly mode?: string | undefined }>> | undefined;
}

export interface RequestAuthenticationIn {
  readonly selector?: SelectorIn | undefined;
  readonly targetRef?: PolicyTargetRefIn | undefined;
  readonly targetRefs?: readonly PolicyTargetRefIn[] | undefined;
  readonly jwtRules?: readonly JWTRule[] | undefined;
}

export interface AuthorizationPolicyIn {
  readonly selector?: SelectorIn | undefined;
  readonly targetRef?: PolicyTargetRefIn | undefined;
  readonly targetRefs?: readonly PolicyTargetRefIn[] | undefined;
  readonly action?: string | undefined;
  readonly provider?: { readonly name?: string | undefined } | undefined;
  readonly rules?: readonly Rule[] | undefined;
}

export interface EnvoyFilterIn {
  readonly workloadSelector?: { readonly labels?: Readonly<Record<string, string>> | undefined } | undefined;
  readonly targetRefs?: readonly PolicyTargetRefIn[] | undefined;
  readonly priority?: number | undefined;
}
