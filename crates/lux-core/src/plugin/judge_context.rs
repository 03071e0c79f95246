//! [`JudgeContext`]: what a judge or a metric learns about the run before it scores anything.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::plugin::llm::LlmClient;
use crate::stage::{Resources, StageContext};
use crate::{Error, Result};

/// What [`crate::Judge::prepare`] and [`crate::Metric::prepare`] are given: the recipe's
/// directory and the run's shared [`Resources`].
///
/// A judge is deserialised from a recipe before anyone knows where the recipe lives, so the
/// prompt files its table names cannot be read then: they are read in `prepare`, against
/// [`base_dir`](Self::base_dir), never against the working directory. And a panel of judges
/// often names the same model several times (three criteria, two scoring methods): through
/// [`share_llm`](Self::share_llm) they talk to one client, so a local model is loaded once.
#[derive(Debug, Clone, Default)]
pub struct JudgeContext {
    /// Directory that relative paths in a judge's or metric's settings resolve against (the
    /// recipe's own; `.` by default).
    pub base_dir: PathBuf,
    /// Values shared by the run's stages: loaded models and LLM clients.
    pub resources: Resources,
}

/// The context of a [`crate::Metric`]: the same as a judge's, since both sit in one
/// evaluation and share its resources.
pub type MetricContext = JudgeContext;

impl JudgeContext {
    /// A context resolving paths against `base_dir`, with resources of its own.
    pub fn new(base_dir: impl Into<PathBuf>) -> JudgeContext {
        JudgeContext {
            base_dir: base_dir.into(),
            resources: Resources::default(),
        }
    }

    /// The same context sharing `resources` (a run's).
    pub fn with_resources(mut self, resources: Resources) -> JudgeContext {
        self.resources = resources;
        self
    }

    /// `path` if absolute, else `base_dir/path`.
    pub fn resolve(&self, path: impl AsRef<Path>) -> PathBuf {
        let p = path.as_ref();
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    /// Replaces `client` by the run's client of equal settings: the first client shared with
    /// an equal table (its serialised form, `type` included, after
    /// [`LlmClient::resolve_paths`] against `base_dir`), or `client` itself, which is then
    /// registered for the next judge. Two judges whose `llm` tables are equal therefore send
    /// their requests to one instance — one loaded model, one cache, one request budget.
    ///
    /// Settings a client leaves out of its serialised form (operational ones, such as a
    /// `local` client's `threads`) do not tell two clients apart.
    pub fn share_llm(&self, client: &mut Arc<dyn LlmClient>) -> Result<()> {
        // A client held only here has its relative files resolved first, so that its key is
        // where the files are, not how a recipe wrote them; a client held elsewhere too was
        // resolved when it was first shared.
        if let Some(own) = Arc::get_mut(client) {
            own.resolve_paths(&self.base_dir)?;
        }
        let key = llm_key(client.as_ref())?;
        let shared = self
            .resources
            .get_or_try_insert::<Arc<dyn LlmClient>>(&key, || Ok(Arc::clone(client)))?;
        *client = Arc::clone(&shared);
        Ok(())
    }
}

impl From<&StageContext> for JudgeContext {
    /// The context of the judges and metrics of an evaluation stage: its recipe directory
    /// and the run's resources.
    fn from(ctx: &StageContext) -> JudgeContext {
        JudgeContext {
            base_dir: ctx.base_dir.clone(),
            resources: ctx.resources.clone(),
        }
    }
}

/// The key of a client in the resources: `llm:` and its table as JSON.
fn llm_key(client: &dyn LlmClient) -> Result<String> {
    let table = serde_json::to_string(client)
        .map_err(|e| Error::other(format!("serialising the settings of {}", client.model()), e))?;
    Ok(format!("llm:{table}"))
}

/// Serde for an `Arc<dyn LlmClient>` field (`#[serde(with = "lux_core::plugin::judge_context::shared_llm")]`):
/// the client's own table, as a `Box<dyn LlmClient>` field reads and writes it. Judges hold
/// their client in an `Arc` so that [`JudgeContext::share_llm`] can swap in the run's.
pub mod shared_llm {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::plugin::llm::LlmClient;

