//! Several endpoints behind one `openai` client (`endpoints = [...]`), against real HTTP
//! servers on loopback: one killed mid-run, one slow, one answering 429; and the cache,
//! which must not care which server answered.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lux_core::pipeline::{Pipeline, RunOptions};
use lux_core::{ChatMessage, ChatRequest, InstructionGenerator, LlmClient};
use lux_plugins::llm::{EndpointReport, OpenAiCompatible};
use support::*;

/// Every request each server received: (server, the request's user text).
type Hits = Arc<Mutex<Vec<(usize, String)>>>;

/// Server `k`: records each request in `hits`, then answers as `behave` says.
fn recording(
    k: usize,
    hits: &Hits,
    behave: impl Fn(&Incoming) -> Reply + Send + Sync + 'static,
) -> MockServer {
    let hits = Arc::clone(hits);
    MockServer::start(move |r| {
        hits.lock().unwrap().push((k, r.user_text()));
        behave(r)
    })
}

/// A client over `urls`, each server with `concurrency`, written as a recipe table.
fn pool_client(urls: &[String], concurrency: usize, extra: &str) -> OpenAiCompatible {
    let endpoints: Vec<String> = urls
        .iter()
        .map(|u| format!("{{ base_url = \"{u}\", concurrency = {concurrency} }}"))
        .collect();
    let table = format!(
        "model = \"test-model\"\ntimeout_secs = 2\n\
         retry = {{ max_retries = 4, base_delay_ms = 5, max_delay_ms = 50 }}\n\
         endpoints = [{}]\n{extra}",
        endpoints.join(", ")
    );
    toml::from_str(&table).unwrap_or_else(|e| panic!("{e}\n{table}"))
}

fn ask(i: usize) -> ChatRequest {
    ChatRequest::new(vec![ChatMessage::user(format!("q{i:04}"))])
}

