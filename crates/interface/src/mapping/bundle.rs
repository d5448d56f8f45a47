//! The transaction Bundle being built: one entry per resource, each written idempotently by
//! identifier, each with a `urn:uuid:` fullUrl the other entries refer to.
//!
//! Two kinds of entry: an update (`PUT Type?identifier=…`) for what the message is about, and
//! a create-if-absent (`POST Type` with `ifNoneExist`) for what it only points at. A second
//! entry for the same identity reuses the first (a Patient named twice is one entry); two
//! updates of the same identity are an error, since a transaction may change a resource only
//! once and the message would be contradicting itself.

use super::MapError;
use super::datatypes::{Ident, percent_encode};
use medulla_hl7v2::Message;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// How an entry is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Write {
    /// Conditional update: the message carries the resource's current state.
    Update,
    /// Conditional create: the resource is made only when none has the identifier.
    CreateIfAbsent,
}

/// Entries collected so far.
pub(crate) struct Builder {
    /// Sender and control id: what makes this message's placeholders its own.
    seed: String,
    /// `meta.source` of every resource.
    source: String,
    entries: Vec<Value>,
    /// `Type?criteria` → (entry index, how it is written).
    targets: HashMap<String, (usize, Write)>,
}

impl Builder {
    /// An empty Bundle for `message`.
    pub fn new(message: &Message<'_>) -> Builder {
        let application = message
            .segment_index(0)
            .and_then(|header| header.field(3))
            .and_then(|field| field.repetition(1))
            .and_then(|hd| hd.get(1).or_else(|| hd.get(2)))
            .map(|name| name.into_owned())
            .unwrap_or_default();
        Builder {
            seed: format!("{}|{}", message.sender(), message.control_id()),
            source: format!(
                "hl7v2:{}|{}",
                percent_encode(&application),
                percent_encode(message.control_id())
            ),
            entries: Vec::new(),
            targets: HashMap::new(),
        }
    }

    /// The fullUrl the entry for `resource_type` with identifier `key` has (or will have).
    pub fn full_url(&self, resource_type: &str, key: &Ident) -> String {
        placeholder(&self.seed, &target(resource_type, key))
    }

    /// Adds a conditional update of `resource`, found by `key`; returns its fullUrl.
    /// `location` names the segment that gave the identifier, for the duplicate error.
    ///
    /// # Errors
    /// When another update in this message has the same identity (205).
    pub fn update(
        &mut self,
        resource_type: &str,
        key: &Ident,
        resource: Value,
        location: impl FnOnce() -> String,
    ) -> Result<String, MapError> {
        let target = target(resource_type, key);
        let entry = self.entry(resource_type, key, resource, Write::Update);
        match self.targets.get(&target).copied() {
            Some((_, Write::Update)) => Err(MapError::duplicate(location(), resource_type)),
            Some((index, Write::CreateIfAbsent)) => {
                // What the message states wins over what it merely pointed at.
                self.entries[index] = entry;
                self.targets.insert(target, (index, Write::Update));
                Ok(self.full_url(resource_type, key))
            }
            None => {
                self.targets
                    .insert(target, (self.entries.len(), Write::Update));
                self.entries.push(entry);
                Ok(self.full_url(resource_type, key))
            }
        }
    }

    /// Adds a conditional create of `resource`, found by `key`, unless this identity already
    /// has an entry; returns the fullUrl either way.
    pub fn ensure(&mut self, resource_type: &str, key: &Ident, resource: Value) -> String {
        let target = target(resource_type, key);
        if !self.targets.contains_key(&target) {
            let entry = self.entry(resource_type, key, resource, Write::CreateIfAbsent);
            self.targets
                .insert(target, (self.entries.len(), Write::CreateIfAbsent));
            self.entries.push(entry);
        }
        self.full_url(resource_type, key)
    }

    /// The Bundle.
    pub fn finish(self) -> Value {
        json!({
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": self.entries,
        })
    }

    fn entry(&self, resource_type: &str, key: &Ident, resource: Value, write: Write) -> Value {
        let fields = match prune(resource) {
            Some(Value::Object(fields)) => fields,
            _ => Map::new(),
        };
        // resourceType and meta first, as FHIR servers write them.
        let mut resource = Map::new();
        resource.insert("resourceType".into(), json!(resource_type));
        resource.insert("meta".into(), json!({"source": self.source}));
        resource.extend(
            fields
                .into_iter()
                .filter(|(name, _)| name != "resourceType" && name != "meta"),
        );
        let criteria = criteria(key);
        let request = match write {
            Write::Update => json!({
                "method": "PUT",
                "url": format!("{resource_type}?{criteria}"),
            }),
            Write::CreateIfAbsent => json!({
                "method": "POST",
                "url": resource_type,
                "ifNoneExist": criteria,
            }),
        };
        json!({
            "fullUrl": self.full_url(resource_type, key),
            "resource": Value::Object(resource),
            "request": request,
        })
    }
}