    /// Writes the client's table.
    pub fn serialize<S: Serializer>(
        client: &Arc<dyn LlmClient>,
        s: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        client.as_ref().serialize(s)
    }

    /// Reads a client table.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<Arc<dyn LlmClient>, D::Error> {
        Box::<dyn LlmClient>::deserialize(d).map(Arc::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChatRequest, ChatResponse};
    use async_trait::async_trait;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Serialize, Deserialize)]
    struct Echo {
        model: String,
    }

    #[typetag::serde(name = "judge_context_test_echo")]
    #[async_trait]
    impl LlmClient for Echo {
        async fn chat(&self, _: &ChatRequest) -> Result<ChatResponse> {
            Err(Error::llm("test client", "not used"))
        }
        fn model(&self) -> String {
            self.model.clone()
        }
    }

    fn echo(model: &str) -> Arc<dyn LlmClient> {
        Arc::new(Echo {
            model: model.into(),
        })
    }

    /// `client` as `ctx` shares it.
    fn share(ctx: &JudgeContext, mut client: Arc<dyn LlmClient>) -> Arc<dyn LlmClient> {
        ctx.share_llm(&mut client).unwrap();
        client
    }

    #[test]
    fn equal_tables_share_one_client_and_others_do_not() {
        let ctx = JudgeContext::new("recipes");
        let a = share(&ctx, echo("m"));
        let b = share(&ctx, echo("m"));
        let c = share(&ctx, echo("other"));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        // Another context over the same resources (another stage of the run) shares too.
        let again = JudgeContext::new(".").with_resources(ctx.resources.clone());
        assert!(Arc::ptr_eq(&a, &share(&again, echo("m"))));
        // Fresh resources: a fresh client.
        assert!(!Arc::ptr_eq(&a, &share(&JudgeContext::new("."), echo("m"))));
    }

    #[derive(Debug, Serialize, Deserialize)]
    struct Filed {
        path: std::path::PathBuf,
    }

    #[typetag::serde(name = "judge_context_test_filed")]
    #[async_trait]
    impl LlmClient for Filed {
        async fn chat(&self, _: &ChatRequest) -> Result<ChatResponse> {
            Err(Error::llm("test client", "not used"))
        }
        fn model(&self) -> String {
            self.path.display().to_string()
        }
        fn resolve_paths(&mut self, base_dir: &Path) -> Result<()> {
            self.path = base_dir.join(&self.path);
            Ok(())
        }
    }

    #[test]
    fn clients_resolve_their_files_against_the_base_dir_before_sharing() {
        let ctx = JudgeContext::new("/recipes");
        let a = share(
            &ctx,
            Arc::new(Filed {
                path: "m.gguf".into(),
            }),
        );
        assert_eq!(a.model(), "/recipes/m.gguf");
        // The same file written absolutely is the same client.
        let b = share(
            &ctx,
            Arc::new(Filed {
                path: "/recipes/m.gguf".into(),
            }),
        );
        assert!(Arc::ptr_eq(&a, &b));
        // Sharing an already shared client does not resolve it again.
        let again = share(&ctx, Arc::clone(&a));
        assert_eq!(again.model(), "/recipes/m.gguf");
    }

    #[test]
    fn paths_resolve_against_the_base_dir() {
        let ctx = JudgeContext::new("recipes");
        assert_eq!(ctx.resolve("p.txt"), Path::new("recipes/p.txt"));
        assert_eq!(ctx.resolve("/abs/p.txt"), Path::new("/abs/p.txt"));
    }

    #[test]
    fn shared_llm_round_trips_the_table() {
        #[derive(Debug, Serialize, Deserialize)]
        struct Holder {
            #[serde(with = "shared_llm")]
            llm: Arc<dyn LlmClient>,
        }
        let h: Holder =
            serde_json::from_str(r#"{"llm": {"type": "judge_context_test_echo", "model": "x"}}"#)
                .unwrap();
        assert_eq!(h.llm.model(), "x");
        assert_eq!(
            serde_json::to_string(&h).unwrap(),
            r#"{"llm":{"type":"judge_context_test_echo","model":"x"}}"#
        );
    }
}
