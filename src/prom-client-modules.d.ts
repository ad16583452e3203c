/**
 * Types for the parts of prom-client tack imports one by one (src/metrics.ts): its index also
 * loads the push-gateway client (http, https, zlib) and the cluster aggregator, which tack never
 * uses and which cost start-up time. Each module exports what the index re-exports.
 */
declare module "prom-client/lib/registry" {
  export { Registry as default } from "prom-client";
}
declare module "prom-client/lib/counter" {
  export { Counter as default } from "prom-client";
}
declare module "prom-client/lib/gauge" {
  export { Gauge as default } from "prom-client";
}
declare module "prom-client/lib/histogram" {
  export { Histogram as default } from "prom-client";
}
declare module "prom-client/lib/defaultMetrics" {
  export { collectDefaultMetrics as default } from "prom-client";
}
