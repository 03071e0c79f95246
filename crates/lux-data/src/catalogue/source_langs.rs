//! Which languages a catalogue source reads.

use lux_core::Lang;

/// The native language and the languages a catalogue source reads: its own `native` and
/// `langs`, else the run's ([`lux_core::SourceContext`]: `lux corpus` gives its native,
/// instruction and neighbour languages), else Luxembourgish with en, de and fr (lux's first
/// language, for a source read outside a run). `langs` must contain the native language.
pub(crate) fn source_langs(
    native: Option<&Lang>,
    langs: &[Lang],
    ctx: &lux_core::SourceContext,
) -> lux_core::Result<(Lang, Vec<Lang>)> {
    let native = native.or(ctx.native.as_ref()).cloned().unwrap_or(Lang::LB);
    let langs = if !langs.is_empty() {
        langs.to_vec()
    } else if !ctx.langs.is_empty() {
        ctx.langs.clone()
    } else {
        vec![Lang::EN, native.clone(), Lang::DE, Lang::FR]
    };
    if !langs.contains(&native) {
        return Err(lux_core::Error::invalid(
            "langs",
            format!("must contain the native language `{native}`"),
        ));
    }
    Ok((native, langs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lux_core::SourceContext;

    #[test]
    fn a_sources_languages_are_its_own_else_the_runs_else_luxembourgish() {
        let fo = Lang::new("fo").unwrap();
        let is = Lang::new("is").unwrap();
        let run = SourceContext::new(".")
            .with_native(fo.clone())
            .with_langs(vec![fo.clone(), Lang::EN, is.clone()]);
        assert_eq!(
            source_langs(None, &[], &run).unwrap(),
            (fo.clone(), vec![fo.clone(), Lang::EN, is.clone()])
        );
        let own = [Lang::LB, Lang::DE];
        assert_eq!(
            source_langs(Some(&Lang::LB), &own, &run).unwrap(),
            (Lang::LB, own.to_vec())
        );
        let bare = SourceContext::new(".");
        assert_eq!(
            source_langs(None, &[], &bare).unwrap(),
            (Lang::LB, vec![Lang::EN, Lang::LB, Lang::DE, Lang::FR])
        );
        let e = source_langs(Some(&fo), &[Lang::EN], &bare)
            .unwrap_err()
            .to_string();
        assert!(e.contains("langs") && e.contains("`fo`"), "{e}");
    }
}
