//! The text of the public pages, one catalogue per language, keyed by
//! message id. English is the only language so far; Russian (`ru`) and
//! Ossetian (`os`) come next as catalogues of the same ids, and a page
//! takes its `lang` attribute from the catalogue it is written with.
//!
//! Messages may hold named slots, `{name}`, filled by [`Catalogue::fill`].
//! Text that comes from the data (labels, notes, quotes, a source's title,
//! a changeset's reason) is the data's own and is not in a catalogue.

/// The messages of one language.
#[derive(Debug)]
pub struct Catalogue {
    /// The BCP 47 tag of the language, for `<html lang>`.
    pub lang: &'static str,
    entries: &'static [(&'static str, &'static str)],
}

impl Catalogue {
    /// A catalogue of these messages; English stands in for what it lacks.
    pub const fn with_entries(
        lang: &'static str,
        entries: &'static [(&'static str, &'static str)],
    ) -> Self {
        Self { lang, entries }
    }

    /// The message `id`; English when this language lacks it, the id
    /// itself when no catalogue has it (a test keeps that from happening).
    pub fn get(&self, id: &str) -> &'static str {
        lookup(self.entries, id)
            .or_else(|| lookup(EN.entries, id))
            .unwrap_or_else(|| {
                tracing::warn!(id, "a message missing from the catalogue");
                ""
            })
    }

    /// The message `id` with its `{name}` slots filled.
    pub fn fill(&self, id: &str, args: &[(&str, &str)]) -> String {
        let mut out = self.get(id).to_string();
        for (name, value) in args {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }

    /// Whether the catalogue (or English) has the message `id`.
    pub fn has(&self, id: &str) -> bool {
        lookup(self.entries, id)
            .or_else(|| lookup(EN.entries, id))
            .is_some()
    }
}

fn lookup(entries: &'static [(&'static str, &'static str)], id: &str) -> Option<&'static str> {
    entries.iter().find(|(k, _)| *k == id).map(|(_, v)| *v)
}

/// The catalogue for a language tag; English for any other (the only one
/// so far).
pub fn for_lang(_lang: &str) -> &'static Catalogue {
    &EN
}

