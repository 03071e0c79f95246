//! Throughput of the `openai` client against a loopback server with a fixed latency L, at
//! concurrency C: the ideal is C/L requests per second; lux aims at ≥ 95% of it. And the
//! time of a fully cached rerun (the server receives nothing).
//!
//! `cargo bench --workspace --bench throughput`; besides criterion's report it prints
//! one `fraction of C/L` line per concurrency.

#[path = "../tests/support.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lux_plugins::llm::{OpenAiCompatible, OpenAiConfig, RetryPolicy};
use support::{MockServer, Reply, fire};

const LATENCY: Duration = Duration::from_millis(50);
const WAVES: usize = 10;

fn config(url: &str, concurrency: usize) -> OpenAiConfig {
    let mut c = OpenAiConfig::new(url, "bench-model");
    c.concurrency = concurrency;
    c.retry = RetryPolicy {
        max_retries: 0,
        ..RetryPolicy::default()
    };
    c
}

fn bench(c: &mut Criterion) {
    let server = MockServer::start(|_| Reply::chat("ok").delay(LATENCY));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    let mut group = c.benchmark_group("openai_loopback_50ms");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_secs(1));
    for concurrency in [16usize, 64] {
        let client = Arc::new(OpenAiCompatible::new(config(&server.url(), concurrency)).unwrap());
        let n = concurrency * WAVES;
        rt.block_on(fire(&client, concurrency, "warm")); // open the connections
        let mut fractions = Vec::new();
        let (held0, answered0) = server.hold_totals();
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("c{concurrency}_{n}_requests"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let t = Instant::now();
                    rt.block_on(fire(&client, n, "req"));
                    let elapsed = t.elapsed();
                    total += elapsed;
                    let achieved = n as f64 / elapsed.as_secs_f64();
                    let ideal = concurrency as f64 / LATENCY.as_secs_f64();
                    fractions.push(achieved / ideal);
                }
                total
            })
        });
        let (held1, answered1) = server.hold_totals();
        let hold = (held1 - held0) / (answered1 - answered0).max(1) as u32;
        if fractions.is_empty() {
            continue; // filtered out on the command line
        }
        fractions.sort_by(|a, b| a.total_cmp(b));
        let median = fractions[fractions.len() / 2];
        let ideal = concurrency as f64 / LATENCY.as_secs_f64();
        println!(
            "C={concurrency} L={}ms: {:.0} req/s achieved of {ideal:.0} ideal (C/L) = {:.1}% \
             (median of {} runs; min {:.1}%, max {:.1}%); server max in flight {}; the server \
             really held requests {:.2} ms on average, so of C/held: {:.1}%",
            LATENCY.as_millis(),
            median * ideal,
            median * 100.0,
            fractions.len(),
            fractions[0] * 100.0,
            fractions[fractions.len() - 1] * 100.0,
            server.max_in_flight(),
            hold.as_secs_f64() * 1000.0,
            median * hold.as_secs_f64() / LATENCY.as_secs_f64() * 100.0,
        );
    }

    // The fixed cost of one request (client + loopback + server), with no latency at all.
    let instant = MockServer::start(|_| Reply::chat("ok"));
    let client = Arc::new(OpenAiCompatible::new(config(&instant.url(), 64)).unwrap());
    rt.block_on(fire(&client, 640, "warm"));
    let t = Instant::now();
    for _ in 0..5 {
        rt.block_on(fire(&client, 640, "zero"));
    }
    println!(
        "zero-latency server, C=64: {:.1} µs per request (client, loopback TCP and server together, on this machine)",
        t.elapsed().as_secs_f64() * 1e6 / (5.0 * 640.0)
    );

    // A fully cached rerun: 640 distinct requests answered from disk.
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&server.url(), 64);
    cfg.cache_dir = Some(dir.path().to_path_buf());
    let n = 640;
    let first = Arc::new(OpenAiCompatible::new(cfg.clone()).unwrap());
    let t = Instant::now();
    rt.block_on(fire(&first, n, "cached"));
    let cold = t.elapsed();
    let asked = server.requests();
    println!(
        "cache cold, C=64: {n} requests in {:.3} s = {:.1}% of C/L (answers written to disk)",
        cold.as_secs_f64(),
        n as f64 / cold.as_secs_f64() / (64.0 / LATENCY.as_secs_f64()) * 100.0
    );
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function(format!("cached_rerun_{n}_requests"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                // A new client, as a rerun would have: nothing in memory, all on disk.
                let rerun = Arc::new(OpenAiCompatible::new(cfg.clone()).unwrap());
                let t = Instant::now();
                rt.block_on(fire(&rerun, n, "cached"));
                total += t.elapsed();
                assert_eq!(rerun.usage().cache_hits, n as u64);
            }
            total
        })
    });
    assert_eq!(server.requests(), asked, "a cached rerun sends nothing");
    println!(
        "cached rerun: {n} requests, 0 sent to the server (uncached these would take ≥ {:.2} s at C=64)",
        n as f64 / (64.0 / LATENCY.as_secs_f64())
    );
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
