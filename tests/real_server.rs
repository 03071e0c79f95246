//! lux against a real OpenAI-compatible server: llama.cpp's server (the `xllamacpp` wheel,
//! installed by `scripts/llama-server.sh install`) serving SmolLM2-135M-Instruct on loopback.
//!
//! Each test starts its own server on a free port (killed when the test ends, panics
//! included), one test at a time (two servers would share the CPU cores and both slow
//! down), and runs one of lux's LLM users through the `openai` client:
//! - the reverse-instruction generator: every candidate is an example whose output is a span
//!   of the document, or a rejection with its reason; tokens are counted;
//! - G-Eval in log-prob mode: llama.cpp returns top log-probs, so the score is the
//!   probability-weighted mean of the score tokens, recomputed here from a replayed raw
//!   response;
//! - G-Eval in sampling mode: llama.cpp refuses an `n` above its parallel slots with an HTTP
//!   400 stating the limit; the client splits each request into requests it accepts, and
//!   the run's usage report counts the split;
//! - the LUXELLA judge (`llm_judge`, a JSON score and reason under a `json_schema` the server
//!   enforces by grammar): a whole score on the scale, or a failure recorded on the item.
//!
//! SmolLM2-135M is a weak model: these tests check the mechanics and the numbers lux derives
//! from real answers, not the quality of the judgements. They skip with a printed reason
//! when the venv or the model is missing (`scripts/llama-server.sh install`,
//! `scripts/fetch-models.sh`); a server that is installed but does not start fails them.
#![cfg(all(feature = "train", feature = "eval", feature = "plugins"))]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use lux::core::{
    ChatMessage, ChatRequest, Criteria, Document, GenerateContext, InstructionGenerator, Judge,
    JudgeRequest, Lang, LlmClient, Provenance, ScoreMethod, ScoreScale, Seed,
};
use lux::eval::judge::{GEval, GEvalConfig, GEvalMode, LlmJudge, LlmJudgeConfig, parse_score};
use lux::eval::luxella::{BenchmarkItem, Luxella, LuxellaConfig, read_benchmark};
use lux::plugins::ReverseInstruction;
use lux::plugins::generators::ReverseInstructionConfig;
use lux::plugins::llm::{OpenAiCompatible, OpenAiConfig};
use lux::train::gguf::find_smollm2;

/// One server at a time: the tests run on CPU, and servers running side by side would each
/// take the cores the others need (on 2 cores, requests then outlast their timeout).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A llama.cpp server on 127.0.0.1, stopped when dropped.
struct LlamaServer {
    child: Child,
    /// This test's turn; released after the server is stopped (fields drop in order).
    _turn: Option<tokio::sync::MutexGuard<'static, ()>>,
    base_url: String,
    model: String,
    /// The server's log, kept for the message of a failed test.
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The venv's Python, when `scripts/llama-server.sh install` made one.
fn venv_python() -> Option<PathBuf> {
    let venv = std::env::var_os("LUX_LLAMA_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/lux/venvs/llama-server"))
        })?;
    let python = venv.join("bin/python");
    python.is_file().then_some(python)
}

