//! Throughput of one `openai` client over a pool of 4 loopback servers (`endpoints`), each
//! with concurrency C and a fixed latency L: the ideal is 4·C/L requests per second; lux aims
//! at ≥ 95% of it. What the balancer costs on top of one server is the gap between this and
//! the `throughput` bench's C/L fraction.
//!
//! `cargo bench --workspace --bench balance`; besides criterion's report it prints one
//! `fraction of 4·C/L` line per concurrency, with each server's share of the requests.

#[path = "../tests/support.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lux_plugins::llm::{EndpointConfig, OpenAiCompatible, OpenAiConfig, RetryPolicy};
use support::{MockServer, Reply, fire};

const LATENCY: Duration = Duration::from_millis(50);
const SERVERS: usize = 4;
const WAVES: usize = 10;

fn config(urls: &[String], concurrency: usize) -> OpenAiConfig {
    let endpoints = urls
        .iter()
        .map(|u| EndpointConfig {
            concurrency: Some(concurrency),
            ..EndpointConfig::new(u.clone())
        })
        .collect();
    let mut c = OpenAiConfig::pool("bench-model", endpoints);
    c.retry = RetryPolicy {
        max_retries: 0,
        ..RetryPolicy::default()
    };
    c
}

fn bench(c: &mut Criterion) {
    let servers: Vec<MockServer> = (0..SERVERS)
        .map(|_| MockServer::start(|_| Reply::chat("ok").delay(LATENCY)))
        .collect();
    let urls: Vec<String> = servers.iter().map(MockServer::url).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    let mut group = c.benchmark_group("openai_pool_4x_loopback_50ms");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_secs(1));
    for concurrency in [8usize, 16, 32] {
        let client = Arc::new(OpenAiCompatible::new(config(&urls, concurrency)).unwrap());
        let capacity = SERVERS * concurrency;
        let ideal = capacity as f64 / LATENCY.as_secs_f64();
        let n = capacity * WAVES;
        rt.block_on(fire(&client, capacity, "warm")); // open the connections
        let before: Vec<usize> = servers.iter().map(MockServer::requests).collect();
        let held_before: Vec<(Duration, usize)> =
            servers.iter().map(MockServer::hold_totals).collect();
        let mut fractions = Vec::new();
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("4x_c{concurrency}_{n}_requests"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let t = Instant::now();
                    rt.block_on(fire(&client, n, "req"));
                    let elapsed = t.elapsed();
                    total += elapsed;
                    fractions.push(n as f64 / elapsed.as_secs_f64() / ideal);
                }
                total
            })
        });
        if fractions.is_empty() {
            continue; // filtered out on the command line
        }
        let shares: Vec<String> = servers
            .iter()
            .zip(&before)
            .map(|(s, b)| s.requests() - b)
            .map(|k| format!("{k}"))
            .collect();
        // What the servers really held a request (timer granularity included): the part of
        // the gap to 4·C/L that is the test servers', not the client's.
        let (held, answered) = servers.iter().zip(&held_before).fold(
            (Duration::ZERO, 0usize),
            |(h, a), (s, (h0, a0))| {
                let (h1, a1) = s.hold_totals();
                (h + (h1 - *h0), a + (a1 - a0))
            },
        );
        let hold = held.as_secs_f64() / answered.max(1) as f64;
        let usage = client.usage();
        assert!(
            usage.endpoints.iter().all(|e| e.counts.failures == 0),
            "{usage}"
        );
        fractions.sort_by(|a, b| a.total_cmp(b));
        let median = fractions[fractions.len() / 2];
        println!(
            "4 endpoints, C={concurrency} each, L={}ms: {:.0} req/s achieved of {ideal:.0} ideal \
             (4·C/L) = {:.1}% (median of {} runs; min {:.1}%, max {:.1}%); requests per server \
             {}; most in flight on one server {}; the servers really held requests {:.2} ms \
             on average, so of 4·C/held: {:.1}%",
            LATENCY.as_millis(),
            median * ideal,
            median * 100.0,
            fractions.len(),
            fractions[0] * 100.0,
            fractions[fractions.len() - 1] * 100.0,
            shares.join(" / "),
            servers
                .iter()
                .map(MockServer::max_in_flight)
                .max()
                .unwrap_or(0),
            hold * 1000.0,
            median * hold / LATENCY.as_secs_f64() * 100.0,
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
