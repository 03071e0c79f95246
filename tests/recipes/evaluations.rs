//! The answer-scoring evaluations of a recipe, end to end on a tiny random model:
//! `judge_panel` (three judges over a `local` client, their agreement, failures recorded per
//! answer) and `chrf` (corpus chrF/chrF++ and Metric plugins), and the errors a recipe gets
//! for a judge or metric that does not exist.

use std::collections::BTreeMap;
use std::path::Path;

use lux::eval::chrf::ChrfConfig;
use lux::{Recipe, Run, RunSettings};
use serde_json::Value;

use super::support::repo_root;

/// A recipe with one SFT step (so there are two systems) and the two evaluations, the judges
/// reading a form prompt and a model that exist only beside the recipe (`model_dir` must be
/// its `tiny-llama`).
fn recipe(model_dir: &Path) -> String {
    let data = repo_root().join("data");
    format!(
        r#"
name = "tiny-evals"
seed = 11

[data]
native = "lb"
instruction_langs = ["en", "fr"]
max_seeds_per_source = 60

[[data.sources]]
type = "parallel_jsonl"
path = "{parallel}"

[[data.generators]]
type = "sentence_translation"

[mix]
validation_ratio = 0.2

[model]
path = "{model}"

[[train]]
type = "sft"
learning_rate = 1e-3
max_steps = 1
per_device_train_batch_size = 2
max_seq_length = 256
max_validation_examples = 2
adapter = {{ type = "lora", r = 2, lora_alpha = 4.0, target_modules = ["q_proj"] }}

[[eval]]
type = "judge_panel"
max_examples = 3
max_new_tokens = 6
batch_size = 3
criteria = [
  {{ name = "correctness", description = "Is it a correct translation?", scale = {{ min = 1, max = 5 }} }},
]
aggregation = {{ method = "median" }}
concurrency = 2
judges = [
  {{ type = "g_eval", id = "weighted", mode = "probability_weighted", top_logprobs = 8, max_tokens = 3, form_prompt = "judge-form.txt", steps = {{ correctness = "Compare with the reference." }}, llm = {{ type = "local", path = "tiny-llama" }} }},
  {{ type = "g_eval", id = "sampled", mode = "sample_mean", n = 2, max_tokens = 3, seed = 5, form_prompt = "judge-form.txt", steps = {{ correctness = "Compare with the reference." }}, llm = {{ type = "local", path = "tiny-llama" }} }},
  {{ type = "llm_judge", id = "json", max_tokens = 8, llm = {{ type = "local", path = "tiny-llama" }} }},
]

[[eval]]
type = "chrf"
max_examples = 3
max_new_tokens = 6
batch_size = 3
chrf_plus_plus = true
metrics = [{{ type = "chrf", lowercase = true }}]
"#,
        parallel = data.join("parallel.jsonl").display(),
        model = model_dir.display(),
    )
}

fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn judge_panel_and_chrf_score_every_system_on_a_tiny_model() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("tiny-llama");
    lux::train::testing::write_tiny_llama(&model, 13).unwrap();
    // Only beside the recipe: the judges must read it against the recipe's directory.
    std::fs::write(
        dir.path().join("judge-form.txt"),
        "Score {criterion} from {min} to {max}: {criterion_description}\n{steps}\n\
         Instruction: {instruction}\nReference: {reference}\nResponse: {response}\nScore:",
    )
    .unwrap();
    let recipe_path = dir.path().join("evals.toml");
    std::fs::write(&recipe_path, recipe(&model)).unwrap();
    let run_dir = dir.path().join("run");
    let run = Run::new(
        Recipe::load(&recipe_path).unwrap(),
        RunSettings {
            out: Some(run_dir.clone()),
            ..RunSettings::default()
        },
    )
    .unwrap();
    // Three judges with equal `llm` tables: one client (one loaded model) in the run, its
    // relative path resolved against the recipe's directory, not the working directory.
    let resources = format!("{:?}", run.resources());
    assert_eq!(resources.matches("llm:").count(), 1, "{resources}");
    assert!(
        resources.contains(&model.display().to_string()),
        "{resources}"
    );

    let report = run.execute().await.unwrap();
    // The local judges' requests are in the report's LLM usage, as an endpoint's would be.
    let local = report
        .llm_usage
        .iter()
        .find(|u| u["base_url"] == "local" && u["calls"].as_u64() > Some(0))
        .unwrap_or_else(|| panic!("no local client in {:?}", report.llm_usage));
    assert!(local["completion_tokens"].as_u64().unwrap() > 0, "{local}");
    let names: Vec<&str> = report.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["data", "mix", "sft", "judge_panel", "chrf"]);

    // judge_panel: 2 systems × 3 answers, each judged by 3 judges.
    let panel = &report.stages[3].output.summary;
    assert_eq!(panel["systems"], serde_json::json!(["base", "sft"]));
    assert_eq!(
        panel["judges"],
        serde_json::json!(["weighted", "sampled", "json"])
    );
    let eval_dir = run_dir.join("eval/judge_panel");
    let answers = read_jsonl(&eval_dir.join("answers.jsonl"));
    assert_eq!(answers.len(), 6);
    let criterion = &panel["criteria"][0];
    assert_eq!(criterion["criterion"], "correctness");
    let items = read_jsonl(&eval_dir.join("judgements.correctness.jsonl"));
    assert_eq!(items.len(), 6);
    let mut failed = [0usize; 3];
    let mut panel_scores: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        assert_eq!(item["item"], i);
        assert_eq!(item["system"], answers[i]["system"]);
        let outcomes = item["outcomes"].as_array().unwrap();
        assert_eq!(outcomes.len(), 3);
        let mut scores = Vec::new();
        for (j, o) in outcomes.iter().enumerate() {
            // Exactly one of a judgement (on the scale) and an error, never a default score.
            match (o.get("judgement"), o.get("error")) {
                (Some(jm), None) => {
                    let s = jm["score"].as_f64().unwrap();
                    assert!((1.0..=5.0).contains(&s), "{o}");
                    scores.push(s);
                }
                (None, Some(e)) => {
                    assert!(!e.as_str().unwrap().is_empty());
                    failed[j] += 1;
                }
                _ => panic!("outcome with both or neither: {o}"),
            }
        }
        // The median of the judges that answered, or none.
        scores.sort_by(f64::total_cmp);
        let expected = match scores.len() {
            0 => None,
            k if k % 2 == 1 => Some(scores[k / 2]),
            k => Some((scores[k / 2 - 1] + scores[k / 2]) / 2.0),
        };
        assert_eq!(item["score"].as_f64(), expected, "{item}");
        if let Some(s) = expected {
            panel_scores
                .entry(item["system"].as_str().unwrap().to_string())
                .or_default()
                .push(s);
        }
    }
    let reported: Vec<u64> = criterion["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["failed"].as_u64().unwrap())
        .collect();
    assert_eq!(reported, failed.map(|f| f as u64));
    for s in criterion["systems"].as_array().unwrap() {
        let got = panel_scores.get(s["system"].as_str().unwrap());
        let mean = got.map(|v| v.iter().sum::<f64>() / v.len() as f64);
        match (s["panel_mean"].as_f64(), mean) {
            (Some(a), Some(b)) => assert!((a - b).abs() < 1e-9, "{s}"),
            (a, b) => assert_eq!(a, b, "{s}"),
        }
        assert_eq!(
            s["unscored"].as_u64().unwrap() + s["scored"].as_u64().unwrap(),
            3
        );
    }
    assert!(criterion["agreement"].get("alpha_interval").is_some());
    for file in [
        "panel.correctness.md",
        "panel.correctness.json",
        "judge_panel.json",
    ] {
        assert!(eval_dir.join(file).exists(), "{file} missing");
    }

    // chrf: the same answers (generated once), scored against the references.
    let chrf_dir = run_dir.join("eval/chrf");
    let rows = read_jsonl(&chrf_dir.join("answers.jsonl"));
    assert_eq!(rows.len(), 6);
    for (r, a) in rows.iter().zip(&answers) {
        assert_eq!(r["answer"], a["answer"], "one set of answers per run");
    }
    let summary = &report.stages[4].output.summary;
    let chrf = ChrfConfig::chrf().init().unwrap();
    let lower = ChrfConfig {
        lowercase: true,
        ..ChrfConfig::chrf()
    }
    .init()
    .unwrap();
    for (s, system) in summary["systems"]
        .as_array()
        .unwrap()
        .iter()
        .zip(["base", "sft"])
    {
        assert_eq!(s["system"], system);
        let mine: Vec<&Value> = rows.iter().filter(|r| r["system"] == system).collect();
        let hyp: Vec<&str> = mine.iter().map(|r| r["answer"].as_str().unwrap()).collect();
        let refs: Vec<&str> = mine
            .iter()
            .map(|r| r["reference"].as_str().unwrap())
            .collect();
        let overall = &s["overall"];
        let expect = chrf.corpus_score(&hyp, &refs).unwrap();
        assert!(
            (overall["chrf"].as_f64().unwrap() - expect).abs() < 1e-9,
            "{overall}"
        );
        let pp = overall["chrf++"].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&pp));
        let expect = lower.corpus_score(&hyp, &refs).unwrap();
        assert!((overall["metrics"]["chrf"].as_f64().unwrap() - expect).abs() < 1e-9);
        // Groups partition the answers.
        let n: u64 = s["groups"]
            .as_object()
            .unwrap()
            .values()
            .map(|g| g["n"].as_u64().unwrap())
            .sum();
        assert_eq!(n, 3);
    }
    let md = std::fs::read_to_string(run_dir.join("report.md")).unwrap();
    for section in [
        "## eval `judge_panel`",
        "## eval `chrf`",
        "Krippendorff",
        "chrF++",
    ] {
        assert!(md.contains(section), "{section} missing in\n{md}");
    }
}

