//! Shared by the integration tests and the benchmark: a real HTTP/1.1 server on 127.0.0.1
//! (ephemeral port) speaking the chat-completions protocol with scripted answers and
//! injected faults, and a small in-test seed source.
#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lux_core::pipeline::PipelineConfig;
use lux_core::{
    Document, InstructionGenerator, Lang, Provenance, Result, Seed, SeedSource, SeedStream,
    SourceContext,
};
use lux_plugins::ReverseInstruction;
use lux_plugins::generators::ReverseInstructionConfig;
use lux_plugins::llm::{OpenAiCompatible, OpenAiConfig, RetryPolicy};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One request as the server read it.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// Order of arrival, from 0.
    pub index: usize,
    /// How many times this exact body has arrived, from 1.
    pub attempt: usize,
    /// When it arrived.
    pub at: Instant,
    /// Request path.
    pub path: String,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body as JSON (Null if not JSON).
    pub body: Value,
}

impl Incoming {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn message(&self, role: &str) -> String {
        self.body["messages"]
            .as_array()
            .and_then(|m| m.iter().rev().find(|m| m["role"] == role))
            .and_then(|m| m["content"].as_str())
            .unwrap_or_default()
            .to_string()
    }

    pub fn user_text(&self) -> String {
        self.message("user")
    }

    pub fn system_text(&self) -> String {
        self.message("system")
    }

    /// `doc-017` from the prompt's `Title: doc-017` line.
    pub fn title(&self) -> Option<String> {
        let u = self.user_text();
        let line = u.lines().find(|l| l.starts_with("Title: "))?;
        Some(line["Title: ".len()..].trim().to_string())
    }

    /// The number in `doc-017`.
    pub fn doc_index(&self) -> Option<usize> {
        self.title()?.strip_prefix("doc-")?.parse().ok()
    }

    /// `fr` from `Instruction language: French (fr)`.
    pub fn instruction_lang(&self) -> Option<String> {
        let u = self.user_text();
        let line = u
            .lines()
            .find(|l| l.starts_with("Instruction language: "))?;
        let open = line.rfind('(')?;
        Some(line[open + 1..line.len() - 1].to_string())
    }

    /// The document text between `<<<` and `>>>`.
    pub fn document(&self) -> Option<String> {
        let u = self.user_text();
        let a = u.find("<<<\n")? + 4;
        let b = u.rfind("\n>>>")?;
        Some(u[a..b].to_string())
    }
}

/// What the server answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub delay: Duration,
    /// Announce the whole body, send half, close the connection.
    pub truncate: bool,
}

impl Reply {
    /// A 200 chat completion whose answer is `content`.
    pub fn chat(content: &str) -> Reply {
        Reply::json(
            200,
            json!({
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "model": "test-model-2025",
                "choices": [{
                    "index": 0,
                    "message": { "role": "assistant", "content": content },
                    "finish_reason": "stop"
                }],
                "usage": { "prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120 }
            }),
        )
    }

    pub fn json(status: u16, v: Value) -> Reply {
        Reply::raw(status, &v.to_string())
    }

    pub fn raw(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
            delay: Duration::ZERO,
            truncate: false,
        }
    }

