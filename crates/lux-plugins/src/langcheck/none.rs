//! [`NoLanguageCheck`]: the check that checks nothing.

use lux_core::Lang;
use serde::{Deserialize, Serialize};

use super::{LangVerdict, LanguageCheck};

/// Accepts every text as undetermined: `language_check = { type = "none" }`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoLanguageCheck {}

#[typetag::serde(name = "none")]
impl LanguageCheck for NoLanguageCheck {
    fn check(&self, _text: &str, _expected: &Lang) -> LangVerdict {
        LangVerdict::Undetermined
    }
}