fn parse(text: &str) -> String {
    Recipe::from_toml(text, Path::new("my-recipe.toml"), ".".into())
        .unwrap_err()
        .to_string()
}

#[test]
fn an_unknown_judge_or_metric_names_the_file_the_line_and_the_known_ones() {
    let e = parse(
        "name = \"t\"\n\n[[eval]]\ntype = \"judge_panel\"\n\
         criteria = [{ name = \"c\", description = \"d\", scale = { min = 1, max = 5 } }]\n\
         judges = [\n  { type = \"g_evall\", llm = { type = \"local\", model = \"smollm2\" } },\n]\n",
    );
    assert!(
        e.contains("my-recipe.toml")
            && e.contains("line 3")
            && e.contains("g_evall")
            && e.contains("written on line 7")
            && e.contains("`g_eval`")
            && e.contains("`llm_judge`"),
        "{e}"
    );
    let e = parse("name = \"t\"\n\n[[eval]]\ntype = \"chrf\"\nmetrics = [{ type = \"chrff\" }]\n");
    assert!(
        e.contains("my-recipe.toml")
            && e.contains("line 3")
            && e.contains("chrff")
            && e.contains("written on line 5")
            && e.contains("`chrf`")
            && e.contains("`linear_cka`"),
        "{e}"
    );
    // A judge's own settings are checked with the same care.
    let e = parse(
        "name = \"t\"\n\n[[eval]]\ntype = \"judge_panel\"\n\
         criteria = [{ name = \"c\", description = \"d\", scale = { min = 1, max = 5 } }]\n\
         judges = [{ type = \"llm_judge\", temprature = 0.5, llm = { type = \"local\", model = \"smollm2\" } }]\n",
    );
    assert!(
        e.contains("my-recipe.toml") && e.contains("temprature"),
        "{e}"
    );
}
