//! [`Balance`]: spreads requests over several endpoints serving the same model, sending each
//! to the least-loaded healthy one and moving it to another when its endpoint fails.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use lux_core::{ChatRequest, ChatResponse};
use tokio::sync::Notify;

use super::endpoint::{Availability, Health};
use super::{ChatService, EndpointReport, HealthPolicy, HttpError};
use crate::LlmError;

/// No endpoint of the pool can take a request now: every one is out of service (ejected
/// after failures, or cooling after a 429). Transient: the retry layer waits `wait`, until
/// the first comes back, and sends again.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "no endpoint of {endpoints} can take a request for {:.1} s ({states})",
    wait.as_secs_f64()
)]
pub struct NoEndpointAvailable {
    /// The pool's size.
    pub endpoints: usize,
    /// Until the first one is back.
    pub wait: Duration,
    /// Each endpoint and its state, `http://a/v1 ejected, http://b/v1 cooling`.
    pub states: String,
}

/// One server of a [`Balance`]: its service (usually `Budget → Timeout → HttpTransport`
/// for that server), its weight and its concurrency bound.
#[derive(Debug)]
pub struct Member<S> {
    base_url: String,
    model: String,
    weight: f64,
    limit: usize,
    service: S,
}

impl<S> Member<S> {
    /// `service` reaches `base_url`, where the model is called `model`; it takes a share of
    /// the load proportional to `weight` (> 0) and at most `limit` (≥ 1) requests at once.
    pub fn new(
        base_url: impl Into<String>,
        model: impl Into<String>,
        weight: f64,
        limit: usize,
        service: S,
    ) -> Member<S> {
        Member {
            base_url: base_url.into(),
            model: model.into(),
            weight: if weight.is_finite() && weight > 0.0 {
                weight
            } else {
                1.0
            },
            limit: limit.max(1),
            service,
        }
    }

    /// The server.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.service
    }
}

/// The shared, live state of a pool: every endpoint's `Health` under one lock, and a
/// signal for requests waiting for a slot. Readable at any time for reports.
#[derive(Debug)]
pub struct PoolState {
    names: Vec<(String, String, f64, usize)>,
    health: Mutex<Vec<Health>>,
    changed: Notify,
}

impl PoolState {
    fn lock(&self) -> MutexGuard<'_, Vec<Health>> {
        self.health.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One line per endpoint: requests, failures, ejections, requests moved elsewhere.
    pub fn report(&self) -> Vec<EndpointReport> {
        let now = Instant::now();
        let health = self.lock();
        self.names
            .iter()
            .zip(health.iter())
            .map(|((url, model, weight, limit), h)| EndpointReport {
                base_url: url.clone(),
                model: model.clone(),
                weight: *weight,
                concurrency: *limit,
                counts: h.counts,
                in_flight: h.in_flight,
                state: h.state(now).to_string(),
            })
            .collect()
    }

