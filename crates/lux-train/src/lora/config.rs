//! [`LoraConfig`]: what a LoRA adapter targets and how it scales, in PEFT's field names.

use std::path::Path;

use lux_core::{Error, Result};
use regex::Regex;
use serde::{Deserialize, Serialize};

use super::{apply_lora, load_peft, merge_lora, save_peft};
use crate::adapter::Adapter;
use crate::model::Llama;

/// Which linear layers get an adapter, as PEFT's `target_modules`:
///
/// - a list of names: a module matches when its name equals an entry or ends with
///   `.entry` (`q_proj` matches `model.layers.3.self_attn.q_proj`);
/// - a string: a regular expression that must match the whole module name;
/// - the string `"all-linear"`: every linear layer except the output head (`lm_head`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TargetModules {
    /// Module-name suffixes.
    Names(Vec<String>),
    /// A full-match regular expression, or `"all-linear"`.
    Pattern(String),
}

impl TargetModules {
    /// PEFT's `"all-linear"`.
    pub fn all_linear() -> TargetModules {
        TargetModules::Pattern("all-linear".into())
    }

    /// Suffix targets from names (`["q_proj", "v_proj"]`).
    pub fn names<S: Into<String>>(names: impl IntoIterator<Item = S>) -> TargetModules {
        TargetModules::Names(names.into_iter().map(Into::into).collect())
    }

    /// The module names among `modules` this selects, in their order.
    ///
    /// Errors on an invalid regular expression, and when nothing matches (listing the names
    /// that could have: an adapter that adapts nothing is always a mistake).
    pub fn select(&self, modules: &[String]) -> Result<Vec<String>> {
        let selected: Vec<String> = match self {
            TargetModules::Names(names) => {
                if names.is_empty() {
                    return Err(Error::invalid("target_modules", "name at least one module"));
                }
                modules
                    .iter()
                    .filter(|m| {
                        names
                            .iter()
                            .any(|n| *m == n || m.ends_with(&format!(".{n}")))
                    })
                    .cloned()
                    .collect()
            }
            TargetModules::Pattern(p) if p == "all-linear" => modules
                .iter()
                .filter(|m| m.as_str() != "lm_head" && !m.ends_with(".lm_head"))
                .cloned()
                .collect(),
            TargetModules::Pattern(p) => {
                let re = Regex::new(&format!("^(?:{p})$")).map_err(|e| {
                    Error::invalid("target_modules", format!("not a regular expression: {e}"))
                })?;
                modules.iter().filter(|m| re.is_match(m)).cloned().collect()
            }
        };
        if selected.is_empty() {
            return Err(Error::invalid(
                "target_modules",
                format!(
                    "{self:?} matches none of the model's linear layers; they are named like {} \
                     ({} in all)",
                    describe(modules),
                    modules.len()
                ),
            ));
        }
        Ok(selected)
    }
}

/// Layer 0's names and the names outside the layers: enough to see the naming scheme.
fn describe(modules: &[String]) -> String {
    let shown: Vec<&str> = modules
        .iter()
        .filter(|m| m.contains(".layers.0.") || !m.contains(".layers."))
        .map(String::as_str)
        .collect();
    shown.join(", ")
}

/// A LoRA adapter's settings, with PEFT's field names (`adapter_config.json` holds the same):
///
/// ```toml
/// [adapter]
/// type = "lora"
/// r = 16
/// lora_alpha = 32
/// lora_dropout = 0.05
/// target_modules = ["q_proj", "k_proj", "v_proj", "o_proj"]
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoraConfig {
    /// Rank of the update.
    pub r: usize,
    /// Scale numerator: the update is multiplied by `lora_alpha / r` (or `/ √r` with rsLoRA).
    pub lora_alpha: f64,
    /// Dropout on the adapter's input while training. Default 0.
    #[serde(default)]
    pub lora_dropout: f64,
    /// Rank-stabilised scaling `alpha / √r` (Kalajdzievski 2023). Default false.
    #[serde(default)]
    pub use_rslora: bool,
    /// Which linear layers are adapted.
    pub target_modules: TargetModules,
    /// Trainable biases: only `"none"` is supported (PEFT's default).
    #[serde(default = "default_bias")]
    pub bias: String,
    /// The base model, recorded in `adapter_config.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_model_name_or_path: Option<String>,
}

fn default_bias() -> String {
    "none".into()
}

impl LoraConfig {
    /// Rank `r`, `lora_alpha`, targets; no dropout, plain scaling.
    pub fn new(r: usize, lora_alpha: f64, target_modules: TargetModules) -> LoraConfig {
        LoraConfig {
            r,
            lora_alpha,
            lora_dropout: 0.0,
            use_rslora: false,
            target_modules,
            bias: default_bias(),
            base_model_name_or_path: None,
        }
    }

