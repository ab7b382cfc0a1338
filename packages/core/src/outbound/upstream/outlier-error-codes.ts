/**
 * The status Envoy's router reports to outlier detection for a response. With
 * `outlierDetectionHttpErrorCodes` Istio gives the cluster an outlier error matcher on
 * `:status` (cluster_traffic_policy.go applyOutlierDetectionErrorCodes), and Envoy (#39947;
 * test/common/router/router_outlier_detection_test.cc) reports a matching 5xx with its own
 * code (502/503/504 stay gateway errors), any other matching code as 500, and a response
 * that does not match as a 200 success, even a 5xx. Without a list the status is kept.
 */
export function outlierStatus(status: number, errorCodes: readonly number[] | null): number {
  if (errorCodes === null) return status;
  if (!errorCodes.includes(status)) return 200;
  return status >= 500 && status <= 599 ? status : 500;
}
