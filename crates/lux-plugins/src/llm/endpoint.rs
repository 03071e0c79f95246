//! One server of an endpoint pool: its recipe entry ([`EndpointConfig`]), the rules that take
//! it out of service and bring it back ([`HealthPolicy`]), its live health record
//! ([`Health`], used by the [`Balance`](super::Balance) layer) and what it did
//! ([`EndpointReport`]).

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// One server of a pool, as written in a recipe's `endpoints` list:
///
/// ```toml
/// endpoints = [
///   { base_url = "http://gpu-a:8000/v1", weight = 2, concurrency = 32 },
///   { base_url = "http://gpu-b:8000/v1" },
/// ]
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointConfig {
    /// The API root, up to and including `/v1`.
    pub base_url: String,
    /// The name this server knows the model by, when it differs from the table's `model`
    /// (vLLM's `meta-llama/Llama-3.1-8B-Instruct` beside Ollama's `llama3.1:8b`). Answers are
    /// cached under the table's `model`, so only list servers of the same weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Share of the load relative to the others: an endpoint of weight 2 is given requests
    /// until it has twice the in-flight requests of one of weight 1. Default 1.
    #[serde(default = "one")]
    pub weight: f64,
    /// Requests in flight at once on this server; default the table's `concurrency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
}

fn one() -> f64 {
    1.0
}

impl EndpointConfig {
    /// An endpoint at `base_url` of weight 1 with the table's model and concurrency.
    pub fn new(base_url: impl Into<String>) -> EndpointConfig {
        EndpointConfig {
            base_url: base_url.into(),
            model: None,
            weight: 1.0,
            concurrency: None,
        }
    }
}

/// When an endpoint of a pool is taken out of service and when it is tried again. In a
/// recipe: `health = { failures_to_eject = 3, eject_secs = 5 }`.
///
/// A failure is a connection error, a timeout, or a 5xx/408 status: something that says the
/// server, not the request, is in trouble. A 429 is not a failure: it cools that endpoint for
/// the `Retry-After` it sends (else `cool_secs`) and the request goes to another one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthPolicy {
    /// Consecutive failures that take an endpoint out. Default 3.
    pub failures_to_eject: u32,
    /// How long the first ejection lasts, in seconds; after it one request probes the
    /// endpoint, and every failed probe doubles the time out. Default 5.
    pub eject_secs: f64,
    /// The longest time out, in seconds. Default 300.
    pub max_eject_secs: f64,
    /// How long a 429 without `Retry-After` cools an endpoint, in seconds. Default 1.
    pub cool_secs: f64,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        HealthPolicy {
            failures_to_eject: 3,
            eject_secs: 5.0,
            max_eject_secs: 300.0,
            cool_secs: 1.0,
        }
    }
}

impl HealthPolicy {
    /// Checks ranges; the error names the key (`health.eject_secs`) and what is wrong.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if self.failures_to_eject == 0 {
            return Err((
                "health.failures_to_eject".into(),
                "must be at least 1".into(),
            ));
        }
        for (key, v) in [
            ("health.eject_secs", self.eject_secs),
            ("health.max_eject_secs", self.max_eject_secs),
            ("health.cool_secs", self.cool_secs),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err((
                    key.into(),
                    format!("must be a positive number of seconds, not {v}"),
                ));
            }
        }
        if self.max_eject_secs < self.eject_secs {
            return Err((
                "health.max_eject_secs".into(),
                format!(
                    "must be at least eject_secs ({}), not {}",
                    self.eject_secs, self.max_eject_secs
                ),
            ));
        }
        Ok(())
    }

    fn first_ejection(&self) -> Duration {
        Duration::from_secs_f64(self.eject_secs)
    }

    fn longest_ejection(&self) -> Duration {
        Duration::from_secs_f64(self.max_eject_secs)
    }
}

/// Whether an endpoint can take a request now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Availability {
    /// Yes; `probe`: it is out of service and this request is the one that tries it again.
    Ready {
        /// The request would be the probe.
        probe: bool,
    },
    /// In service but at its concurrency, or its probe is in flight: a slot frees soon.
    Busy,
    /// Out of service (ejected or cooling after a 429) until then.
    OutUntil(Instant),
}

/// The live record of one endpoint: load, health and counts. Kept by the balancer under one
/// lock with the other endpoints', so that a choice sees them all at one instant.
#[derive(Debug, Clone)]
pub(super) struct Health {
    /// Requests in flight on it now.
    pub in_flight: usize,
    /// Failures since its last success.
    consecutive_failures: u32,
    /// Out of service (ejected, or cooling after a 429) until then.
    out_until: Option<Instant>,
    /// Taken out for failures: only a probe's success brings it back.
    ejected: bool,
    /// Its probe is in flight (while ejected, one request at a time).
    probing: bool,
    /// The length of its next ejection.
    next_ejection: Duration,
    /// Counts for the report.
    pub counts: EndpointCounts,
}