    /// The factor `s` of `x·W + s·x·A·B`: `alpha / r`, or `alpha / √r` with rsLoRA.
    pub fn scale(&self) -> f64 {
        if self.use_rslora {
            self.lora_alpha / (self.r as f64).sqrt()
        } else {
            self.lora_alpha / self.r as f64
        }
    }

    /// Checks the values; errors name the field.
    pub fn validate(&self) -> Result<()> {
        if self.r == 0 {
            return Err(Error::invalid("r", "must be at least 1"));
        }
        if !self.lora_alpha.is_finite() || self.lora_alpha <= 0.0 {
            return Err(Error::invalid("lora_alpha", "must be a positive number"));
        }
        if !(0.0..1.0).contains(&self.lora_dropout) {
            return Err(Error::invalid("lora_dropout", "must be in [0, 1)"));
        }
        if self.bias != "none" {
            return Err(Error::invalid(
                "bias",
                format!(
                    "\"{}\" is not supported; lux trains adapters with bias = \"none\"",
                    self.bias
                ),
            ));
        }
        Ok(())
    }
}

#[typetag::serde(name = "lora")]
impl Adapter for LoraConfig {
    fn attach(&self, model: Llama, seed: u64) -> Result<(Llama, Vec<String>)> {
        apply_lora(model, self, seed)
    }

    fn save(&self, model: &Llama, dir: &Path) -> Result<()> {
        save_peft(model, self, dir)
    }

    fn load(&self, model: Llama, dir: &Path) -> Result<Llama> {
        load_peft(model, dir).map(|(model, _)| model)
    }

    fn merge(&self, model: &mut Llama) -> Result<bool> {
        Ok(!merge_lora(model).pairs.is_empty())
    }

    fn set_base_model(&mut self, name: &str) {
        if self.base_model_name_or_path.is_none() {
            self.base_model_name_or_path = Some(name.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modules() -> Vec<String> {
        let mut m = Vec::new();
        for l in 0..2 {
            for p in ["self_attn.q_proj", "self_attn.v_proj", "mlp.up_proj"] {
                m.push(format!("model.layers.{l}.{p}"));
            }
        }
        m.push("lm_head".into());
        m
    }

    #[test]
    fn names_regex_and_all_linear_select_as_peft_does() {
        let m = modules();
        let q = TargetModules::names(["q_proj"]).select(&m).unwrap();
        assert_eq!(
            q,
            [
                "model.layers.0.self_attn.q_proj",
                "model.layers.1.self_attn.q_proj"
            ]
        );
        // A suffix must be a whole name component.
        assert!(TargetModules::names(["proj"]).select(&m).is_err());
        let re = TargetModules::Pattern(r"model\.layers\.1\..*_proj".into())
            .select(&m)
            .unwrap();
        assert_eq!(re.len(), 3);
        // Full match: a pattern matching only part of a name selects nothing.
        assert!(TargetModules::Pattern("q_proj".into()).select(&m).is_err());
        let all = TargetModules::all_linear().select(&m).unwrap();
        assert_eq!(all.len(), 6);
        assert!(!all.contains(&"lm_head".to_string()));
    }

    #[test]
    fn no_match_lists_the_model_names() {
        let e = TargetModules::names(["query"])
            .select(&modules())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("target_modules") && e.contains("model.layers.0.self_attn.q_proj"),
            "{e}"
        );
        assert!(e.contains("7 in all"), "{e}");
        let e = TargetModules::Pattern("(".into())
            .select(&modules())
            .unwrap_err()
            .to_string();
        assert!(e.contains("regular expression"), "{e}");
    }

    #[test]
    fn scale_validation_and_peft_json() {
        let mut c = LoraConfig::new(16, 32.0, TargetModules::names(["q_proj"]));
        assert_eq!(c.scale(), 2.0);
        c.use_rslora = true;
        assert_eq!(c.scale(), 8.0);
        c.validate().unwrap();
        c.bias = "all".into();
        assert!(c.validate().unwrap_err().to_string().contains("bias"));
        let c: LoraConfig = serde_json::from_str(
            r#"{"r": 8, "lora_alpha": 16, "target_modules": "all-linear", "lora_dropout": 0.1}"#,
        )
        .unwrap();
        assert_eq!(c.target_modules, TargetModules::all_linear());
        let bad: std::result::Result<LoraConfig, _> =
            serde_json::from_str(r#"{"r": 8, "lora_alpha": 16, "target_modules": [], "rank": 3}"#);
        assert!(bad.unwrap_err().to_string().contains("rank"));
    }
}