/// A Reference to the entry at `full_url`.
pub(crate) fn reference(full_url: &str) -> Value {
    json!({"reference": full_url})
}

/// `Type?criteria`, the identity of an entry.
fn target(resource_type: &str, key: &Ident) -> String {
    format!("{resource_type}?{}", criteria(key))
}

/// `identifier=system|value` as a query: FHIR's search escapes (`\|`, `\,`, `\$`, `\\`) so
/// the value stays one token, then percent-encoding so it stays one query parameter. An
/// identifier without a system is searched as `|value` (explicitly no system).
pub(crate) fn criteria(key: &Ident) -> String {
    let token = format!(
        "{}|{}",
        search_escape(key.system.as_deref().unwrap_or("")),
        search_escape(&key.value)
    );
    format!("identifier={}", query_encode(&token))
}

fn search_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '|' | ',' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn query_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'.' | b'_' | b'~' | b':' | b'/' | b'|')
        {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Drops nulls, blank strings, and arrays and objects left empty: FHIR JSON has no empty
/// elements, and the converters leave `null` for whatever the message did not send.
pub(crate) fn prune(value: Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::String(text) if text.trim().is_empty() => None,
        Value::Array(items) => {
            let items: Vec<Value> = items.into_iter().filter_map(prune).collect();
            (!items.is_empty()).then_some(Value::Array(items))
        }
        Value::Object(fields) => {
            let fields: Map<String, Value> = fields
                .into_iter()
                .filter_map(|(name, value)| Some((name, prune(value)?)))
                .collect();
            (!fields.is_empty()).then_some(Value::Object(fields))
        }
        other => Some(other),
    }
}

/// A `urn:uuid:` placeholder that is the same whenever the same message names the same
/// resource: two 64-bit FNV-1a hashes of the message's seed and the entry's identity, each
/// finished with MurmurHash3's mixer (FNV alone barely changes its high bits when only the
/// last byte differs), marked as a version 8 (custom) UUID.
fn placeholder(seed: &str, target: &str) -> String {
    const BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let hash = |basis: u64| {
        let fnv = seed
            .bytes()
            .chain([0x1f])
            .chain(target.bytes())
            .fold(basis, |hash, byte| {
                (hash ^ u64::from(byte)).wrapping_mul(PRIME)
            });
        mix(fnv)
    };
    let high = hash(BASIS);
    let low = hash(high ^ 0x9e37_79b9_7f4a_7c15);
    let mut bytes = [0_u8; 16];
    bytes[..8].copy_from_slice(&high.to_be_bytes());
    bytes[8..].copy_from_slice(&low.to_be_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    format!("urn:uuid:{}", uuid::Uuid::from_bytes(bytes))
}

/// MurmurHash3's 64-bit finalizer: every input bit affects every output bit.
fn mix(mut hash: u64) -> u64 {
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    hash ^ (hash >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criteria_escape_search_and_query_syntax() {
        let key = Ident::new(Some("urn:id:GOOD%20HEALTH".into()), "A|1,2 & 3+4#?".into());
        assert_eq!(
            criteria(&key),
            "identifier=urn:id:GOOD%2520HEALTH|A%5C|1%5C%2C2%20%26%203%2B4%23%3F"
        );
        assert_eq!(criteria(&Ident::new(None, "77".into())), "identifier=|77");
    }

    #[test]
    fn placeholders_are_stable_uuids() {
        let one = placeholder("A|B|1", "Patient?identifier=x|1");
        assert_eq!(one, placeholder("A|B|1", "Patient?identifier=x|1"));
        assert_ne!(one, placeholder("A|B|2", "Patient?identifier=x|1"));
        assert_ne!(one, placeholder("A|B|1", "Patient?identifier=x|2"));
        let uuid = one.strip_prefix("urn:uuid:").unwrap();
        let parsed = uuid::Uuid::parse_str(uuid).unwrap();
        assert_eq!(parsed.get_version_num(), 8);
        assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122);
    }

    #[test]
    fn pruning() {
        let pruned =
            prune(json!({"a": null, "b": [], "c": [null, {"d": ""}], "e": {"f": [1]}, "g": " "}));
        assert_eq!(pruned, Some(json!({"e": {"f": [1]}})));
        assert_eq!(prune(json!({"a": {}})), None);
    }
}