/// What one endpoint did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointCounts {
    /// Requests sent to it.
    pub requests: u64,
    /// Of which answered.
    pub succeeded: u64,
    /// Of which failed with a connection error, a timeout or a 5xx/408.
    pub failures: u64,
    /// Of which refused with 429.
    pub rate_limited: u64,
    /// Times it was taken out of service.
    pub ejections: u64,
    /// Requests that failed on it and were sent to another endpoint at once.
    pub moved_elsewhere: u64,
}

impl Health {
    pub(super) fn new(policy: &HealthPolicy) -> Health {
        Health {
            in_flight: 0,
            consecutive_failures: 0,
            out_until: None,
            ejected: false,
            probing: false,
            next_ejection: policy.first_ejection(),
            counts: EndpointCounts::default(),
        }
    }

    /// Whether it can take a request at `now`, with at most `limit` in flight.
    pub(super) fn availability(&self, now: Instant, limit: usize) -> Availability {
        if let Some(until) = self.out_until
            && now < until
        {
            return Availability::OutUntil(until);
        }
        if self.ejected {
            // Out for failures and the time is up: one request at a time tries it.
            return if self.probing || self.in_flight >= limit {
                Availability::Busy
            } else {
                Availability::Ready { probe: true }
            };
        }
        if self.in_flight >= limit {
            Availability::Busy
        } else {
            Availability::Ready { probe: false }
        }
    }

    /// A request starts on it.
    pub(super) fn start(&mut self, probe: bool) {
        self.in_flight += 1;
        self.counts.requests += 1;
        if probe {
            self.probing = true;
        }
    }

    /// A request ended; `probe`: it was the probe.
    fn end(&mut self, probe: bool) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if probe {
            self.probing = false;
        }
    }

    /// A request ended without saying anything about the endpoint's health (the request was
    /// refused as malformed, the budget is spent, or the caller gave up waiting).
    pub(super) fn finished_neutral(&mut self, probe: bool) {
        self.end(probe);
    }

    /// A request was answered. Returns whether this brought the endpoint back into service.
    pub(super) fn succeeded(&mut self, probe: bool, policy: &HealthPolicy) -> bool {
        self.end(probe);
        self.counts.succeeded += 1;
        self.consecutive_failures = 0;
        if probe && self.ejected {
            self.ejected = false;
            self.out_until = None;
            self.next_ejection = policy.first_ejection();
            return true;
        }
        false
    }

    /// A request failed for the endpoint's sake. Returns how long it is now out of service,
    /// if this failure took it out.
    pub(super) fn failed(
        &mut self,
        probe: bool,
        now: Instant,
        policy: &HealthPolicy,
    ) -> Option<Duration> {
        self.end(probe);
        self.counts.failures += 1;
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        let eject = if self.ejected {
            // Only the probe decides about an endpoint already out; the failures of requests
            // that were in flight when it went out change nothing.
            probe
        } else {
            self.consecutive_failures >= policy.failures_to_eject
        };
        if !eject {
            return None;
        }
        let out = self.next_ejection;
        self.ejected = true;
        self.out_until = Some(now + out);
        self.next_ejection = (out * 2).min(policy.longest_ejection());
        self.counts.ejections += 1;
        Some(out)
    }

    /// The endpoint answered 429: it cools for `wait` (its `Retry-After`) or the policy's
    /// `cool_secs`, without counting as a failure. Returns the wait.
    pub(super) fn rate_limited(
        &mut self,
        probe: bool,
        wait: Option<Duration>,
        now: Instant,
        policy: &HealthPolicy,
    ) -> Duration {
        self.end(probe);
        self.counts.rate_limited += 1;
        let wait = wait.unwrap_or_else(|| Duration::from_secs_f64(policy.cool_secs));
        let until = now + wait;
        self.out_until = Some(self.out_until.map_or(until, |u| u.max(until)));
        wait
    }

    /// `healthy`, `busy`, `ejected` or `cooling`, for the report.
    pub(super) fn state(&self, now: Instant) -> &'static str {
        match self.out_until {
            Some(until) if now < until && self.ejected => "ejected",
            Some(until) if now < until => "cooling",
            _ if self.ejected => "probing",
            _ => "healthy",
        }
    }
}