impl LlamaServer {
    /// Starts a server with `parallel` slots when no other test has one, or says why it
    /// cannot (`Err`: skip).
    async fn start(parallel: u32) -> Result<LlamaServer, String> {
        let gguf =
            find_smollm2().ok_or("SmolLM2 GGUF not found (run `bash scripts/fetch-models.sh`)")?;
        let python = venv_python()
            .ok_or("no llama.cpp venv (run `bash scripts/llama-server.sh install`)")?;
        let importable = Command::new(&python)
            .args(["-c", "import xllamacpp"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !importable {
            return Err(format!(
                "xllamacpp is not importable by {}",
                python.display()
            ));
        }
        let turn = ONE_AT_A_TIME.lock().await;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free loopback port: {e}"))?
            .port();
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let log = dir.path().join("server.log");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/llama-server.py");
        let mut child = Command::new(&python)
            .arg(&script)
            .args([
                "--port",
                &port.to_string(),
                "--parallel",
                &parallel.to_string(),
            ])
            .args(["--threads", "2", "--ctx", "2048", "--alias", "smollm2"])
            .arg("--model")
            .arg(&gguf)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).map_err(|e| e.to_string())?)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
        // Wait for the script's `ready URL model NAME` line, on a thread: a read blocks.
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("ready ") {
                    let _ = tx.send(line);
                    return;
                }
            }
        });
        let mut server = LlamaServer {
            child,
            _turn: Some(turn),
            base_url: String::new(),
            model: String::new(),
            log,
            _dir: dir,
        };
        let ready = rx.recv_timeout(Duration::from_secs(180));
        let Ok(line) = ready else {
            panic!(
                "the installed llama.cpp server did not start within 180 s; its log:\n{}",
                server.log_tail()
            );
        };
        let mut words = line.split_whitespace().skip(1);
        server.base_url = words.next().unwrap_or_default().to_string();
        server.model = words.nth(1).unwrap_or_default().to_string();
        eprintln!(
            "llama.cpp server at {} ({} slots), model {}; start command: {} {} --port {port} --model {}",
            server.base_url,
            parallel,
            server.model,
            python.display(),
            script.display(),
            gguf.display()
        );
        Ok(server)
    }

    fn log_tail(&self) -> String {
        let mut text = String::new();
        let _ = std::fs::File::open(&self.log).and_then(|mut f| f.read_to_string(&mut text));
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// An `openai` client of this server.
    fn client(&self) -> OpenAiCompatible {
        let mut c = OpenAiConfig::new(&self.base_url, &self.model);
        // Generous: a loaded CI machine makes a 135M model slow, and a retry would only
        // queue behind the request still running in the server's one slot.
        c.timeout_secs = 600.0;
        c.concurrency = 2;
        OpenAiCompatible::new(c).expect("valid client settings")
    }
}

/// The server, or `None` with the reason printed.
async fn server(parallel: u32) -> Option<LlamaServer> {
    match LlamaServer::start(parallel).await {
        Ok(s) => Some(s),
        Err(why) => {
            eprintln!("skipped: {why}");
            None
        }
    }
}

fn criteria() -> Criteria {
    Criteria {
        name: "correctness".into(),
        description: "Is the answer a correct translation into Luxembourgish?".into(),
        scale: ScoreScale::ONE_TO_FIVE,
    }
}

/// Answers of different quality to one instruction.
fn requests(n: usize) -> Vec<JudgeRequest> {
    [
        "Merci villmools.",
        "Thank you very much.",
        "Ech iessen e Baam.",
    ]
    .into_iter()
    .take(n)
    .map(|response| JudgeRequest {
        instruction: "Translate into Luxembourgish: \"Thank you very much.\"".into(),
        response: response.into(),
        reference: Some("Merci villmools.".into()),
        criteria: criteria(),
    })
    .collect()
}

/// Completion limit of a G-Eval request: room for "The score is 4".
const G_EVAL_MAX_TOKENS: u32 = 8;

/// A G-Eval judge with fixed evaluation steps and the brief form (G-Eval's own form ends in
/// "- correctness:", which SmolLM2's chat turn does not answer with a digit).
fn g_eval(llm: OpenAiCompatible, mode: GEvalMode, n: u32) -> GEval {
    let mut c = GEvalConfig::new(Box::new(llm));
    c.mode = mode;
    c.n = n;
    c.seed = Some(11);
    c.max_tokens = G_EVAL_MAX_TOKENS;
    c.top_logprobs = 10;
    c.form_prompt =
        Some(concat!(env!("CARGO_MANIFEST_DIR"), "/prompts/g_eval.brief.form.txt").into());
    c.steps.insert(
        "correctness".into(),
        "Compare the response with the reference answer: the closer, the higher the score.".into(),
    );
    GEval::new(c).expect("valid g_eval config")
}

/// The probabilities G-Eval states in its reason, `p(1)=0.120 p(4)=0.880` → {1: 0.12, 4: 0.88}.
fn stated_probabilities(reason: &str) -> BTreeMap<u32, f64> {
    reason
        .split_whitespace()
        .filter_map(|w| {
            let (s, p) = w.strip_prefix("p(")?.split_once(")=")?;
            Some((s.parse().ok()?, p.parse().ok()?))
        })
        .collect()
}

