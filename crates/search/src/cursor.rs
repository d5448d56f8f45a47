//! Stateless, tamper-proof paging cursors.
//!
//! A cursor holds where the previous page ended (its last sort values and storage key) and is
//! signed with HMAC-SHA256 over that position and the query it belongs to. The server keeps no
//! result sets, so nothing goes stale or fills up; a cursor altered by a client, or used with
//! different search parameters, is rejected.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use medulla_store::{PageKey, SortValue};
use serde_json::{Value, json};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The parameters a cursor is bound to: everything but the cursor itself, in request order.
pub fn query_fingerprint(params: &[(String, String)]) -> String {
    let mut text = String::new();
    for (name, value) in params.iter().filter(|(name, _)| name != "_cursor") {
        text.push_str(name);
        text.push('=');
        text.push_str(value);
        text.push('&');
    }
    text
}

fn mac(key: &[u8], payload: &[u8], fingerprint: &str) -> Option<Vec<u8>> {
    let mut mac = HmacSha256::new_from_slice(key).ok()?;
    mac.update(payload);
    mac.update(b"\0");
    mac.update(fingerprint.as_bytes());
    Some(mac.finalize().into_bytes().to_vec())
}

fn value_to_json(value: &SortValue) -> Value {
    match value {
        SortValue::Null => Value::Null,
        SortValue::Integer(n) => json!({"i": n}),
        SortValue::Real(x) => json!({"r": x}),
        SortValue::Text(t) => json!({"t": t}),
    }
}

fn value_from_json(value: &Value) -> Option<SortValue> {
    match value {
        Value::Null => Some(SortValue::Null),
        Value::Object(fields) => {
            if let Some(n) = fields.get("i") {
                n.as_i64().map(SortValue::Integer)
            } else if let Some(x) = fields.get("r") {
                x.as_f64().map(SortValue::Real)
            } else {
                fields
                    .get("t")
                    .and_then(Value::as_str)
                    .map(|t| SortValue::Text(t.to_owned()))
            }
        }
        _ => None,
    }
}

/// Encodes and signs a page position.
pub fn encode(key: &[u8], position: &PageKey, fingerprint: &str) -> String {
    let payload = json!({"k": position.key, "v": position.values.iter().map(value_to_json).collect::<Vec<_>>()});
    let payload = serde_json::to_vec(&payload).unwrap_or_default();
    let signature = mac(key, &payload, fingerprint).unwrap_or_default();
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(&payload),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

/// Verifies and decodes a cursor. `None` when it is malformed, forged, or from another query.
pub fn decode(key: &[u8], cursor: &str, fingerprint: &str) -> Option<PageKey> {
    let (payload, signature) = cursor.split_once('.')?;
    let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    let mut verifier = HmacSha256::new_from_slice(key).ok()?;
    verifier.update(&payload);
    verifier.update(b"\0");
    verifier.update(fingerprint.as_bytes());
    verifier.verify_slice(&signature).ok()?;
    let value: Value = serde_json::from_slice(&payload).ok()?;
    let key = value.get("k")?.as_i64()?;
    let values = value
        .get("v")?
        .as_array()?
        .iter()
        .map(value_from_json)
        .collect::<Option<Vec<_>>>()?;
    Some(PageKey { values, key })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_tampering() {
        let position = PageKey {
            values: vec![
                SortValue::Text("smith".into()),
                SortValue::Null,
                SortValue::Real(1.5),
            ],
            key: 42,
        };
        let cursor = encode(b"secret", &position, "name=smi&");
        assert_eq!(decode(b"secret", &cursor, "name=smi&"), Some(position));
        assert_eq!(decode(b"secret", &cursor, "name=jon&"), None);
        assert_eq!(decode(b"other", &cursor, "name=smi&"), None);
        let mut forged = cursor.clone();
        forged.replace_range(0..1, if cursor.starts_with('e') { "f" } else { "e" });
        assert_eq!(decode(b"secret", &forged, "name=smi&"), None);
        assert_eq!(decode(b"secret", "garbage", ""), None);
    }
}
