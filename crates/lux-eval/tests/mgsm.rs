//! MGSM-style extraction per language, scoring, and the bundled problem set.

use std::collections::{BTreeMap, BTreeSet};

use lux_core::Lang;
use lux_eval::mgsm::{
    AnswerExtractor, AnswerExtractorConfig, ExtractionMethod, LANGUAGES, MgsmMiniConfig,
    MgsmScorer, Number, bundled, extract_answer, find_numbers, generate, write_jsonl,
};

fn lang(code: &str) -> Lang {
    Lang::new(code).unwrap()
}

/// `(response, expected answer, expected method)` for one language.
fn check(code: &str, cases: &[(&str, Option<&str>, ExtractionMethod)]) {
    for (text, want, method) in cases {
        let e = extract_answer(text, &lang(code));
        let want = want.map(|w| Number::parse(w).unwrap());
        assert_eq!((e.answer, e.method), (want, *method), "{code}: {text:?}");
        if let Some(span) = &e.span {
            // The span points at the number as written.
            let written = &text[span.clone()];
            assert!(
                written.chars().any(|c| c.is_ascii_digit()),
                "{code}: span {written:?} of {text:?}"
            );
        }
    }
}

use ExtractionMethod::{LastNumber, None as NoAnswer, Phrase};

#[test]
fn english() {
    check(
        "en",
        &[
            (
                "Tom has 23 − 16 = 7 apples left. The answer is 7.",
                Some("7"),
                Phrase,
            ),
            ("The answer is 1,234.", Some("1234"), Phrase),
            ("THE ANSWER IS: $1,234.50", Some("1234.5"), Phrase),
            ("**The answer is 42**", Some("42"), Phrase),
            ("The answer is **42**.", Some("42"), Phrase),
            ("The final answer is -5.", Some("-5"), Phrase),
            ("The answer is −12 degrees.", Some("-12"), Phrase),
            ("The answer is 3.5 km.", Some("3.5"), Phrase),
            ("The answer is 1.234", Some("1.234"), Phrase),
            ("The answer is 1 234 000 people", Some("1234000"), Phrase),
            ("The answer is 1'234", Some("1234"), Phrase),
            (
                "The answer is 7 apples.\nCheck: 7 + 16 = 23.",
                Some("7"),
                Phrase,
            ),
            (
                "I think the answer is 5. Wait, 2 + 4 = 6, so the answer is 6.",
                Some("6"),
                Phrase,
            ),
            ("The answer is:\n\n**12**", Some("12"), Phrase),
            ("The answer is that she keeps 9 apples", Some("9"), Phrase),
            (
                "The answer is below.\nShe has 4 + 5 = 9",
                Some("9"),
                LastNumber,
            ),
            ("The answer is unclear. 3 + 4 = 7", Some("7"), LastNumber),
            ("She pays 5 * 3 = 15 euros.", Some("15"), LastNumber),
            ("15 euros.", Some("15"), LastNumber),
            ("I cannot solve this.", None, NoAnswer),
            ("", None, NoAnswer),
            ("The answer isn't obvious, maybe 9", Some("9"), LastNumber),
        ],
    );
}

#[test]
fn luxembourgish() {
    check(
        "lb",
        &[
            (
                "Den Tom huet 23 − 16 = 7 Äppel. D'Äntwert ass 7.",
                Some("7"),
                Phrase,
            ),
            ("D'Äntwert ass: 7", Some("7"), Phrase),
            ("D’Äntwert ass: **7 Äppel**", Some("7"), Phrase),
            ("**D'Äntwert ass:** 1.234 Euro", Some("1234"), Phrase),
            ("d'äntwert ass 3,5 km.", Some("3.5"), Phrase),
            ("D'ÄNTWERT ASS 10,50 €", Some("10.5"), Phrase),
            ("D'Äntwert ass 1 234", Some("1234"), Phrase),
            ("D'Äntwert ass -4.", Some("-4"), Phrase),
            (
                "D'Lena bezilt 6 × 1,75 = 10,50 Euro.",
                Some("10.5"),
                LastNumber,
            ),
            ("Hatt huet 1.500 Euro gespuert.", Some("1500"), LastNumber),
            ("Keng Ahnung.", None, NoAnswer),
            // An English phrase in a Luxembourgish answer reads numbers the English way.
            ("D'Rechnung: 2 + 3. The answer is 1,5", Some("1.5"), Phrase),
        ],
    );
}