/// The score-token distribution of a raw response, computed without lux-eval's helpers: at
/// the first generated token that is "1".."5" (spaces trimmed), the alternatives that are
/// "1".."5", their probabilities summed per digit and normalised.
fn digit_distribution(response: &lux::core::ChatResponse) -> Option<BTreeMap<u32, f64>> {
    let tokens = response.choices[0].logprobs.as_ref()?;
    let digit = |t: &str| -> Option<u32> {
        match t.trim() {
            d @ ("1" | "2" | "3" | "4" | "5") => d.parse().ok(),
            _ => None,
        }
    };
    let at = tokens.iter().find(|t| digit(&t.token).is_some())?;
    let mut dist = BTreeMap::new();
    for alt in &at.top {
        if let Some(d) = digit(&alt.token) {
            *dist.entry(d).or_insert(0.0) += f64::from(alt.logprob).exp();
        }
    }
    if !at.top.iter().any(|alt| alt.token == at.token) {
        *dist.entry(digit(&at.token)?).or_insert(0.0) += f64::from(at.logprob).exp();
    }
    let total: f64 = dist.values().sum();
    Some(dist.into_iter().map(|(d, p)| (d, p / total)).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g_eval_log_prob_mode_reads_llama_cpp_top_logprobs() {
    let Some(server) = server(1).await else {
        return;
    };
    let client = server.client();
    let judge = g_eval(client.clone(), GEvalMode::ProbabilityWeighted, 1);
    let mut weighted = 0;
    for (i, request) in requests(3).iter().enumerate() {
        // The judge's own request, replayed to read the raw log-probs.
        let form = judge.form(request).await.unwrap();
        let mut raw = ChatRequest::new(vec![ChatMessage::user(form.as_str())]);
        raw.temperature = Some(0.0);
        raw.max_tokens = Some(G_EVAL_MAX_TOKENS);
        raw.seed = Some(11);
        raw.top_logprobs = Some(10);
        let response = client.chat(&raw).await.unwrap();
        let tokens = response.choices[0]
            .logprobs
            .as_ref()
            .expect("llama.cpp returns log-probs when asked");
        assert!(!tokens.is_empty() && tokens.iter().all(|t| t.top.len() == 10));
        let dist = digit_distribution(&response).filter(|d| !d.is_empty());
        let answer = response.choices[0].content.clone();

        let outcome = judge.judge(request).await;
        eprintln!("item {i}: answer {answer:?}, digits {dist:?} → {outcome:?}");
        match (outcome, dist) {
            (Ok(j), Some(dist)) => {
                assert_eq!(j.method, ScoreMethod::ProbabilityWeighted);
                assert!((1.0..=5.0).contains(&j.score), "{}", j.score);
                // Greedy decoding of one prompt: the replay saw the judge's tokens. The
                // reason rounds to 3 decimals.
                let stated = stated_probabilities(j.reason.as_deref().unwrap());
                assert_eq!(
                    stated.keys().collect::<Vec<_>>(),
                    dist.keys().collect::<Vec<_>>()
                );
                for (d, p) in &dist {
                    assert!((stated[d] - p).abs() < 2e-3, "p({d}): {} vs {p}", stated[d]);
                }
                let mean: f64 = dist.iter().map(|(d, p)| f64::from(*d) * p).sum();
                assert!((j.score - mean).abs() < 1e-3, "{} vs {mean}", j.score);
                weighted += 1;
            }
            (Ok(j), None) => {
                assert_eq!(j.method, ScoreMethod::Parsed);
                assert!(
                    j.reason
                        .unwrap()
                        .contains("fallback from probability_weighted")
                );
            }
            (Err(e), None) => assert!(
                parse_score(&answer, ScoreScale::ONE_TO_FIVE).is_err(),
                "{e}"
            ),
            (Err(e), Some(dist)) => panic!("item {i}: distribution {dist:?} but error {e}"),
        }
    }
    assert!(weighted > 0, "no score token in any answer");
    assert_eq!(judge.fallbacks(), 3 - weighted);
    let usage = client.usage();
    eprintln!("{usage}");
    // 3 replays + 3 judgements, every one with log-probs.
    assert_eq!(usage.totals.calls, 6);
    assert_eq!(usage.fallbacks.logprobs_missing, 0, "{usage}");
    assert!(usage.totals.prompt_tokens > 6 * 50 && usage.totals.completion_tokens > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g_eval_sampling_mode_splits_n_that_llama_cpp_refuses() {
    const SLOTS: u32 = 2;
    const N: u32 = 6;
    let Some(server) = server(SLOTS).await else {
        return;
    };
    let client = server.client();
    let judge = g_eval(client.clone(), GEvalMode::SampleMean, N);
    let items = requests(2);
    for request in &items {
        match judge.judge(request).await {
            Ok(j) => {
                let ScoreMethod::SampleMean { n } = j.method else {
                    panic!("{:?}", j.method)
                };
                assert!((1..=N).contains(&n));
                assert!((1.0..=5.0).contains(&j.score), "{}", j.score);
                let left_out = j.reason.as_deref().unwrap_or_default();
                if n < N {
                    assert!(
                        left_out.contains(&format!("{} of {N} samples", N - n)),
                        "{left_out}"
                    );
                }
            }
            Err(e) => assert!(e.to_string().contains("no sample had a score"), "{e}"),
        }
    }
    let usage = client.usage();
    eprintln!("{usage}");
    // The first request asks for n = 6 and is refused ("Value must be between 1 <= value
    // <= 2"); from then on every judgement is 3 requests of n = 2.
    assert_eq!(
        usage.http_requests,
        1 + items.len() as u64 * u64::from(N / SLOTS),
        "{usage}"
    );
    assert_eq!(usage.fallbacks.n_split, items.len() as u64, "{usage}");
    assert_eq!(usage.fallbacks.n_topped_up, 0, "{usage}");
    assert_eq!(usage.totals.calls, items.len() as u64);
    // llama.cpp's `usage` of an n > 1 answer counts one choice's completion tokens (measured:
    // 3 choices of 3 tokens, `completion_tokens` 3), so only a lower bound holds: one token per
    // request at least.
    assert!(usage.totals.completion_tokens >= u64::from(N / SLOTS) * items.len() as u64);
}

fn seed_items(n_per_difficulty: usize) -> Vec<BenchmarkItem> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/luxella_seed.jsonl");
    let all = read_benchmark(path).unwrap();
    let mut out = Vec::new();
    for d in ["beginner", "native"] {
        out.extend(
            all.iter()
                .filter(|i| i.difficulty == d)
                .take(n_per_difficulty)
                .cloned(),
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn luxella_judge_gets_schema_constrained_json_from_llama_cpp() {
    let Some(server) = server(1).await else {
        return;
    };
    let client = server.client();
    let mut config = LlmJudgeConfig::new(Box::new(client.clone()));
    config.max_tokens = Some(64);
    let judge = LlmJudge::new(config).unwrap();
    let id = judge.id();
    let lux = Luxella::new(LuxellaConfig::new(Box::new(judge))).unwrap();
    let items = seed_items(1);
    let mut answers: Vec<Option<String>> = items
        .iter()
        .map(|i| Some(i.reference_answer.clone()))
        .collect();
    answers[1] = Some("I do not know.".into());
    let result = lux.judge_answers("references", &items, &answers).await;
    assert_eq!(result.items.len(), items.len());
    let mut scored = 0;
    for (item, r) in items.iter().zip(&result.items) {
        eprintln!("{} → {:?} {:?} {:?}", item.id, r.score, r.reason, r.error);
        match (r.score, &r.error) {
            (Some(s), None) => {
                assert!((1.0..=5.0).contains(&s) && s.fract() == 0.0, "{s}");
                assert_eq!(r.method, Some(ScoreMethod::Parsed));
                scored += 1;
            }
            (None, Some(e)) => {
                assert!(e.starts_with("judge: ") && e.contains(&id), "{e}");
                assert!(e.contains("unparseable answer"), "{e}");
            }
            other => panic!("an item is either scored or failed, not {other:?}"),
        }
    }
    let usage = client.usage();
    eprintln!("{usage}");
    assert_eq!(usage.totals.calls, items.len() as u64);
    // llama.cpp takes `json_schema` (it compiles it to a grammar): no format fallback, and an
    // answer is text only when cut by max_tokens, which the judge then reports as unparsed.
    assert_eq!(usage.fallbacks.response_format_json_object, 0, "{usage}");
    assert_eq!(usage.fallbacks.response_format_none, 0, "{usage}");
    assert_eq!(
        usage.fallbacks.text_for_json as usize,
        items.len() - scored,
        "every unparsed answer is counted, and only those: {usage}"
    );
}

/// Luxembourgish documents long enough for the generator (≥ 200 characters).
fn documents() -> Vec<Document> {
    [
        "D'Stad Lëtzebuerg ass d'Haaptstad vum Grand-Duché. Si läit um Zesummefloss vun der \
         Uelzecht an der Péitruss.\n\nD'Alstad an d'Festungsmaueren stinn zanter 1994 op der \
         Lëscht vum Weltierfgutt vun der UNESCO. Vill Touristen besichen all Joer d'Kasematten.",
        "D'Musel ass e Floss, deen duerch Frankräich, Lëtzebuerg an Däitschland fléisst. Laanscht \
         hir Ufer gëtt zanter der Réimerzäit Wäin ugebaut.\n\nDe Crémant an de Riesling vun der \
         Musel sinn iwwert d'Grenzen eraus bekannt, an all Hierscht gëtt et Wäifester an den \
         Dierfer.",
    ]
    .into_iter()
    .enumerate()
    .map(|(i, text)| Document {
        id: format!("doc-{i}"),
        lang: Lang::LB,
        title: None,
        text: text.into(),
        provenance: Provenance::new("real-server-test", "CC0-1.0"),
        metadata: BTreeMap::new(),
    })
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reverse_instructions_from_llama_cpp() {
    let Some(server) = server(1).await else {
        return;
    };
    let client = server.client();
    let mut config = ReverseInstructionConfig::new(Box::new(client.clone()));
    config.max_tokens = Some(160);
    config.min_span_chars = 20;
    let mut generator = ReverseInstruction::new(config).unwrap();
    let ctx = GenerateContext::new(7, Lang::LB, vec![Lang::EN]);
    generator.prepare(&ctx).unwrap();
    let docs = documents();
    let (mut examples, mut rejected, mut invalid_json) = (0, 0, 0);
    for doc in &docs {
        let seed = Seed::Document(doc.clone());
        assert!(generator.accepts(&seed));
        let generation = generator.generate(&seed, &ctx).await.unwrap();
        for e in &generation.examples {
            eprintln!("{}: example {:?} → {:?}", doc.id, e.instruction, e.output);
            // The output is the document's own text, never the model's.
            assert!(doc.text.contains(e.output.trim()), "{:?}", e.output);
            assert!(!e.instruction.trim().is_empty());
        }
        for r in &generation.rejected {
            eprintln!("{}: rejected: {}", doc.id, r.reason);
            assert!(!r.reason.is_empty());
            invalid_json += usize::from(r.reason.starts_with("invalid JSON"));
        }
        assert_eq!(generation.examples.len() + generation.rejected.len(), 1);
        examples += generation.examples.len();
        rejected += generation.rejected.len();
    }
    let usage = client.usage();
    eprintln!("{examples} examples, {rejected} rejected; {usage}");
    assert_eq!(usage.totals.calls, docs.len() as u64);
    assert_eq!(usage.totals.failed, 0);
    assert!(usage.totals.prompt_tokens > 100 * docs.len() as u64);
    assert!(usage.totals.completion_tokens > 0);
    assert_eq!(usage.fallbacks.response_format_json_object, 0, "{usage}");
    // The schema is enforced, so an answer is not JSON only when cut at max_tokens, and the
    // generator rejects exactly those as invalid JSON.
    assert_eq!(
        usage.fallbacks.text_for_json as usize, invalid_json,
        "{usage}"
    );
}
