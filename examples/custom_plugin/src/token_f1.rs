//! [`TokenF1`]: `type = "token_f1"` — a judge that needs no model: word overlap with the
//! reference answer.

use std::collections::HashMap;

use async_trait::async_trait;
use lux::core::{Error, Judge, JudgeRequest, Judgement, Result, ScoreMethod};
use lux::data::text::words;
use serde::{Deserialize, Serialize};

/// Scores a response by the F1 of its words against the reference answer's (SQuAD's token
/// F1, Rajpurkar et al. 2016), mapped linearly onto the criterion's scale: F1 = 0 is the
/// scale's minimum, F1 = 1 its maximum.
///
/// ```toml
/// [[eval]]
/// type = "judge_panel"
/// judges = [
///   { type = "g_eval", llm = { type = "local", model = "smollm2" } },
///   { type = "token_f1" },                       # beside the LLM judges
/// ]
/// ```
///
/// Why a judge and not only a metric: in a `judge_panel` it scores the same answers as the LLM
/// judges, per item, so the panel's agreement statistics show how far an LLM judge is from a
/// plain overlap measure — a cheap sanity check on a 135M judge, and the only judge that
/// costs nothing on a paid endpoint. It ignores the criterion's description: one number per
/// answer, whatever is asked (`ScoreMethod::Reference` records that no model was asked).
///
/// Words are lux's [`words`] (punctuation dropped), lower-cased unless `lowercase = false`,
/// counted as a multiset: precision = common / response words, recall = common / reference
/// words. As in SQuAD, two empty texts agree (F1 = 1) and one empty text scores 0. A request
/// without a reference is an error (a recorded failure, never a default score).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenF1 {
    /// The judge's id in reports. Default `token_f1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Compare words in lower case. Default true.
    #[serde(default = "yes")]
    pub lowercase: bool,
}

fn yes() -> bool {
    true
}

/// Precision, recall and F1 of `response`'s words against `reference`'s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Overlap {
    /// Words in common (as multisets).
    pub common: usize,
    /// Words of the response.
    pub response: usize,
    /// Words of the reference.
    pub reference: usize,
}

impl Overlap {
    /// Counts the words of both texts and those they share.
    pub fn of(response: &str, reference: &str, lowercase: bool) -> Overlap {
        let fold = |s: &str| {
            if lowercase {
                s.to_lowercase()
            } else {
                s.to_string()
            }
        };
        let (response, reference) = (fold(response), fold(reference));
        let mut bag: HashMap<&str, usize> = HashMap::new();
        for w in words(&reference) {
            *bag.entry(w).or_default() += 1;
        }
        let mut common = 0;
        let mut n_response = 0;
        for w in words(&response) {
            n_response += 1;
            if let Some(left) = bag.get_mut(w).filter(|n| **n > 0) {
                *left -= 1;
                common += 1;
            }
        }
        Overlap {
            common,
            response: n_response,
            reference: words(&reference).count(),
        }
    }

    /// The harmonic mean of precision and recall (1 when both texts have no word).
    pub fn f1(&self) -> f64 {
        if self.response == 0 || self.reference == 0 {
            return if self.response == self.reference {
                1.0
            } else {
                0.0
            };
        }
        let p = self.common as f64 / self.response as f64;
        let r = self.common as f64 / self.reference as f64;
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

#[typetag::serde(name = "token_f1")]
#[async_trait]
impl Judge for TokenF1 {
    async fn judge(&self, request: &JudgeRequest) -> Result<Judgement> {
        let reference = request.reference.as_deref().ok_or_else(|| {
            Error::plugin(
                self.id(),
                "needs a reference answer (judge_panel: set `reference = true`)",
            )
        })?;
        let scale = request.criteria.scale;
        if !(scale.min.is_finite() && scale.max.is_finite() && scale.min < scale.max) {
            return Err(Error::invalid(
                format!("criteria.{}.scale", request.criteria.name),
                format!("[{}, {}] is not a range", scale.min, scale.max),
            ));
        }
        let o = Overlap::of(&request.response, reference, self.lowercase);
        let f1 = o.f1();
        Ok(Judgement {
            judge: self.id(),
            score: scale.min + f1 * (scale.max - scale.min),
            scale,
            reason: Some(format!(
                "token F1 {f1:.3}: {} of the response's {} words in the reference's {}",
                o.common, o.response, o.reference
            )),
            method: ScoreMethod::Reference,
        })
    }

    fn id(&self) -> String {
        self.id.clone().unwrap_or_else(|| "token_f1".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lux::core::{Criteria, ScoreScale};

    fn request(response: &str, reference: Option<&str>) -> JudgeRequest {
        JudgeRequest {
            instruction: "Translate.".into(),
            response: response.into(),
            reference: reference.map(String::from),
            criteria: Criteria {
                name: "correctness".into(),
                description: "Is it right?".into(),
                scale: ScoreScale::ONE_TO_FIVE,
            },
        }
    }

    #[test]
    fn f1_by_hand() {
        // 3 common; P = 3/4, R = 3/3, F1 = 2·0.75/1.75 = 6/7.
        let o = Overlap::of("The cat sat down.", "the cat sat", true);
        assert_eq!((o.common, o.response, o.reference), (3, 4, 3));
        assert!((o.f1() - 6.0 / 7.0).abs() < 1e-12);
        // Multisets: "the" twice in the response, once in the reference, counts once.
        // P = 2/3, R = 2/2, F1 = 0.8.
        assert!((Overlap::of("the the cat", "the cat", true).f1() - 0.8).abs() < 1e-12);
        // Case matters only when asked.
        assert_eq!(Overlap::of("Moien", "moien", false).f1(), 0.0);
        assert_eq!(Overlap::of("Moien", "moien", true).f1(), 1.0);
        // Empty texts, as SQuAD: both empty agree, one empty scores 0.
        assert_eq!(Overlap::of("", "…", true).f1(), 1.0);
        assert_eq!(Overlap::of("", "Moien", true).f1(), 0.0);
        assert_eq!(Overlap::of("a b", "c d", true).f1(), 0.0);
    }

    #[tokio::test]
    async fn scores_on_the_criterion_scale_and_fails_without_a_reference() {
        let judge: Box<dyn Judge> = toml::from_str("type = \"token_f1\"").unwrap();
        let j = judge
            .judge(&request("The cat sat down.", Some("the cat sat")))
            .await
            .unwrap();
        // 1 + 4 · 6/7
        assert!((j.score - (1.0 + 24.0 / 7.0)).abs() < 1e-12, "{j:?}");
        assert_eq!(
            (j.judge.as_str(), &j.method),
            ("token_f1", &ScoreMethod::Reference)
        );
        assert_eq!(
            j.reason.as_deref(),
            Some("token F1 0.857: 3 of the response's 4 words in the reference's 3")
        );
        let e = judge
            .judge(&request("x", None))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("token_f1") && e.contains("reference"), "{e}");
        let named: Box<dyn Judge> =
            toml::from_str("type = \"token_f1\"\nid = \"overlap\"").unwrap();
        assert_eq!(named.id(), "overlap");
        let e = toml::from_str::<Box<dyn Judge>>("type = \"token_f1\"\nlowercse = false")
            .unwrap_err()
            .to_string();
        assert!(e.contains("lowercse") && e.contains("lowercase"), "{e}");
    }
}