#[test]
fn german() {
    check(
        "de",
        &[
            ("Die Antwort lautet 42.", Some("42"), Phrase),
            ("Die Antwort ist: 1.234,5 Euro", Some("1234.5"), Phrase),
            ("die antwort lautet **3,75 €**", Some("3.75"), Phrase),
            (
                "Die endgültige Antwort ist 2.500.000.",
                Some("2500000"),
                Phrase,
            ),
            ("Die Antwort lautet −3,5 Grad", Some("-3.5"), Phrase),
            ("Die Antwort lautet 1 234,5", Some("1234.5"), Phrase),
            ("Die Antwort ist 0,5", Some("0.5"), Phrase),
            ("Sie zahlt 1.234,50 €.", Some("1234.5"), LastNumber),
            (
                "Er hat 12 Äpfel und gibt 5 ab, also 7.",
                Some("7"),
                LastNumber,
            ),
            ("Die Antwort ist 1.234", Some("1234"), Phrase),
            ("Die Antwort ist 3.5", Some("3.5"), Phrase),
        ],
    );
}

#[test]
fn french() {
    check(
        "fr",
        &[
            ("La réponse est 42.", Some("42"), Phrase),
            ("La réponse est : 18 €.", Some("18"), Phrase),
            ("La réponse est 1 234,5.", Some("1234.5"), Phrase),
            ("La réponse est 1\u{202f}234 euros", Some("1234"), Phrase),
            ("La réponse est 1\u{a0}234,50 €", Some("1234.5"), Phrase),
            ("la reponse est 3,5", Some("3.5"), Phrase),
            ("LA RÉPONSE EST **-7**", Some("-7"), Phrase),
            ("La réponse finale est 12.", Some("12"), Phrase),
            ("Il lui reste 2,5 litres.", Some("2.5"), LastNumber),
            ("Aucune idée.", None, NoAnswer),
        ],
    );
}

#[test]
fn spans_point_at_the_written_number() {
    let text = "D'Äntwert ass: **1.234,50 €**";
    let e = extract_answer(text, &Lang::LB);
    assert_eq!(&text[e.span.unwrap()], "1.234,50");
    let text = "Total: −12 °C";
    let e = extract_answer(text, &Lang::EN);
    assert_eq!(&text[e.span.unwrap()], "−12");
    let found = find_numbers("3,5 und 1.000", &Lang::DE);
    assert_eq!(found.len(), 2);
    assert_eq!(
        (found[0].0.clone(), found[0].1.to_string()),
        (0..3, "3.5".to_string())
    );
    assert_eq!(found[1].1.to_string(), "1000");
}

#[test]
fn exact_match_compares_decimals_by_value() {
    let e = extract_answer("The answer is 7.50", &Lang::EN);
    assert!(e.is_correct(&Number::parse("7.5").unwrap()));
    assert!(!e.is_correct(&Number::integer(7)));
    let e = extract_answer("D'Äntwert ass 18,0", &Lang::LB);
    assert!(e.is_correct(&Number::integer(18)));
}

