//! Prometheus metrics: one registry per server instance (so tests can run many side by side),
//! HTTP request counts and latencies by route template, and the product's own counters that later
//! modules register here. The HTTP collectors are updated by [`crate::edge`].
//!
//! Every label value comes from a closed set, never from the request as sent: each distinct value
//! is a new time series kept for the life of the process, so a label copied from input (a method
//! of 4 000 random letters, a raw path with an id) lets anyone grow `/metrics` and the server's
//! memory without bound. HTTP labels go through [`method_label`], [`route_label`] and the status
//! code; the areas' own labels are `&'static str` names of providers, operations and outcomes.

use axum::extract::MatchedPath;
use axum::http::Method;
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};

/// The `route` label of a request no route matched (the app's pages, unknown paths).
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The `method` label of a request: one of the eight methods of RFC 9110 or PATCH, else `OTHER`.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

/// The `route` label of a request: the template of the route that matched (`/v1/workouts/{id}`),
/// else [`UNMATCHED_ROUTE`]; never the raw path.
pub fn route_label(matched: Option<&MatchedPath>) -> &str {
    matched.map_or(UNMATCHED_ROUTE, MatchedPath::as_str)
}

/// The registry and the collectors the server updates.
pub struct Metrics {
    /// Everything registered here is rendered by `/metrics`.
    pub registry: Registry,
    /// `coach_http_requests_total{method,route,status}` (labels: [`method_label`], [`route_label`],
    /// the status code).
    pub http_requests: IntCounterVec,
    /// `coach_http_request_duration_seconds{method,route}`.
    pub http_duration: HistogramVec,
}

impl Metrics {
    /// A fresh registry with the HTTP collectors.
    pub fn new() -> Self {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new("coach_http_requests_total", "HTTP requests answered"),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let http_duration = HistogramVec::new(
            HistogramOpts::new("coach_http_request_duration_seconds", "HTTP request latency")
                .buckets(vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
            &["method", "route"],
        )
        .expect("valid metric");
        registry.register(Box::new(http_requests.clone())).expect("unique metric");
        registry.register(Box::new(http_duration.clone())).expect("unique metric");
        Self { registry, http_requests, http_duration }
    }

    /// The Prometheus text exposition of every registered metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buf).expect("text encoding cannot fail");
        String::from_utf8(buf).expect("prometheus text is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
