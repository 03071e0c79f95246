//! [`WordProblem`]: `type = "word_problem"` — an instruction example from each word problem.

use async_trait::async_trait;
use lux_core::{
    Error, Example, GenerateContext, Generation, InstructionGenerator, Result, Seed, TaskKind, rng,
};
use serde::{Deserialize, Serialize};

/// One example per word problem (a document with `metadata.answer`, as the `word_problems`
/// source yields): the instruction is the question, the output the answer written as
/// `answer_template` says — the form the `mgsm` evaluation scores the gold answer's loss in,
/// and the one its answer extractor reads.
///
/// ```toml
/// [[data.generators]]
/// type = "word_problem"
/// answer_template = "The answer is {answer}."
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WordProblem {
    /// The output, `{answer}` standing for the number. Default `The answer is {answer}.`.
    #[serde(default = "default_answer_template")]
    pub answer_template: String,
    /// Task name of the examples. Default `math_word_problem`.
    #[serde(default = "default_task")]
    pub task: String,
}

/// The answer form both the generator and the `mgsm` evaluation default to.
pub const DEFAULT_ANSWER_TEMPLATE: &str = "The answer is {answer}.";

fn default_answer_template() -> String {
    DEFAULT_ANSWER_TEMPLATE.into()
}
fn default_task() -> String {
    "math_word_problem".into()
}

impl Default for WordProblem {
    fn default() -> WordProblem {
        WordProblem {
            answer_template: default_answer_template(),
            task: default_task(),
        }
    }
}

/// `template` with `{answer}` replaced; an error when the template has no `{answer}`.
pub fn render_answer(template: &str, answer: &str) -> Result<String> {
    if !template.contains("{answer}") {
        return Err(Error::invalid(
            "answer_template",
            format!("`{template}` has no `{{answer}}`"),
        ));
    }
    Ok(template.replace("{answer}", answer))
}

#[typetag::serde(name = "word_problem")]
#[async_trait]
impl InstructionGenerator for WordProblem {
    fn prepare(&mut self, _ctx: &GenerateContext) -> Result<()> {
        render_answer(&self.answer_template, "1")?;
        TaskKind::new(&self.task).map(|_| ())
    }

    fn accepts(&self, seed: &Seed) -> bool {
        matches!(seed, Seed::Document(d) if d.metadata.get("answer").is_some_and(|a| a.is_string()))
    }

    async fn generate(&self, seed: &Seed, ctx: &GenerateContext) -> Result<Generation> {
        let Seed::Document(d) = seed else {
            return Ok(Generation::default());
        };
        let Some(answer) = d.metadata.get("answer").and_then(|a| a.as_str()) else {
            return Ok(Generation::default());
        };
        let example = Example {
            id: rng::id(&format!("{}/word_problem/{}", ctx.seed, d.id)),
            task: TaskKind::new(&self.task)?,
            instruction: d.text.clone(),
            instruction_lang: d.lang.clone(),
            input: None,
            output: render_answer(&self.answer_template, answer)?,
            output_lang: d.lang.clone(),
            source: String::new(),
            license: String::new(),
            seed_id: d.id.clone(),
            generator: "word_problem".into(),
            template: d
                .metadata
                .get("template")
                .and_then(|t| t.as_str())
                .unwrap_or_default()
                .to_string(),
        }
        .with_provenance(&d.provenance);
        Ok(Generation::of(vec![example]))
    }
}

#[cfg(test)]
mod tests {
    use lux_core::{Lang, SeedSource, SourceContext};

    use super::*;
    use crate::mgsm::WordProblems;

    #[test]
    fn the_question_in_and_the_answer_in_its_template_out() {
        let source = WordProblems {
            seed: 7,
            per_template: 1,
            languages: vec![Lang::EN],
        };
        let seed = source
            .open(&SourceContext::default())
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        let mut g = WordProblem::default();
        let ctx = GenerateContext::new(1, Lang::LB, vec![Lang::EN]);
        g.prepare(&ctx).unwrap();
        assert!(g.accepts(&seed));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let ex = rt.block_on(g.generate(&seed, &ctx)).unwrap().examples;
        let Seed::Document(d) = &seed else { panic!() };
        assert_eq!(ex.len(), 1);
        assert_eq!(ex[0].instruction, d.text);
        assert_eq!(
            ex[0].output,
            format!("The answer is {}.", d.metadata["answer"].as_str().unwrap())
        );
        assert_eq!(ex[0].task.as_str(), "math_word_problem");
        assert_eq!(ex[0].output_lang, Lang::EN);

        let mut bad = WordProblem {
            answer_template: "The answer.".into(),
            ..WordProblem::default()
        };
        assert!(
            bad.prepare(&ctx)
                .unwrap_err()
                .to_string()
                .contains("{answer}")
        );
    }
}