#[test]
fn extractor_settings_extend_to_new_languages() {
    let mut config = AnswerExtractorConfig::default();
    config
        .phrases
        .insert("pt".into(), vec!["a resposta é".into()]);
    let x = config.init().unwrap();
    let e = x.extract("Então, a resposta é 3,5 km", &lang("pt"));
    assert_eq!(
        (e.answer, e.method),
        (Some(Number::parse("3.5").unwrap()), Phrase)
    );
    let strict = AnswerExtractorConfig {
        last_number_fallback: false,
        ..Default::default()
    }
    .init()
    .unwrap();
    assert_eq!(strict.extract("It is 5", &Lang::EN).method, NoAnswer);
    let bad = AnswerExtractorConfig {
        phrases: BTreeMap::from([("en".into(), vec!["  ".into()])]),
        ..Default::default()
    };
    assert!(
        bad.init()
            .unwrap_err()
            .to_string()
            .contains("extractor.phrases.en[0]")
    );
    let toml_config: AnswerExtractorConfig =
        toml::from_str("last_number_fallback = false\n[phrases]\nlb = [\"d'äntwert ass\"]")
            .unwrap();
    let x = toml_config.init().unwrap();
    assert_eq!(x.extract("The answer is 3", &Lang::EN).method, NoAnswer);
    assert_eq!(x.extract("D'Äntwert ass 3", &Lang::LB).method, Phrase);
}

// ---------------------------------------------------------------------------------------------
// The bundled set