    fn describe(&self, health: &[Health], now: Instant) -> String {
        self.names
            .iter()
            .zip(health)
            .map(|((url, ..), h)| format!("{url} {}", h.state(now)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What the choice found.
enum Choice {
    /// Endpoint `index`; `probe`: it is out of service and this request tries it again.
    Take { index: usize, probe: bool },
    /// Every untried endpoint in service is at its bound: wait for a slot (or until `until`,
    /// when one comes back).
    Wait { until: Option<Instant> },
    /// Every untried endpoint is out of service until then.
    Out { until: Instant },
}

/// Sends every request to the least-loaded endpoint that can take it: the one with the
/// fewest in-flight requests per unit of weight, among those in service and below their
/// concurrency bound; ties go round the pool. An endpoint out of service after failures gets
/// one probe request when its time out ends, before any other choice.
///
/// When a request fails on its endpoint for the endpoint's sake (connection refused or reset,
/// a timeout, 5xx, 429), it is sent at once to another endpoint it has not tried, and the
/// failure counts against the first one's health ([`HealthPolicy`]); a 429 cools only that
/// endpoint. A request that tried every endpoint in service, or finds all of them out, fails
/// with its last error (or [`NoEndpointAvailable`]), which is transient: the retry layer
/// above waits and sends again. Errors that are the request's own (400, an unreadable
/// answer, a spent budget) return at once and say nothing about the endpoint.
///
/// Each request is answered by exactly one endpoint: it is sent to another only after the
/// first failed, never to two at once. Sits under the retry layer and above one
/// `Budget → Timeout → HttpTransport` stack per server, so every attempt is budgeted and
/// timed out per server.
#[derive(Debug)]
pub struct Balance<S> {
    members: Vec<Member<S>>,
    policy: HealthPolicy,
    state: Arc<PoolState>,
    cursor: AtomicUsize,
}

impl<S> Balance<S> {
    /// A pool of `members` (at least one) with `policy`.
    pub fn new(members: Vec<Member<S>>, policy: HealthPolicy) -> Balance<S> {
        let state = PoolState {
            names: members
                .iter()
                .map(|m| (m.base_url.clone(), m.model.clone(), m.weight, m.limit))
                .collect(),
            health: Mutex::new(members.iter().map(|_| Health::new(&policy)).collect()),
            changed: Notify::new(),
        };
        Balance {
            members,
            policy,
            state: Arc::new(state),
            cursor: AtomicUsize::new(0),
        }
    }

    /// The endpoints.
    pub fn members(&self) -> &[Member<S>] {
        &self.members
    }

    /// The sum of the endpoints' concurrency bounds: what the pool can have in flight.
    pub fn capacity(&self) -> usize {
        self.members.iter().map(|m| m.limit).sum()
    }

    /// A live view of the endpoints' health and counts.
    pub fn state(&self) -> Arc<PoolState> {
        Arc::clone(&self.state)
    }

    /// Picks an endpoint among those not in `tried`, and starts a request on it.
    fn choose(&self, tried: &[bool], now: Instant) -> Choice {
        let mut health = self.state.lock();
        let n = self.members.len();
        // Ties go to the first endpoint from a point that moves round the pool.
        let start = self.cursor.fetch_add(1, Ordering::Relaxed) % n;
        let mut best: Option<(usize, f64)> = None;
        let mut busy = false;
        let mut back_at: Option<Instant> = None;
        for k in 0..n {
            let i = (start + k) % n;
            if tried[i] {
                continue;
            }
            let m = &self.members[i];
            match health[i].availability(now, m.limit) {
                Availability::Ready { probe: true } => {
                    health[i].start(true);
                    return Choice::Take {
                        index: i,
                        probe: true,
                    };
                }
                Availability::Ready { probe: false } => {
                    let load = (health[i].in_flight + 1) as f64 / m.weight;
                    if best.is_none_or(|(_, b)| load < b) {
                        best = Some((i, load));
                    }
                }
                Availability::Busy => busy = true,
                Availability::OutUntil(t) => back_at = Some(back_at.map_or(t, |b| b.min(t))),
            }
        }
        match (best, busy, back_at) {
            (Some((index, _)), ..) => {
                health[index].start(false);
                Choice::Take {
                    index,
                    probe: false,
                }
            }
            (None, true, until) => Choice::Wait { until },
            (None, false, Some(until)) => Choice::Out { until },
            // Every endpoint tried: the caller never asks then.
            (None, false, None) => Choice::Out { until: now },
        }
    }

    /// Waits for an endpoint not in `tried` to take the request; `Err(until)` when every
    /// such endpoint is out of service until then.
    async fn acquire(&self, tried: &[bool]) -> Result<Slot<'_>, Instant> {
        // The usual case: a slot is free, and no waiter needs registering.
        match self.choose(tried, Instant::now()) {
            Choice::Take { index, probe } => {
                return Ok(Slot {
                    state: &self.state,
                    index,
                    probe,
                    done: false,
                });
            }
            Choice::Out { until } => return Err(until),
            Choice::Wait { .. } => {}
        }
        loop {
            // Registered before looking again, so that a slot freed in between still wakes us.
            let notified = self.state.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.choose(tried, Instant::now()) {
                Choice::Take { index, probe } => {
                    return Ok(Slot {
                        state: &self.state,
                        index,
                        probe,
                        done: false,
                    });
                }
                Choice::Out { until } => return Err(until),
                Choice::Wait { until: None } => notified.await,
                Choice::Wait { until: Some(t) } => {
                    tokio::select! {
                        _ = notified => {}
                        _ = tokio::time::sleep_until(t.into()) => {}
                    }
                }
            }
        }
    }
}

/// A request in flight on one endpoint. Ended by its outcome; dropped without one (the
/// caller gave up), it frees the slot and says nothing about the endpoint's health.
struct Slot<'a> {
    state: &'a PoolState,
    index: usize,
    probe: bool,
    done: bool,
}

impl Slot<'_> {
    fn finish<T>(mut self, f: impl FnOnce(&mut Health, bool) -> T) -> T {
        self.done = true;
        let out = {
            let mut health = self.state.lock();
            f(&mut health[self.index], self.probe)
        };
        self.state.changed.notify_waiters();
        out
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.state.lock()[self.index].finished_neutral(self.probe);
            self.state.changed.notify_waiters();
        }
    }
}

