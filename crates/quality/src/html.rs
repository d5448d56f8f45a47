//! The report as one self-contained HTML page: inline CSS, inline SVG bars, no scripts, fonts
//! or other requests, so it can be saved, mailed and opened anywhere. Every text that comes
//! from the data (ids, messages, paths, units) goes through [`escape`].

use std::fmt::Write as _;

use crate::completeness::CompletenessBasis;
use crate::conformance::IssueLevel;
use crate::instant::format_instant;
use crate::report::{QualityReport, share};
use crate::tally::Tally;

/// Most conformance groups shown per level; the JSON has them all.
const MAX_ROWS: usize = 50;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:72rem}\
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem}h3{font-size:1rem}\
table{border-collapse:collapse;margin:.5rem 0 1rem}\
th,td{border-bottom:1px solid #ddd;padding:.25rem .6rem;text-align:left;vertical-align:top}\
th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}\
code{font-size:.9em}.muted{color:#666}";

/// `text` safe inside HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// A horizontal bar of `fraction` (0–1), green when high, red when low.
fn bar(fraction: f64) -> String {
    let fraction = fraction.clamp(0.0, 1.0);
    let width = (fraction * 120.0).round();
    let color = if fraction >= 0.9 {
        "#2e7d32"
    } else if fraction >= 0.5 {
        "#f9a825"
    } else {
        "#c62828"
    };
    format!(
        "<svg width=\"120\" height=\"12\" role=\"img\" aria-label=\"{percent:.1}%\">\
         <rect width=\"120\" height=\"12\" fill=\"#eee\"/>\
         <rect width=\"{width}\" height=\"12\" fill=\"{color}\"/></svg> {percent:.1}%",
        percent = fraction * 100.0
    )
}

fn examples(tally: &Tally) -> String {
    tally
        .examples
        .iter()
        .map(|reference| format!("<code>{}</code>", escape(reference)))
        .collect::<Vec<_>>()
        .join(", ")
}

impl QualityReport {
    /// The report as a self-contained HTML page.
    pub fn to_html(&self) -> String {
        let mut page = String::with_capacity(16 * 1024);
        let _ = write!(
            page,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>Data quality report</title><style>{STYLE}</style></head><body>\
             <h1>Data quality report</h1><p class=\"muted\">{} resources, generated {}{}</p>",
            self.resource_count(),
            escape(&format_instant(self.now)),
            self.profile
                .as_deref()
                .map(|profile| format!(", profile <code>{}</code>", escape(profile)))
                .unwrap_or_default(),
        );
        self.write_summary(&mut page);
        self.write_completeness(&mut page);
        self.write_conformance(&mut page);
        self.write_plausibility(&mut page);
        page.push_str("</body></html>\n");
        page
    }

    fn write_summary(&self, page: &mut String) {
        page.push_str(
            "<h2>Summary</h2><table><tr><th>Resource type</th><th>Resources</th>\
             <th>Valid</th><th>Completeness</th><th>Plausible</th><th>Score</th></tr>",
        );
        for (resource_type, counts) in &self.types {
            let completeness = self
                .completeness_share(resource_type)
                .map_or_else(|| "<span class=\"muted\">—</span>".to_owned(), bar);
            let _ = write!(
                page,
                "<tr><td>{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td class=\"n\">{:.1}</td></tr>",
                escape(resource_type),
                counts.resources,
                bar(share(counts.valid, counts.resources)),
                completeness,
                bar(share(
                    counts.resources - counts.implausible,
                    counts.resources
                )),
                self.score(resource_type, counts),
            );
        }
        page.push_str("</table>");
    }

    fn write_completeness(&self, page: &mut String) {
        page.push_str("<h2>Completeness</h2>");
        let mut groups: Vec<_> = self.completeness.groups.iter().collect();
        groups.sort_by_key(|(key, _)| *key);
        for ((resource_type, basis), group) in groups {
            let basis = match basis {
                CompletenessBasis::Base => "R4 base: summary and required elements".to_owned(),
                CompletenessBasis::Profile(url) => {
                    format!("mustSupport elements of <code>{}</code>", escape(url))
                }
            };
            let _ = write!(
                page,
                "<h3>{} <span class=\"muted\">({} resources; {basis})</span></h3>\
                 <table><tr><th>Element</th><th>Present</th><th>Share</th></tr>",
                escape(resource_type),
                group.resources,
            );
            for (element, &present) in group.elements.iter().zip(&group.present) {
                let _ = write!(
                    page,
                    "<tr><td><code>{}</code></td><td class=\"n\">{present}</td><td>{}</td></tr>",
                    escape(&element.path),
                    bar(share(present, group.resources)),
                );
            }
            page.push_str("</table>");
        }
    }

    fn write_conformance(&self, page: &mut String) {
        let sorted = self.conformance.tallies.sorted();
        for (level, title) in [
            (IssueLevel::Error, "Conformance: errors"),
            (IssueLevel::Warning, "Conformance: warnings"),
        ] {
            let _ = write!(page, "<h2>{title}</h2>");
            let rows: Vec<_> = sorted
                .iter()
                .filter(|(key, _)| key.level == level)
                .take(MAX_ROWS)
                .collect();
            if rows.is_empty() {
                page.push_str("<p class=\"muted\">None.</p>");
                continue;
            }
            page.push_str(
                "<table><tr><th>Resource type</th><th>Constraint or issue</th><th>Message</th>\
                 <th>Element</th><th>Count</th><th>Resources</th><th>Examples</th></tr>",
            );
            for (key, tally) in rows {
                let _ = write!(
                    page,
                    "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td><code>{}</code></td>\
                     <td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                    escape(&key.resource_type),
                    escape(key.constraint.as_deref().unwrap_or(key.code)),
                    escape(&key.message),
                    escape(
                        self.conformance
                            .expressions
                            .get(*key)
                            .map_or("", String::as_str)
                    ),
                    tally.count,
                    tally.resources,
                    examples(tally),
                );
            }
            page.push_str("</table>");
        }
        if self.conformance.tallies.omitted > 0 {
            let _ = write!(
                page,
                "<p class=\"muted\">{} further issues in groups past the limit are not shown.</p>",
                self.conformance.tallies.omitted
            );
        }
    }

    fn write_plausibility(&self, page: &mut String) {
        page.push_str("<h2>Plausibility</h2>");
        let sorted = self.plausibility.tallies.sorted();
        if sorted.is_empty() {
            page.push_str("<p class=\"muted\">No findings.</p>");
            return;
        }
        page.push_str(
            "<table><tr><th>Finding</th><th>Resource type</th><th>Element</th><th>Detail</th>\
             <th>Count</th><th>Resources</th><th>Examples</th></tr>",
        );
        for (key, tally) in sorted {
            let _ = write!(
                page,
                "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                key.kind.as_str(),
                escape(&key.resource_type),
                escape(&key.path),
                escape(&key.detail),
                tally.count,
                tally.resources,
                examples(tally),
            );
        }
        page.push_str("</table>");
        if self.plausibility.tallies.omitted > 0 {
            let _ = write!(
                page,
                "<p class=\"muted\">{} further findings in groups past the limit are not shown.</p>",
                self.plausibility.tallies.omitted
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{QualityOptions, QualityReport};
    use medulla_validation::Validator;
    use serde_json::json;

    #[test]
    fn escape_neutralizes_markup_and_quotes() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"y\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
        );
        assert_eq!(escape("plain é"), "plain é");
    }

    #[test]
    fn ids_and_units_from_the_data_are_escaped_in_the_page() {
        let validator = Validator::r4();
        let mut builder = QualityReport::builder(
            &validator,
            QualityOptions::default().with_now(1_749_945_600),
        );
        builder.add(
            &json!({"resourceType": "Observation", "id": "<script>alert(1)</script>",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "valueQuantity": {"value": 400, "code": "<b>bpm</b>"}}),
        );
        builder.add(
            &json!({"resourceType": "Patient", "id": "p\"onmouseover=\"x",
            "birthDate": "2090-01-01"}),
        );
        let page = builder.finish().to_html();
        assert!(!page.contains("<script"), "{page}");
        assert!(!page.contains("<b>"), "{page}");
        assert!(page.contains("Observation/&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("Patient/p&quot;onmouseover=&quot;x"));
        assert!(page.contains("unit &#39;&lt;b&gt;bpm&lt;/b&gt;&#39;"));
        assert!(page.contains("future-date"));
        // Self-contained: nothing is fetched.
        for external in ["<script", "<link", "src=", "href=", "@import", "url("] {
            assert!(!page.contains(external), "{external} in the page");
        }
    }

    #[test]
    fn bars_are_clamped_and_coloured_by_level() {
        assert!(bar(1.5).contains("width=\"120\" height=\"12\" fill=\"#2e7d32\""));
        assert!(bar(-1.0).contains("width=\"0\" height=\"12\" fill=\"#c62828\""));
        assert!(bar(0.5).contains("50.0%"));
    }
}