/// Sends `n` requests at once (the client's bounds hold them back) and returns the answers
/// in request order.
async fn fire(client: &OpenAiCompatible, n: usize) -> Vec<lux_core::Result<String>> {
    let calls: Vec<_> = (0..n)
        .map(|i| {
            let c = client.clone();
            tokio::spawn(async move { c.chat(&ask(i)).await.map(|r| r.choices[0].content.clone()) })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for h in calls {
        out.push(h.await.unwrap());
    }
    out
}

fn endpoint<'a>(report: &'a [EndpointReport], url: &str) -> &'a EndpointReport {
    report.iter().find(|e| e.base_url == url).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_run_loses_no_request_and_answers_none_twice() {
    let hits: Hits = Arc::default();
    let servers: Vec<MockServer> = (0..3)
        .map(|k| {
            recording(k, &hits, move |r| {
                Reply::chat(&format!("{k}:{}", r.user_text())).delay(Duration::from_millis(40))
            })
        })
        .collect();
    let urls: Vec<String> = servers.iter().map(MockServer::url).collect();
    let client = pool_client(
        &urls,
        4,
        "health = { failures_to_eject = 2, eject_secs = 0.2, max_eject_secs = 1 }",
    );
    let mut servers = servers.into_iter();
    let doomed = servers.next().unwrap();
    let survivors: Vec<MockServer> = servers.collect();

    // Server 0 dies once it has received 20 requests, with requests in flight on it.
    let watch = Arc::clone(&hits);
    let killer = std::thread::spawn(move || {
        let t = Instant::now();
        while watch
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, _)| *k == 0)
            .count()
            < 20
        {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "server 0 got no load"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        drop(doomed);
    });
    let n = 300;
    let answers = fire(&client, n).await;
    killer.join().unwrap();

    // None lost: every request answered, by one server, with its own answer.
    let mut answered_by = Vec::with_capacity(n);
    for (i, a) in answers.iter().enumerate() {
        let a = a.as_ref().unwrap_or_else(|e| panic!("q{i:04} lost: {e}"));
        let (k, text) = a.split_once(':').unwrap();
        assert_eq!(text, format!("q{i:04}"), "an answer to another request");
        answered_by.push(k.parse::<usize>().unwrap());
    }
    // None answered twice: the server that answered received it once; the others, never,
    // except the killed server, which may have held it when it died.
    let hits = hits.lock().unwrap().clone();
    let mut per_request: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (k, text) in &hits {
        per_request.entry(text.clone()).or_default().push(*k);
    }
    let mut lost_in_flight = 0;
    for (i, by) in answered_by.iter().enumerate() {
        let got = &per_request[&format!("q{i:04}")];
        let count = |k: usize| got.iter().filter(|&&s| s == k).count();
        assert_eq!(
            count(*by),
            1,
            "q{i:04} reached its answering server {got:?}"
        );
        for k in 0..3 {
            if k != *by && k != 0 {
                assert_eq!(count(k), 0, "q{i:04} sent to two live servers: {got:?}");
            }
        }
        if *by != 0 {
            assert!(count(0) <= 1, "q{i:04} sent twice to server 0: {got:?}");
            lost_in_flight += count(0);
        }
    }
    assert!(
        lost_in_flight >= 1,
        "the kill should catch requests in flight"
    );

    let usage = client.usage();
    let dead = endpoint(&usage.endpoints, &urls[0]);
    assert!(dead.counts.ejections >= 1, "{dead:?}");
    assert!(dead.counts.failures >= 2, "{dead:?}");
    // Each request in flight when it died moved at once, as did each refused connection.
    assert!(
        dead.counts.moved_elsewhere as usize >= lost_in_flight,
        "{dead:?}, {lost_in_flight} lost in flight"
    );
    assert_eq!(
        usage.http_requests,
        usage
            .endpoints
            .iter()
            .map(|e| e.counts.requests)
            .sum::<u64>(),
        "one budget counts every server's requests"
    );
    assert_eq!(usage.totals.succeeded, n as u64);
    for s in &survivors {
        let e = endpoint(&usage.endpoints, &s.url());
        assert_eq!(e.counts.failures, 0, "{e:?}");
        assert_eq!(e.counts.succeeded as usize, s.requests());
    }
    assert!(
        usage.to_string().contains(&urls[0]),
        "the report shows the spread: {usage}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_server_receives_fewer_requests() {
    let hits: Hits = Arc::default();
    let delays = [5u64, 5, 400];
    let servers: Vec<MockServer> = delays
        .iter()
        .enumerate()
        .map(|(k, &ms)| {
            recording(k, &hits, move |r| {
                Reply::chat(&r.user_text()).delay(Duration::from_millis(ms))
            })
        })
        .collect();
    let urls: Vec<String> = servers.iter().map(MockServer::url).collect();
    let client = pool_client(&urls, 4, "");
    // Eight callers, each sending its requests one after another: less load than the pool
    // could carry (12), so the choice, not the bounds, decides where requests go.
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let c = client.clone();
            tokio::spawn(async move {
                for j in 0..15 {
                    c.chat(&ask(w * 100 + j)).await.unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    let got: Vec<usize> = servers.iter().map(MockServer::requests).collect();
    assert_eq!(got.iter().sum::<usize>(), 120);
    // Round robin would send each 40. The slow server holds its requests 80 times longer, so
    // it is the most loaded whenever it has its share in flight: it gets its first share,
    // and about one more per share of 400 ms.
    assert!(got[2] <= 12, "slow server got {got:?}");
    assert!(got[0] >= 40 && got[1] >= 40, "{got:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_answering_429_is_cooled_and_the_run_completes() {
    let hits: Hits = Arc::default();
    let servers: Vec<MockServer> = (0..3)
        .map(|k| {
            recording(k, &hits, move |r| {
                if k == 2 {
                    Reply::error(429, "rate limited").header("retry-after", "1")
                } else {
                    Reply::chat(&r.user_text()).delay(Duration::from_millis(30))
                }
            })
        })
        .collect();
    let urls: Vec<String> = servers.iter().map(MockServer::url).collect();
    let client = pool_client(&urls, 2, "");
    let t = Instant::now();
    let answers = fire(&client, 120).await;
    let elapsed = t.elapsed();
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(a.as_ref().unwrap(), &format!("q{i:04}"));
    }
    let usage = client.usage();
    let limited = endpoint(&usage.endpoints, &urls[2]);
    let sent = servers[2].requests() as u64;
    assert_eq!(limited.counts.rate_limited, sent);
    assert_eq!(limited.counts.ejections, 0, "a 429 is not a failure");
    // Two at first (its bound), then one probe per second of Retry-After at most.
    assert!(
        sent <= 2 + 2 * (elapsed.as_secs() + 1),
        "{sent} requests to the 429 server in {elapsed:?}"
    );
    // Moved to another server at once, not retried after a backoff.
    assert_eq!(limited.counts.moved_elsewhere, sent);
    assert_eq!(usage.retries, 0);
    assert_eq!(usage.totals.succeeded, 120);
}

/// Runs the reverse-instruction pipeline over `n` documents with `servers` as the pool and
/// the cache in `cache`, into `out`.
async fn pipeline_run(servers: &[String], cache: &Path, out: &Path, n: usize) {
    let endpoints: Vec<String> = servers
        .iter()
        .map(|u| format!("{{ base_url = \"{u}\", concurrency = 3 }}"))
        .collect();
    let table = format!(
        r#"
        type = "reverse_instruction"
        [llm]
        type = "openai"
        model = "test-model"
        timeout_secs = 2
        cache_dir = "{}"
        retry = {{ max_retries = 4, base_delay_ms = 5, max_delay_ms = 50 }}
        endpoints = [{}]
        "#,
        cache.display(),
        endpoints.join(", ")
    );
    let generator: Box<dyn InstructionGenerator> = toml::from_str(&table).unwrap();
    let mut pipeline = Pipeline::new(recipe(docs(n), generator, 8)).unwrap();
    let summary = pipeline.run(out, &RunOptions::default()).await.unwrap();
    assert_eq!(summary.seeds_generated_now, n);
}

/// Every file under `dir`, by relative path, with its bytes.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_and_dataset_do_not_depend_on_which_server_answered() {
    let n = 24;
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name);

    // One server.
    let one = MockServer::start(|r| Reply::chat(&good_answer(r)));
    pipeline_run(&[one.url()], &d("cache-one"), &d("run-one"), n).await;

    // Three: one slow, one that fails its first request of every document.
    let pool = [
        MockServer::start(|r| Reply::chat(&good_answer(r))),
        MockServer::start(|r| Reply::chat(&good_answer(r)).delay(Duration::from_millis(80))),
        MockServer::start(|r| {
            if r.attempt == 1 {
                Reply::error(503, "overloaded")
            } else {
                Reply::chat(&good_answer(r))
            }
        }),
    ];
    let urls: Vec<String> = pool.iter().map(MockServer::url).collect();
    pipeline_run(&urls, &d("cache-pool"), &d("run-pool"), n).await;
    let answered: usize = pool.iter().map(MockServer::requests).sum();
    assert!(
        pool.iter().all(|s| s.requests() > 0),
        "all three were sent requests: {:?}",
        pool.iter().map(MockServer::requests).collect::<Vec<_>>()
    );

    let first = one.requests();
    let cache_one = tree(&d("cache-one"));
    assert_eq!(cache_one.len(), first, "one entry per request");
    assert_eq!(
        cache_one,
        tree(&d("cache-pool")),
        "byte-identical cache entries"
    );
    assert_eq!(
        std::fs::read(d("run-one/dataset.jsonl")).unwrap(),
        std::fs::read(d("run-pool/dataset.jsonl")).unwrap(),
        "byte-identical dataset"
    );

    // A rerun on other servers (other URLs) finds every answer in the cache.
    let elsewhere = MockServer::start(|r| Reply::chat(&good_answer(r)));
    pipeline_run(
        &[elsewhere.url(), one.url()],
        &d("cache-pool"),
        &d("run-rerun"),
        n,
    )
    .await;
    assert_eq!(elsewhere.requests(), 0);
    assert_eq!(one.requests(), first, "no request beyond the first run's");
    assert_eq!(
        pool.iter().map(MockServer::requests).sum::<usize>(),
        answered
    );
}

#[test]
fn bad_endpoint_settings_name_the_endpoint_and_field() {
    let read = |body: &str| {
        toml::from_str::<Box<dyn LlmClient>>(&format!("type = \"openai\"\n{body}"))
            .unwrap_err()
            .to_string()
    };
    let e = read(
        "model = \"m\"\nendpoints = [{ base_url = \"http://a/v1\" }, \
         { base_url = \"http://b/v1\", weight = 0 }]",
    );
    assert!(e.contains("endpoints[1].weight"), "{e}");
    let e = read("model = \"m\"\nendpoints = [{ base_url = \"ftp://a\" }]");
    assert!(
        e.contains("endpoints[0].base_url") && e.contains("http://"),
        "{e}"
    );
    let e = read(
        "model = \"m\"\nendpoints = [{ base_url = \"http://a/v1\" }, \
         { base_url = \"http://a/v1/\" }]",
    );
    assert!(
        e.contains("endpoints[1].base_url") && e.contains("endpoints[0]"),
        "{e}"
    );
    let e = read("model = \"m\"\nendpoints = [{ base_url = \"http://a/v1\", concurrency = 0 }]");
    assert!(e.contains("endpoints[0].concurrency"), "{e}");
    let e = read("model = \"m\"\nendpoints = [{ base_url = \"http://a/v1\", colour = 1 }]");
    assert!(e.contains("colour"), "{e}");
    let e = read(
        "model = \"m\"\nbase_url = \"http://a/v1\"\nendpoints = [{ base_url = \"http://b/v1\" }]",
    );
    assert!(e.contains("not both"), "{e}");
    let e = read("model = \"m\"");
    assert!(e.contains("base_url") && e.contains("endpoints"), "{e}");
    let e = read(
        "endpoints = [{ base_url = \"http://a/v1\", model = \"x\" }, \
         { base_url = \"http://b/v1\", model = \"y\" }]",
    );
    assert!(e.contains("model") && e.contains("top of the table"), "{e}");
    let e = read(
        "model = \"m\"\nendpoints = [{ base_url = \"http://a/v1\" }]\n\
         health = { failures_to_eject = 0 }",
    );
    assert!(e.contains("health.failures_to_eject"), "{e}");

    // Endpoints that agree name the model for the table; the servers stay out of the
    // serialised recipe (its fingerprint), the model stays in.
    let client: Box<dyn LlmClient> = toml::from_str(
        "type = \"openai\"\nendpoints = [{ base_url = \"http://a/v1\", model = \"x\" }, \
         { base_url = \"http://b/v1\", model = \"x\", weight = 2 }]",
    )
    .unwrap();
    assert_eq!(client.model(), "x");
    let v = serde_json::to_value(&client).unwrap();
    assert_eq!(v["model"], "x");
    assert!(
        v.get("endpoints").is_none() && v.get("base_url").is_none(),
        "{v}"
    );
}