/// Whether `e` says the endpoint, rather than the request, is in trouble.
fn endpoint_fault(e: &LlmError) -> bool {
    e.is_transient()
}

fn is_rate_limit(e: &LlmError) -> bool {
    matches!(e, LlmError::Http(HttpError::Status { status: 429, .. }))
}

#[async_trait]
impl<S: ChatService> ChatService for Balance<S> {
    async fn call(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let mut tried = vec![false; self.members.len()];
        let mut last: Option<(usize, LlmError)> = None;
        loop {
            let slot = match self.acquire(&tried).await {
                Ok(slot) => slot,
                Err(until) => {
                    return Err(match last {
                        Some((_, e)) => e,
                        None => {
                            let now = Instant::now();
                            let health = self.state.lock();
                            NoEndpointAvailable {
                                endpoints: self.members.len(),
                                wait: until.saturating_duration_since(now),
                                states: self.state.describe(&health, now),
                            }
                            .into()
                        }
                    });
                }
            };
            let index = slot.index;
            let member = &self.members[index];
            if let Some((from, e)) = &last {
                self.state.lock()[*from].counts.moved_elsewhere += 1;
                tracing::info!(
                    "LLM request moved from {} to {} ({e})",
                    self.members[*from].base_url,
                    member.base_url
                );
            }
            match member.service.call(request).await {
                Ok(response) => {
                    if slot.finish(|h, probe| h.succeeded(probe, &self.policy)) {
                        tracing::info!("LLM endpoint {} is back in service", member.base_url);
                    }
                    return Ok(response);
                }
                Err(e) if !endpoint_fault(&e) => {
                    slot.finish(|h, probe| h.finished_neutral(probe));
                    return Err(e);
                }
                Err(e) if is_rate_limit(&e) => {
                    let wait = slot.finish(|h, probe| {
                        h.rate_limited(probe, e.retry_after(), Instant::now(), &self.policy)
                    });
                    tracing::debug!(
                        "LLM endpoint {} rate-limited; cooling {:.2} s",
                        member.base_url,
                        wait.as_secs_f64()
                    );
                    tried[index] = true;
                    last = Some((index, e));
                }
                Err(e) => {
                    let ejected =
                        slot.finish(|h, probe| h.failed(probe, Instant::now(), &self.policy));
                    if let Some(out) = ejected {
                        tracing::warn!(
                            "LLM endpoint {} taken out of service for {:.1} s ({e})",
                            member.base_url,
                            out.as_secs_f64()
                        );
                    }
                    tried[index] = true;
                    last = Some((index, e));
                }
            }
            if tried.iter().all(|t| *t) {
                return Err(last
                    .map(|(_, e)| e)
                    .unwrap_or_else(|| unreachable_error(self.members.len())));
            }
        }
    }
}