    /// An OpenAI-style error.
    pub fn error(status: u16, message: &str) -> Reply {
        Reply::json(
            status,
            json!({ "error": { "message": message, "type": "test" } }),
        )
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn delay(mut self, d: Duration) -> Reply {
        self.delay = d;
        self
    }

    pub fn truncated(mut self) -> Reply {
        self.truncate = true;
        self
    }
}

type Script = Box<dyn Fn(&Incoming) -> Reply + Send + Sync>;

struct State {
    script: Script,
    requests: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    log: Mutex<Vec<Incoming>>,
    attempts: Mutex<HashMap<String, usize>>,
    /// Time from reading a request to writing its answer, summed, and the count.
    held_ns: std::sync::atomic::AtomicU64,
    answered: AtomicUsize,
}

/// The server. Dropping it stops it.
pub struct MockServer {
    pub addr: SocketAddr,
    state: Arc<State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MockServer {
    /// Starts a server answering with `script`, on its own thread and runtime.
    pub fn start(script: impl Fn(&Incoming) -> Reply + Send + Sync + 'static) -> MockServer {
        let state = Arc::new(State {
            script: Box::new(script),
            requests: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            log: Mutex::new(Vec::new()),
            attempts: Mutex::new(HashMap::new()),
            held_ns: std::sync::atomic::AtomicU64::new(0),
            answered: AtomicUsize::new(0),
        });
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let st = Arc::clone(&state);
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = TcpListener::from_std(std_listener).unwrap();
                let accept = async {
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            continue;
                        };
                        let _ = stream.set_nodelay(true);
                        tokio::spawn(serve(stream, Arc::clone(&st)));
                    }
                };
                tokio::select! {
                    _ = accept => {}
                    _ = stop_rx => {}
                }
            });
            rt.shutdown_background();
        });
        MockServer {
            addr,
            state,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT/v1`.
    pub fn url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Requests received so far.
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// The most requests ever in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }

    /// The mean time the server held a request (read to answer written): the latency it
    /// really added, timer granularity included.
    pub fn mean_hold(&self) -> Duration {
        let n = self.state.answered.load(Ordering::SeqCst).max(1) as u64;
        Duration::from_nanos(self.state.held_ns.load(Ordering::SeqCst) / n)
    }

    /// Total time held and requests answered so far (for means over a phase).
    pub fn hold_totals(&self) -> (Duration, usize) {
        (
            Duration::from_nanos(self.state.held_ns.load(Ordering::SeqCst)),
            self.state.answered.load(Ordering::SeqCst),
        )
    }

    /// Every request so far, in order of arrival.
    pub fn log(&self) -> Vec<Incoming> {
        self.state.log.lock().unwrap().clone()
    }

    /// Requests per document title.
    pub fn requests_per_title(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for r in self.log() {
            *out.entry(r.title().unwrap_or_default()).or_default() += 1;
        }
        out
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct InFlightGuard<'a>(&'a AtomicUsize);

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn serve(stream: TcpStream, state: Arc<State>) {
    let (r, mut w) = stream.into_split();
    let mut reader = BufReader::new(r);
    loop {
        // Request line and headers.
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" || line == "\n" {
                break;
            }
            lines.push(line.trim_end().to_string());
        }
        let Some(request_line) = lines.first() else {
            return;
        };
        let path = request_line
            .split(' ')
            .nth(1)
            .unwrap_or_default()
            .to_string();
        let headers: Vec<(String, String)> = lines[1..]
            .iter()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        let at = Instant::now();
        let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        state.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let _guard = InFlightGuard(&state.in_flight);
        let index = state.requests.fetch_add(1, Ordering::SeqCst);
        let key = String::from_utf8_lossy(&body).to_string();
        let attempt = {
            let mut a = state.attempts.lock().unwrap();
            let n = a.entry(key).or_default();
            *n += 1;
            *n
        };
        let incoming = Incoming {
            index,
            attempt,
            at,
            path,
            headers,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        };
        let reply = (state.script)(&incoming);
        state.log.lock().unwrap().push(incoming);

        // Wait, but notice a client that gives up (its timeout) and closes the connection.
        if !reply.delay.is_zero() {
            let deadline = tokio::time::Instant::now() + reply.delay;
            let closed = tokio::select! {
                _ = tokio::time::sleep_until(deadline) => false,
                r = reader.fill_buf() => match r {
                    Ok([]) => true,
                    Err(_) => true,
                    Ok(_) => { tokio::time::sleep_until(deadline).await; false }
                },
            };
            if closed {
                return;
            }
        }
        let mut head = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
            reply.status,
            reason(reply.status),
            reply.body.len()
        );
        for (k, v) in &reply.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let body: &[u8] = if reply.truncate {
            &reply.body[..reply.body.len() / 2]
        } else {
            &reply.body
        };
        let mut out = head.into_bytes();
        out.extend_from_slice(body);
        if w.write_all(&out).await.is_err() || w.flush().await.is_err() {
            return;
        }
        state
            .held_ns
            .fetch_add(at.elapsed().as_nanos() as u64, Ordering::SeqCst);
        state.answered.fetch_add(1, Ordering::SeqCst);
        if reply.truncate {
            let _ = w.shutdown().await;
            return;
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) of `t`.
pub fn http_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let wd = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(m - 1) as usize];
    format!(
        "{wd}, {d:02} {mon} {y} {:02}:{:02}:{:02} GMT",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

// ---------------------------------------------------------------------------------------
// Documents, answers and recipes.

/// Seeds given inline: `{ type = "test_docs", docs = [...] }`.
#[derive(Debug, Serialize, Deserialize)]
pub struct TestDocs {
    pub docs: Vec<Document>,
}

#[typetag::serde(name = "test_docs")]
impl SeedSource for TestDocs {
    fn open(&self, _ctx: &SourceContext) -> Result<SeedStream> {
        let seeds: Vec<Result<Seed>> = self
            .docs
            .iter()
            .cloned()
            .map(|d| Ok(Seed::Document(d)))
            .collect();
        Ok(Box::new(seeds.into_iter()))
    }
}

/// The first paragraph of document `i`: the span good answers quote.
pub fn first_paragraph(i: usize) -> String {
    format!(
        "D'Duerf {i} läit am Norde vum Land an huet eng laang Geschicht. Am Joer {} goufen \
         do déi éischt Haiser gebaut, an d'Leit hunn um Feld geschafft.",
        1800 + i
    )
}

/// `n` Luxembourgish documents titled `doc-000`, `doc-001`…
pub fn docs(n: usize) -> Vec<Document> {
    (0..n)
        .map(|i| Document {
            id: format!("d{i:03}"),
            lang: Lang::LB,
            title: Some(format!("doc-{i:03}")),
            text: format!(
                "{}\n\nHaut wunnen am Duerf {i} ongeféier {} Leit. Et gëtt eng Schoul, eng \
                 Kierch an e klenge Buttek, deen all Dag op ass.",
                first_paragraph(i),
                100 + i * 7
            ),
            provenance: Provenance::new("test-wiki", "CC-BY-SA-4.0"),
            metadata: BTreeMap::new(),
        })
        .collect()
}

/// An instruction in `lang` about the history of a village.
pub fn instruction_in(lang: &str) -> &'static str {
    match lang {
        "fr" => "Parlez-moi de l'histoire de ce village et de ses débuts.",
        "de" => "Erzähle mir von der Geschichte dieses Dorfes und seinen Anfängen.",
        "lb" => "Erziel mer vun der Geschicht vun dësem Duerf an sengen Ufäng.",
        _ => "Tell me about the history of this village and how it began.",
    }
}

/// A correct answer to a reverse-instruction request: an instruction in the requested
/// language and the document's first paragraph, re-wrapped (whitespace differs).
pub fn good_answer(req: &Incoming) -> String {
    let lang = req.instruction_lang().unwrap_or_else(|| "en".into());
    let doc = req.document().unwrap_or_default();
    let para = doc
        .split("\n\n")
        .next()
        .unwrap_or_default()
        .replace(". ", ".\n ");
    json!({ "instruction": instruction_in(&lang), "span": para }).to_string()
}

/// Client settings for tests: fast retries, short timeout.
pub fn client_config(url: &str) -> OpenAiConfig {
    let mut c = OpenAiConfig::new(url, "test-model");
    c.timeout_secs = 2.0;
    c.retry = RetryPolicy {
        max_retries: 4,
        base_delay_ms: 5,
        max_delay_ms: 50,
        ..RetryPolicy::default()
    };
    c
}

/// A reverse-instruction generator on `client`.
pub fn generator(client: OpenAiConfig) -> Box<dyn InstructionGenerator> {
    let llm = OpenAiCompatible::new(client).unwrap();
    Box::new(ReverseInstruction::new(ReverseInstructionConfig::new(Box::new(llm))).unwrap())
}

/// The data section of a recipe over `docs`, with one generator.
pub fn recipe(
    docs: Vec<Document>,
    generator: Box<dyn InstructionGenerator>,
    concurrency: usize,
) -> PipelineConfig {
    PipelineConfig {
        seed: 7,
        native: Lang::LB,
        instruction_langs: vec![Lang::EN, Lang::FR, Lang::DE],
        concurrency,
        max_seeds_per_source: None,
        language_names: BTreeMap::new(),
        sources: vec![Box::new(TestDocs { docs })],
        generators: vec![generator],
        filters: Vec::new(),
    }
}

/// Lines of a JSONL file as JSON values.
pub fn read_jsonl(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A 200 chat completion whose answer is `content`, with OpenAI-style log-probs for one
/// generated token: `top[0]` is the chosen token, all of `top` its alternatives.
pub fn chat_with_logprobs(content: &str, top: &[(&str, f32)]) -> Reply {
    let alternatives: Vec<Value> = top
        .iter()
        .map(|(t, l)| json!({ "token": t, "logprob": l, "bytes": t.as_bytes() }))
        .collect();
    Reply::json(
        200,
        json!({
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "model": "test-model-2025",
            "choices": [{
                "index": 0,
                "message": { "role": "assistant", "content": content },
                "logprobs": { "content": [{
                    "token": top[0].0,
                    "logprob": top[0].1,
                    "bytes": top[0].0.as_bytes(),
                    "top_logprobs": alternatives
                }] },
                "finish_reason": "stop"
            }],
            "usage": { "prompt_tokens": 100, "completion_tokens": 1, "total_tokens": 101 }
        }),
    )
}

/// Sends `n` requests (prompts `tag-0`…) through `client` at once and waits for every answer;
/// the client's own bounds decide how many are in flight. The benches' load.
pub async fn fire(client: &Arc<OpenAiCompatible>, n: usize, tag: &str) {
    let calls: Vec<_> = (0..n)
        .map(|i| {
            let c = Arc::clone(client);
            let req =
                lux_core::ChatRequest::new(vec![lux_core::ChatMessage::user(format!("{tag}-{i}"))]);
            tokio::spawn(async move {
                lux_core::LlmClient::chat(&*c, &req)
                    .await
                    .expect("bench request")
            })
        })
        .collect();
    for h in calls {
        h.await.expect("bench task");
    }
}
