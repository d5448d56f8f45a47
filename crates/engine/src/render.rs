//! Bundle JSON, written directly around stored resource bytes so that search and history pages
//! do not re-parse every resource.

use serde_json::Value;
use std::borrow::Cow;

/// One entry of a Bundle being rendered.
#[derive(Debug, Default)]
pub struct EntryParts<'a> {
    /// `fullUrl`.
    pub full_url: Option<String>,
    /// The resource's JSON text.
    pub resource: Option<Cow<'a, [u8]>>,
    /// `search.mode` (searchset only).
    pub search_mode: Option<&'static str>,
    /// `request` (history).
    pub request: Option<Value>,
    /// `response` (history, batch/transaction responses).
    pub response: Option<Value>,
}

fn push_json(out: &mut Vec<u8>, value: &impl serde::Serialize) {
    // Serializing plain JSON values into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

/// Writes a Bundle of `bundle_type` with optional `total`, links (`relation`, `url`) and entries.
pub fn bundle<'a>(
    bundle_type: &str,
    total: Option<u64>,
    links: &[(&str, String)],
    entries: impl IntoIterator<Item = EntryParts<'a>>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    out.extend_from_slice(b"{\"resourceType\":\"Bundle\",\"id\":");
    push_json(&mut out, &uuid::Uuid::new_v4().to_string());
    out.extend_from_slice(b",\"meta\":{\"lastUpdated\":");
    push_json(
        &mut out,
        &crate::fhir_time::format_instant(medulla_store::Timestamp::now()),
    );
    out.extend_from_slice(b"},\"type\":");
    push_json(&mut out, &bundle_type);
    if let Some(total) = total {
        out.extend_from_slice(b",\"total\":");
        push_json(&mut out, &total);
    }
    if !links.is_empty() {
        out.extend_from_slice(b",\"link\":[");
        for (n, (relation, url)) in links.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            push_json(
                &mut out,
                &serde_json::json!({"relation": relation, "url": url}),
            );
        }
        out.push(b']');
    }
    let mut first = true;
    for entry in entries {
        out.extend_from_slice(if first { b",\"entry\":[{" } else { b",{" });
        first = false;
        let mut need_comma = false;
        let mut field = |out: &mut Vec<u8>, name: &str| {
            if need_comma {
                out.push(b',');
            }
            need_comma = true;
            push_json(out, &name);
            out.push(b':');
        };
        if let Some(full_url) = &entry.full_url {
            field(&mut out, "fullUrl");
            push_json(&mut out, full_url);
        }
        if let Some(resource) = &entry.resource {
            field(&mut out, "resource");
            out.extend_from_slice(resource);
        }
        if let Some(mode) = entry.search_mode {
            field(&mut out, "search");
            push_json(&mut out, &serde_json::json!({"mode": mode}));
        }
        if let Some(request) = &entry.request {
            field(&mut out, "request");
            push_json(&mut out, request);
        }
        if let Some(response) = &entry.response {
            field(&mut out, "response");
            push_json(&mut out, response);
        }
        out.push(b'}');
    }
    if !first {
        out.push(b']');
    }
    out.push(b'}');
    out
}