/// Never built: `last` is set whenever an endpoint was tried. Kept as an error, not a panic.
fn unreachable_error(endpoints: usize) -> LlmError {
    NoEndpointAvailable {
        endpoints,
        wait: Duration::ZERO,
        states: String::new(),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::AtomicU64;

    use lux_core::{ChatMessage, Usage};

    use super::*;
    use crate::llm::Elapsed;

    /// An endpoint that answers after `delay`, or fails the way `fail` says, counting calls.
    #[derive(Debug)]
    struct Fake {
        name: &'static str,
        delay: Duration,
        fail: Mutex<Option<fn() -> LlmError>>,
        calls: AtomicU64,
        seen: Mutex<HashMap<String, u32>>,
    }

    impl Fake {
        fn new(name: &'static str, delay_ms: u64, fail: Option<fn() -> LlmError>) -> Fake {
            Fake {
                name,
                delay: Duration::from_millis(delay_ms),
                fail: Mutex::new(fail),
                calls: AtomicU64::new(0),
                seen: Mutex::default(),
            }
        }
    }

    #[async_trait]
    impl ChatService for Arc<Fake> {
        async fn call(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            *self
                .seen
                .lock()
                .unwrap()
                .entry(request.messages[0].content.clone())
                .or_default() += 1;
            tokio::time::sleep(self.delay).await;
            let fail = *self.fail.lock().unwrap();
            if let Some(fail) = fail {
                return Err(fail());
            }
            Ok(ChatResponse {
                choices: Vec::new(),
                usage: Usage::default(),
                model: self.name.into(),
            })
        }
    }

    fn timeout() -> LlmError {
        Elapsed {
            after: Duration::from_millis(1),
        }
        .into()
    }

    fn too_many() -> LlmError {
        HttpError::Status {
            status: 429,
            url: "x".into(),
            message: "slow down".into(),
            retry_after: Some(Duration::from_secs(30)),
        }
        .into()
    }

    fn bad_request() -> LlmError {
        HttpError::Status {
            status: 400,
            url: "x".into(),
            message: "no".into(),
            retry_after: None,
        }
        .into()
    }

    fn pool(fakes: &[Arc<Fake>], limit: usize) -> Balance<Arc<Fake>> {
        Balance::new(
            fakes
                .iter()
                .map(|f| Member::new(f.name, "m", 1.0, limit, Arc::clone(f)))
                .collect(),
            HealthPolicy {
                failures_to_eject: 2,
                eject_secs: 60.0,
                max_eject_secs: 60.0,
                cool_secs: 1.0,
            },
        )
    }

    fn req(i: usize) -> ChatRequest {
        ChatRequest::new(vec![ChatMessage::user(format!("r{i}"))])
    }

    #[tokio::test]
    async fn idle_endpoints_share_the_load_evenly() {
        let fakes: Vec<_> = ["a", "b", "c"]
            .into_iter()
            .map(|n| Arc::new(Fake::new(n, 0, None)))
            .collect();
        let pool = pool(&fakes, 4);
        for i in 0..30 {
            pool.call(&req(i)).await.unwrap();
        }
        for f in &fakes {
            assert_eq!(f.calls.load(Ordering::SeqCst), 10, "{}", f.name);
        }
    }

    #[tokio::test]
    async fn weights_and_bounds_shape_the_spread() {
        let heavy = Arc::new(Fake::new("heavy", 30, None));
        let light = Arc::new(Fake::new("light", 30, None));
        let pool = Arc::new(Balance::new(
            vec![
                Member::new("heavy", "m", 3.0, 6, Arc::clone(&heavy)),
                Member::new("light", "m", 1.0, 2, Arc::clone(&light)),
            ],
            HealthPolicy::default(),
        ));
        assert_eq!(pool.capacity(), 8);
        let calls: Vec<_> = (0..8)
            .map(|i| {
                let p = Arc::clone(&pool);
                tokio::spawn(async move { p.call(&req(i)).await })
            })
            .collect();
        for c in calls {
            c.await.unwrap().unwrap();
        }
        // Eight at once over bounds 6 and 2, weights 3:1: exactly 6 and 2.
        assert_eq!(heavy.calls.load(Ordering::SeqCst), 6);
        assert_eq!(light.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failing_endpoint_moves_requests_elsewhere_and_is_taken_out() {
        let dead = Arc::new(Fake::new("dead", 0, Some(timeout)));
        let live = Arc::new(Fake::new("live", 0, None));
        let pool = pool(&[Arc::clone(&dead), Arc::clone(&live)], 4);
        for i in 0..10 {
            let r = pool.call(&req(i)).await.unwrap();
            assert_eq!(r.model, "live");
        }
        // Two failures take it out (failures_to_eject = 2); nothing more goes there.
        assert_eq!(dead.calls.load(Ordering::SeqCst), 2);
        let report = pool.state().report();
        assert_eq!(report[0].counts.ejections, 1);
        assert_eq!(report[0].counts.moved_elsewhere, 2);
        assert_eq!(report[0].state, "ejected");
        assert_eq!(report[1].counts.requests, 10);
        // Every request reached the live endpoint exactly once.
        assert!(live.seen.lock().unwrap().values().all(|n| *n == 1));
    }

    #[tokio::test]
    async fn a_rate_limited_endpoint_cools_without_ejection() {
        let limited = Arc::new(Fake::new("limited", 0, Some(too_many)));
        let live = Arc::new(Fake::new("live", 0, None));
        let pool = pool(&[Arc::clone(&limited), Arc::clone(&live)], 4);
        for i in 0..6 {
            pool.call(&req(i)).await.unwrap();
        }
        assert_eq!(limited.calls.load(Ordering::SeqCst), 1, "cooling for 30 s");
        let report = pool.state().report();
        assert_eq!(report[0].state, "cooling");
        assert_eq!(report[0].counts.ejections, 0);
        assert_eq!(report[0].counts.rate_limited, 1);
    }

    #[tokio::test]
    async fn all_out_is_a_transient_error_with_the_wait() {
        let a = Arc::new(Fake::new("a", 0, Some(timeout)));
        let b = Arc::new(Fake::new("b", 0, Some(timeout)));
        let pool = pool(&[Arc::clone(&a), Arc::clone(&b)], 4);
        // Each request tries both, then fails with the last error.
        for i in 0..2 {
            let e = pool.call(&req(i)).await.unwrap_err();
            assert!(matches!(e, LlmError::Timeout(_)), "{e}");
        }
        let e = pool.call(&req(9)).await.unwrap_err();
        assert!(e.is_transient());
        let wait = e.retry_after().unwrap();
        assert!(wait > Duration::from_secs(58) && wait <= Duration::from_secs(60));
        assert!(e.to_string().contains("a ejected, b ejected"), "{e}");
    }

    #[tokio::test]
    async fn the_requests_own_errors_are_not_moved() {
        let refusing = Arc::new(Fake::new("refusing", 0, Some(bad_request)));
        let live = Arc::new(Fake::new("live", 0, None));
        let pool = Balance::new(
            vec![
                Member::new("refusing", "m", 1.0, 1, Arc::clone(&refusing)),
                Member::new("live", "m", 0.5, 1, Arc::clone(&live)),
            ],
            HealthPolicy::default(),
        );
        // The heavier endpoint is chosen first; its 400 is the request's fault.
        let e = pool.call(&req(0)).await.unwrap_err();
        assert!(e.to_string().contains("400"), "{e}");
        assert_eq!(live.calls.load(Ordering::SeqCst), 0);
        assert_eq!(pool.state().report()[0].counts.failures, 0);
    }

    #[tokio::test]
    async fn a_probe_brings_an_endpoint_back() {
        let flaky = Arc::new(Fake::new("flaky", 0, Some(timeout)));
        let pool = Balance::new(
            vec![Member::new("flaky", "m", 1.0, 4, Arc::clone(&flaky))],
            HealthPolicy {
                failures_to_eject: 1,
                eject_secs: 0.05,
                max_eject_secs: 0.05,
                cool_secs: 1.0,
            },
        );
        assert!(pool.call(&req(0)).await.is_err());
        let e = pool.call(&req(1)).await.unwrap_err();
        assert!(matches!(e, LlmError::NoEndpoint(_)), "{e}");
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(pool.call(&req(2)).await.is_err(), "the probe fails");
        assert_eq!(flaky.calls.load(Ordering::SeqCst), 2);
        assert_eq!(pool.state().report()[0].counts.ejections, 2);
        // The server recovers: after the time out, the probe succeeds and it is back.
        *flaky.fail.lock().unwrap() = None;
        tokio::time::sleep(Duration::from_millis(60)).await;
        pool.call(&req(3)).await.unwrap();
        pool.call(&req(4)).await.unwrap();
        let report = &pool.state().report()[0];
        assert_eq!(report.state, "healthy");
        assert_eq!(report.counts.succeeded, 2);
    }
}