/// One endpoint's line in a [`UsageReport`](super::UsageReport): where the requests went.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EndpointReport {
    /// The server.
    pub base_url: String,
    /// The model name sent to it.
    pub model: String,
    /// Its weight.
    pub weight: f64,
    /// Its concurrency bound.
    pub concurrency: usize,
    /// What it did.
    #[serde(flatten)]
    pub counts: EndpointCounts,
    /// Requests in flight on it now.
    pub in_flight: usize,
    /// `healthy`, `ejected` (out for failures), `probing` (out, being tried again) or
    /// `cooling` (after a 429).
    pub state: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> HealthPolicy {
        HealthPolicy {
            failures_to_eject: 2,
            eject_secs: 1.0,
            max_eject_secs: 3.0,
            cool_secs: 0.5,
        }
    }

    #[test]
    fn consecutive_failures_eject_then_one_probe_brings_it_back() {
        let p = policy();
        let t0 = Instant::now();
        let mut h = Health::new(&p);
        h.start(false);
        assert_eq!(h.failed(false, t0, &p), None, "one failure is not enough");
        h.start(false);
        assert_eq!(h.failed(false, t0, &p), Some(Duration::from_secs(1)));
        assert_eq!(
            h.availability(t0, 4),
            Availability::OutUntil(t0 + Duration::from_secs(1))
        );
        let later = t0 + Duration::from_millis(1001);
        assert_eq!(
            h.availability(later, 4),
            Availability::Ready { probe: true }
        );
        h.start(true);
        assert_eq!(
            h.availability(later, 4),
            Availability::Busy,
            "one probe only"
        );
        // The probe fails: out again, twice as long, then capped.
        assert_eq!(h.failed(true, later, &p), Some(Duration::from_secs(2)));
        let later = later + Duration::from_secs(2);
        h.start(true);
        assert_eq!(h.failed(true, later, &p), Some(Duration::from_secs(3)));
        let later = later + Duration::from_secs(3);
        h.start(true);
        assert!(h.succeeded(true, &p), "a probe's success brings it back");
        assert_eq!(
            h.availability(later, 4),
            Availability::Ready { probe: false }
        );
        assert_eq!(h.counts.ejections, 3);
        assert_eq!(h.counts.requests, 5);
        // Back in service, the next ejection is the first one's length again.
        h.start(false);
        h.failed(false, later, &p);
        h.start(false);
        assert_eq!(h.failed(false, later, &p), Some(Duration::from_secs(1)));
    }

    #[test]
    fn a_success_in_between_resets_the_count() {
        let p = policy();
        let t0 = Instant::now();
        let mut h = Health::new(&p);
        for _ in 0..5 {
            h.start(false);
            assert_eq!(h.failed(false, t0, &p), None);
            h.start(false);
            assert!(!h.succeeded(false, &p));
        }
        assert_eq!(h.counts.ejections, 0);
    }

    #[test]
    fn late_failures_of_an_ejected_endpoint_do_not_extend_it() {
        let p = policy();
        let t0 = Instant::now();
        let mut h = Health::new(&p);
        for _ in 0..4 {
            h.start(false);
        }
        h.failed(false, t0, &p);
        assert!(h.failed(false, t0, &p).is_some());
        assert_eq!(h.failed(false, t0, &p), None);
        assert_eq!(h.failed(false, t0, &p), None);
        assert_eq!(h.counts.ejections, 1);
        assert_eq!(h.in_flight, 0);
    }

    #[test]
    fn a_429_cools_without_counting_as_a_failure() {
        let p = policy();
        let t0 = Instant::now();
        let mut h = Health::new(&p);
        h.start(false);
        h.rate_limited(false, Some(Duration::from_secs(2)), t0, &p);
        assert_eq!(h.state(t0), "cooling");
        assert_eq!(
            h.availability(t0 + Duration::from_secs(1), 4),
            Availability::OutUntil(t0 + Duration::from_secs(2))
        );
        assert_eq!(
            h.availability(t0 + Duration::from_secs(2), 4),
            Availability::Ready { probe: false }
        );
        h.start(false);
        assert_eq!(
            h.rate_limited(false, None, t0, &p),
            Duration::from_millis(500)
        );
        assert_eq!(h.counts.failures, 0);
        assert_eq!(h.counts.rate_limited, 2);
    }

    #[test]
    fn the_concurrency_bound_makes_it_busy() {
        let p = policy();
        let mut h = Health::new(&p);
        h.start(false);
        h.start(false);
        assert_eq!(h.availability(Instant::now(), 2), Availability::Busy);
        h.finished_neutral(false);
        assert_eq!(
            h.availability(Instant::now(), 2),
            Availability::Ready { probe: false }
        );
    }

    #[test]
    fn bad_policies_name_the_key() {
        let bad = |p: HealthPolicy| p.validate().unwrap_err().0;
        assert_eq!(
            bad(HealthPolicy {
                failures_to_eject: 0,
                ..policy()
            }),
            "health.failures_to_eject"
        );
        assert_eq!(
            bad(HealthPolicy {
                eject_secs: f64::NAN,
                ..policy()
            }),
            "health.eject_secs"
        );
        assert_eq!(
            bad(HealthPolicy {
                max_eject_secs: 0.5,
                ..policy()
            }),
            "health.max_eject_secs"
        );
    }
}