/// English.
pub static EN: Catalogue = Catalogue {
    lang: "en",
    entries: &[
        // The frame of every page.
        ("site.skip", "Skip to the content"),
        ("site.tagline", "figures of mass-casualty events, traced to their sources"),
        (
            "site.footer",
            "Aggregate figures and public sources only. Every published version is kept unchanged; its SHA-256 lets you check that what you read is what was published.",
        ),
        ("site.title_suffix", "vigil"),
        // The front page.
        ("index.title", "Events"),
        ("index.none", "No event has been published yet."),
        ("index.version", "version {version}, published {published}"),
        // The memorial page.
        ("event.contents", "Contents"),
        ("event.toll", "The toll"),
        ("event.toll_range", "sources say {range}"),
        ("event.of_them", "{value} of them: {label}"),
        (
            "event.old_version",
            "Version {version} of {latest}, published {published}; the latest is version {latest}.",
        ),
        ("event.see_latest", "Read the latest version"),
        ("event.chart", "Categories of the dead"),
        (
            "event.chart_caption",
            "{label}: the {count} categories add up to {sum}; the published total is {total}.",
        ),
        ("event.chart_title", "{label}: {count} categories"),
        (
            "event.figures_intro",
            "A range such as 334–335 means the sources support every value in it. Each figure lists the sources that state it; the status and standing of each are explained in the legend.",
        ),
        ("event.figures_caption", "{section}: figures of version {version}"),
        ("event.col_figure", "Figure"),
        ("event.col_value", "Value"),
        ("event.col_status", "Status"),
        ("event.col_sources", "Sources"),
        ("event.claims_summary", "What the sources say ({count})"),
        ("event.implied", "sources and rules allow {range}"),
        ("event.open_question", "Open question"),
        ("event.disagree", "Where sources disagree"),
        (
            "event.disagree_intro",
            "Figures that two or more sources give different values for: each source's own value, side by side. Claims set aside are kept for the record, struck through, with the reason.",
        ),
        ("event.disagree_none", "No two sources give different values for any figure."),
        ("event.disagree_caption", "published as {value}"),
        ("event.col_source", "Source"),
        ("event.col_as_of", "As of"),
        ("event.col_where", "Where in the source"),
        ("event.col_standing", "Standing"),
        ("event.questions", "Other open questions"),
        (
            "event.questions_summary",
            "{count} questions the published figures leave open, not tied to one figure",
        ),
        ("event.sources", "Sources"),
        ("event.legend", "How to read the figures"),
        ("event.legend_status", "Status of a figure"),
        ("event.legend_rank", "Standing of a source's claim"),
        ("event.legend_reason", "Why a claim is set aside"),
        ("event.about", "About this data"),
        (
            "event.about_version",
            "This is version {version} of the figures, published {published}.",
        ),
        (
            "event.about_disagree",
            "Sources disagree on {count} figures; see “Where sources disagree” above.",
        ),
        (
            "event.about_disagree_none",
            "No two sources give different values for any figure.",
        ),
        (
            "event.about_questions",
            "The figures leave {count} questions open; each is shown next to its figure, or among the other open questions.",
        ),
        ("event.about_hash", "SHA-256 of this version"),
        (
            "event.about_check",
            "To check that what you read is what was published: download the JSON document of this version, remove its sha256 member, write the rest as canonical JSON (keys sorted, no spaces) and compute its SHA-256. It must equal the hash above. With jq:",
        ),
        ("event.data", "The data"),
        ("event.data_json", "this version as a JSON document"),
        ("event.data_csv", "its figures as CSV"),
        ("event.data_history", "every version and what changed"),
        // Statuses, ranks and reasons, as readers read them.
        ("status.confirmed", "confirmed"),
        ("status.estimate", "estimate"),
        ("status.disputed", "disputed"),
        (
            "status.confirmed.help",
            "the sources agree, and the figure rests on them",
        ),
        (
            "status.estimate.help",
            "an approximate or lower-bound figure: the truth may lie anywhere in its range",
        ),
        (
            "status.disputed.help",
            "sources give different values, and the page shows each of them",
        ),
        ("rank.preferred", "preferred"),
        ("rank.normal", "normal"),
        ("rank.deprecated", "set aside"),
        (
            "rank.preferred.help",
            "the published value rests on this claim",
        ),
        (
            "rank.normal.help",
            "a claim kept beside the published value, which does not rest on it",
        ),
        (
            "rank.deprecated.help",
            "a claim no longer believed, kept for the record, struck through, with the reason",
        ),
        ("reason.superseded", "superseded"),
        ("reason.discredited", "discredited"),
        ("reason.erroneous", "erroneous"),
        ("reason.retracted", "retracted"),
        ("reason.superseded.help", "a later count replaced it"),
        (
            "reason.discredited.help",
            "shown to be false, such as a figure announced to play the numbers down",
        ),
        ("reason.erroneous.help", "a mistake in the source"),
        ("reason.retracted.help", "withdrawn by its own source"),
        ("claim.set_aside", "set aside: {reason}"),
        ("claim.undated", "undated"),
        // Numbers and values as the page writes them.
        ("number.thousands", ","),
        ("value.range", "{low}–{high}"),
        ("value.at_least", "{low}+"),
        ("value.up_to", "up to {high}"),
        ("value.unknown", "unknown"),
        ("value.best_of", "{best} ({range})"),
        ("stated.about", "about {value}"),
        ("stated.more_than", "more than {value}"),
        ("stated.fewer_than", "fewer than {value}"),
        ("stated.other", "{value} ({qualifier})"),
        ("qualifier.approximate", "approximately"),
        ("qualifier.more_than", "more than"),
        ("qualifier.fewer_than", "fewer than"),
        // What kind of thing a source is.
        ("source_kind.official", "official"),
        ("source_kind.parliamentary", "parliamentary"),
        ("source_kind.court", "court"),
        ("source_kind.ngo", "non-governmental organisation"),
        ("source_kind.news", "news"),
        ("source_kind.encyclopedia", "encyclopedia"),
        ("source_kind.testimony", "testimony"),
        ("source_kind.perpetrator", "perpetrator"),
        ("source_kind.other", "other"),
        // Open questions, from the checks.
        (
            "question.rule",
            "{note} With the published figures this does not hold.",
        ),
        (
            "question.rule_uncertain",
            "{note} The published ranges leave open whether it holds.",
        ),
        (
            "question.claim",
            "The claim of {source} ({value}) does not fit the other figures as published.",
        ),
        (
            "question.source",
            "The figures of {source}, taken alone, do not fit together.",
        ),
        (
            "question.figure",
            "The published value of “{label}” is not settled by its sources and parts.",
        ),
        ("question.unknown", "a figure"),
        // History and differences.
        ("history.title", "Versions of the {title}"),
        (
            "history.intro",
            "Every published version is kept unchanged. Each was made by a change that a second person reviewed, for the reason given.",
        ),
        ("history.version", "Version {version}"),
        ("history.published", "Published {published}"),
        ("history.reason", "Reason for the change"),
        ("history.first", "First publication of the figures."),
        ("history.read", "Read version {version}"),
        ("history.changes", "What changed from version {from}"),
        ("history.latest", "latest"),
        ("history.sha256", "SHA-256"),
        ("diff.title", "What changed from version {from} to version {to}"),
        ("diff.back", "All versions of the {title}"),
        ("diff.none", "Nothing changed between these versions."),
        ("diff.figures", "Figures"),
        ("diff.claims", "Claims"),
        ("diff.sources", "Sources"),
        ("diff.rules", "Consistency rules"),
        ("diff.event", "The event"),
        ("diff.added", "added"),
        ("diff.removed", "removed"),
        ("diff.changed", "changed"),
        ("diff.col_item", "Item"),
        ("diff.col_change", "Change"),
        ("diff.col_before", "Before"),
        ("diff.col_after", "After"),
        ("diff.claim", "{source} on “{figure}”"),
        ("diff.bad_range", "Versions are numbered from 1."),
        // Times.
        ("time.published", "{day} {month} {year}, {hh}:{mm} UTC"),
        ("month.1", "January"),
        ("month.2", "February"),
        ("month.3", "March"),
        ("month.4", "April"),
        ("month.5", "May"),
        ("month.6", "June"),
        ("month.7", "July"),
        ("month.8", "August"),
        ("month.9", "September"),
        ("month.10", "October"),
        ("month.11", "November"),
        ("month.12", "December"),
        // Error pages.
        ("error.not_found", "Not found"),
        ("error.bad_request", "Bad request"),
        ("error.unavailable", "Temporarily unavailable"),
        ("error.other", "Error"),
        ("error.all_events", "All events"),
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    /// Every id a template or the page code asks for is in the English
    /// catalogue, and no id is there twice.
    #[test]
    fn every_message_asked_for_is_in_the_catalogue() {
        let sources = [
            include_str!("templates/base.html"),
            include_str!("templates/index.html"),
            include_str!("templates/event.html"),
            include_str!("templates/claims.html"),
            include_str!("templates/error.html"),
            include_str!("templates/history.html"),
            include_str!("templates/diff.html"),
            include_str!("pages.rs"),
            include_str!("site.rs"),
        ];
        let mut asked = 0;
        for src in sources {
            for call in ["t.get(\"", "t.fill(\"", "t.get(&format!(\""] {
                for piece in src.split(call).skip(1) {
                    let id = piece.split('"').next().unwrap_or_default();
                    if id.contains('{') {
                        // A computed id ("status.{}"): its prefix must exist.
                        let prefix = id.split('{').next().unwrap_or_default();
                        assert!(
                            EN.entries.iter().any(|(k, _)| k.starts_with(prefix)),
                            "no message starts with {prefix:?}"
                        );
                    } else {
                        assert!(EN.has(id), "{id:?} is not in the catalogue");
                    }
                    asked += 1;
                }
            }
        }
        assert!(
            asked > 50,
            "only {asked} messages found: the scan is broken"
        );
        let mut ids: Vec<&str> = EN.entries.iter().map(|(k, _)| *k).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(before, ids.len(), "an id is in the catalogue twice");
    }

    /// Ids made from the data's closed words ("source_kind.{}") have a
    /// message for every word.
    #[test]
    fn every_closed_word_shown_has_a_message() {
        use crate::model::{Qualifier, SourceKind};
        for (prefix, words) in [
            ("source_kind", SourceKind::WORDS),
            ("qualifier", Qualifier::WORDS),
        ] {
            for w in words {
                assert!(EN.has(&format!("{prefix}.{w}")), "{prefix}.{w}");
            }
        }
        for m in 1..=12 {
            assert!(EN.has(&format!("month.{m}")), "month.{m}");
        }
    }

    #[test]
    fn slots_are_filled_and_the_language_is_named() {
        let t = for_lang("en");
        assert_eq!(t.lang, "en");
        assert_eq!(t.fill("history.version", &[("version", "3")]), "Version 3");
        assert!(!t.has("no.such.message"));
        assert_eq!(t.get("no.such.message"), "");
    }
}