#[test]
fn bundled_file_is_what_the_generator_makes() {
    let generated = generate(&MgsmMiniConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mgsm_mini.jsonl");
    write_jsonl(&generated, &path).unwrap();
    let fresh = std::fs::read_to_string(&path).unwrap();
    let committed = include_str!("../data/mgsm_mini.jsonl");
    assert!(
        fresh == committed,
        "data/mgsm_mini.jsonl is stale: run `cargo run -p lux-eval --example write_mgsm_mini`"
    );
    assert_eq!(bundled().unwrap(), generated);
}

#[test]
fn bundled_set_has_the_same_problems_in_four_languages() {
    let problems = bundled().unwrap();
    assert_eq!(problems.len(), 52 * 4);
    let templates: BTreeSet<&str> = problems.iter().map(|p| p.template.as_str()).collect();
    assert!(templates.len() >= 10, "{templates:?}");
    let mut by_id: BTreeMap<&str, Vec<&lux_eval::mgsm::MgsmProblem>> = BTreeMap::new();
    for p in &problems {
        by_id.entry(&p.id).or_default().push(p);
    }
    assert_eq!(by_id.len(), 52);
    for (id, ps) in &by_id {
        let langs: Vec<&str> = ps.iter().map(|p| p.lang.code()).collect();
        assert_eq!(langs, LANGUAGES, "{id}");
        assert!(
            ps.iter()
                .all(|p| p.answer == ps[0].answer && p.template == ps[0].template),
            "{id}"
        );
        assert!(ps[0].answer > Number::integer(0), "{id}");
        // Every number in the question appears, in every language.
        let count = |q: &str| q.chars().filter(|c| c.is_ascii_digit()).count();
        assert!(
            ps.iter()
                .all(|p| count(&p.question) == count(&ps[0].question)),
            "{id}"
        );
    }
    let decimals = problems.iter().filter(|p| !p.answer.is_integer()).count();
    assert!(decimals > 0, "some answers are decimals");
    // Different seeds give different numbers, the same ids and templates.
    let other = generate(&MgsmMiniConfig {
        seed: 7,
        per_template: 1,
    })
    .unwrap();
    assert_eq!(other.len(), 13 * 4);
    assert_eq!(other[0].id, "mgsm-mini-001");
    assert!(
        generate(&MgsmMiniConfig {
            seed: 7,
            per_template: 0
        })
        .is_err()
    );
}

#[test]
fn luxembourgish_follows_the_n_rule_and_neuter_girls_names() {
    let problems = bundled().unwrap();
    let lb: Vec<&str> = problems
        .iter()
        .filter(|p| p.lang.code() == "lb")
        .map(|p| p.question.as_str())
        .collect();
    for q in &lb {
        for w in q.split_whitespace().collect::<Vec<_>>().windows(2) {
            let (word, next) = (w[0].to_lowercase(), w[1]);
            let first = next.chars().next().unwrap().to_lowercase().next().unwrap();
            if ["den", "hien", "an", "een", "en"].contains(&word.as_str()) && first.is_alphabetic()
            {
                assert!(
                    "aeiouäëéöündtzh".contains(first),
                    "n-rule broken in {q:?}: {word} {next}"
                );
            }
        }
        assert!(!q.contains("Si "), "{q}");
    }
    let give_away = lb
        .iter()
        .find(|q| q.contains("Äppel. Hatt gëtt dem"))
        .expect("a girl gives apples");
    assert!(give_away.starts_with("D'"), "{give_away}");
    assert!(
        lb.iter()
            .any(|q| q.starts_with("Den Tom") || q.starts_with("Den David"))
    );
    assert!(
        lb.iter()
            .any(|q| q.contains("Hie gëtt") || q.contains("Hie bäckt"))
    );
    assert!(
        lb.iter().any(|q| q.contains(" kascht ") && q.contains(',')),
        "decimal commas in lb"
    );
}

// ---------------------------------------------------------------------------------------------
// Scoring

#[test]
fn accuracy_per_language_table() {
    let problems = bundled().unwrap();
    let first: Vec<_> = problems.iter().take(8).collect(); // problems 001 and 002 in 4 languages
    let responses: Vec<String> = first
        .iter()
        .enumerate()
        .map(|(i, p)| match (p.lang.code(), i) {
            ("en", _) => format!("So the answer is {}.", p.answer),
            ("lb", 1) => "Keng Ahnung.".to_string(),
            ("lb", _) => format!("D'Äntwert ass: **{}**", p.answer),
            ("de", _) => format!("Also bleiben {} übrig.", p.answer),
            (_, _) => "La réponse est 0.".to_string(),
        })
        .collect();
    let report = MgsmScorer::default().score(
        first
            .iter()
            .copied()
            .zip(responses.iter().map(String::as_str)),
    );
    let row = |l: &str| report.language(l).unwrap().clone();
    assert_eq!(
        (row("en").correct, row("en").total, row("en").by_phrase),
        (2, 2, 2)
    );
    assert_eq!((row("lb").correct, row("lb").no_answer), (1, 1));
    assert_eq!((row("de").correct, row("de").by_last_number), (2, 2));
    assert_eq!(row("fr").correct, 0);
    assert_eq!((report.overall.correct, report.overall.total), (5, 8));
    assert_eq!(report.items.len(), 8);
    let md = report.to_markdown();
    assert!(
        md.starts_with("| language | correct | total | accuracy | phrase | last number | none |"),
        "{md}"
    );
    assert!(md.contains("| lb | 1 | 2 | 50.0% | 1 | 0 | 1 |"), "{md}");
    assert!(md.contains("| **all** | 5 | 8 | 62.5% |"), "{md}");
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["languages"][0]["lang"], "en");
    assert_eq!(json["items"][0]["extraction"]["method"], "phrase");
}

#[test]
fn gold_answers_of_the_set_are_extracted_from_their_own_text() {
    // Each language's canonical answer sentence round-trips through the extractor.
    let x = AnswerExtractor::default();
    for p in bundled().unwrap() {
        let written = match p.lang.code() {
            "en" => format!("The answer is {}.", p.answer),
            "lb" => format!("D'Äntwert ass {}.", p.answer.to_string().replace('.', ",")),
            "de" => format!(
                "Die Antwort lautet {}.",
                p.answer.to_string().replace('.', ",")
            ),
            _ => format!(
                "La réponse est {} euros.",
                p.answer.to_string().replace('.', ",")
            ),
        };
        let e = x.extract(&written, &p.lang);
        assert!(
            e.is_correct(&p.answer),
            "{}: {written} → {:?}",
            p.id,
            e.answer
        );
    }
}
