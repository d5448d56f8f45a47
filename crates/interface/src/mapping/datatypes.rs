//! The v2 data types that become FHIR data types: CX/EI/HD → Identifier (and its system),
//! XPN → HumanName, XAD → Address, XTN → ContactPoint, CE/CWE → CodeableConcept.
//!
//! Each converter takes one composite value ([`Parts`]) and returns JSON with `null` for what
//! is missing; the Bundle builder prunes those before the resource is written.

use super::segment::Parts;
use serde_json::{Value, json};

/// HL7 table 0203 (identifier type) as a FHIR code system.
pub(crate) const V2_0203: &str = "http://terminology.hl7.org/CodeSystem/v2-0203";

/// An identifier: what a resource is found by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ident {
    /// The namespace (`urn:oid:…`, `urn:id:…`); `None` when nothing qualifies the value.
    pub system: Option<String>,
    /// The identifier itself.
    pub value: String,
    /// HL7 table 0203 code (MR, VN, PLAC, FILL…).
    pub type_code: Option<String>,
}

impl Ident {
    /// An identifier without a type.
    pub fn new(system: Option<String>, value: String) -> Ident {
        Ident {
            system,
            value,
            type_code: None,
        }
    }

    /// The same identifier with type `code` when it has none.
    pub fn typed(mut self, code: &str) -> Ident {
        if self.type_code.is_none() {
            self.type_code = Some(code.to_owned());
        }
        self
    }

    /// As a FHIR Identifier.
    pub fn to_json(&self) -> Value {
        json!({
            "type": self.type_code.as_ref().map(|code| json!({
                "coding": [{"system": V2_0203, "code": code}]
            })),
            "system": self.system,
            "value": self.value,
        })
    }
}

/// CX → Identifier: CX-1 the value, CX-4 (HD) the system, CX-5 the type. Identifiers without
/// an assigning authority get `local_system` (the sender's).
pub(crate) fn cx(cx: &Parts<'_>, local_system: Option<&str>) -> Option<Ident> {
    let value = cx.part(1)?;
    let system = cx
        .nested(4)
        .and_then(|hd| hd_system(hd.part(1), hd.part(2), hd.part(3)))
        .or_else(|| local_system.map(str::to_owned));
    Some(Ident {
        system,
        value,
        type_code: cx.part(5),
    })
}

/// EI → Identifier: EI-1 the value, EI-2..4 (namespace, universal id, its type) the system.
pub(crate) fn ei(ei: &Parts<'_>, local_system: Option<&str>) -> Option<Ident> {
    let value = ei.part(1)?;
    let system =
        hd_system(ei.part(2), ei.part(3), ei.part(4)).or_else(|| local_system.map(str::to_owned));
    Some(Ident::new(system, value))
}

/// An assigning authority (HD: namespace id, universal id, universal id type) as a FHIR
/// identifier system: `urn:oid:` for an ISO OID, the URI itself for a URI, `urn:uuid:` for a
/// UUID, otherwise a stable `urn:id:<namespace>`.
pub(crate) fn hd_system(
    namespace: Option<String>,
    universal_id: Option<String>,
    kind: Option<String>,
) -> Option<String> {
    if let Some(id) = &universal_id {
        let kind = kind.as_deref().map(str::to_ascii_uppercase);
        match kind.as_deref() {
            Some("ISO") | None if is_oid(id) => return Some(format!("urn:oid:{id}")),
            Some("UUID") if is_uuid(id) => {
                return Some(format!("urn:uuid:{}", id.to_ascii_lowercase()));
            }
            Some("URI" | "URL") if is_uri(id) => return Some(id.clone()),
            _ => {}
        }
    }
    namespace.or(universal_id).map(|name| urn_id(&name))
}

/// `urn:id:<name>`, with whatever a URI cannot hold percent-encoded (so `GOOD HEALTH` is
/// `urn:id:GOOD%20HEALTH`, the same every time).
pub(crate) fn urn_id(name: &str) -> String {
    format!("urn:id:{}", percent_encode(name))
}

/// `text` with every byte other than letters, digits, `-._~:` percent-encoded: safe inside
/// a URI, and the same text always gives the same URI.
pub(crate) fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b':') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// An OID as FHIR's `oid` type allows it: `0`, `1` or `2`, then arcs without leading zeros.
fn is_oid(text: &str) -> bool {
    let mut arcs = text.split('.');
    let root_ok = matches!(arcs.next(), Some("0" | "1" | "2"));
    let mut count = 0;
    let rest_ok = arcs.all(|arc| {
        count += 1;
        !arc.is_empty()
            && arc.bytes().all(|b| b.is_ascii_digit())
            && (arc == "0" || !arc.starts_with('0'))
    });
    root_ok && rest_ok && count > 0
}

fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    let lengths = [8, 4, 4, 4, 12];
    groups.len() == 5
        && groups.iter().zip(lengths).all(|(group, length)| {
            group.len() == length && group.bytes().all(|b| b.is_ascii_hexdigit())
        })
}

fn is_uri(text: &str) -> bool {
    text.contains(':') && !text.chars().any(char::is_whitespace)
}

/// XPN → HumanName: family XPN-1, given XPN-2 and the middle names of XPN-3, suffix XPN-4
/// and the degree XPN-6, prefix XPN-5, use from XPN-7 (table 0200).
pub(crate) fn human_name(xpn: &Parts<'_>) -> Option<Value> {
    person_name(xpn, 1)
}

/// The name parts of an XPN (starting at part 1) or of an XCN/CNN (starting at part 2, after
/// the id): family, given, middle, suffix, prefix, degree, then (XPN only) the name type.
pub(crate) fn person_name(parts: &Parts<'_>, first: usize) -> Option<Value> {
    let at = |offset: usize| parts.part(first + offset);
    let family = at(0);
    let given: Vec<String> = [at(1), at(2)].into_iter().flatten().collect();
    if family.is_none() && given.is_empty() {
        return None;
    }
    let suffix: Vec<String> = [at(3), at(5)].into_iter().flatten().collect();
    let name_use = if first == 1 {
        at(6).as_deref().and_then(name_use)
    } else {
        None
    };
    Some(json!({
        "use": name_use,
        "family": family,
        "given": given,
        "prefix": at(4).map(|prefix| vec![prefix]),
        "suffix": suffix,
    }))
}

/// HL7 table 0200 (name type) → FHIR name-use.
fn name_use(code: &str) -> Option<&'static str> {
    Some(match code.to_ascii_uppercase().as_str() {
        "L" | "C" | "R" => "official",
        "D" | "A" => "usual",
        "M" => "maiden",
        "N" => "nickname",
        "S" => "anonymous",
        "B" | "BAD" => "old",
        _ => return None,
    })
}

/// "Given Family", for a Reference's display.
pub(crate) fn name_display(name: &Value) -> Option<String> {
    let given = name
        .get("given")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str);
    let family = name.get("family").and_then(Value::as_str);
    let words: Vec<&str> = given.chain(family).collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// XAD → Address: lines XAD-1 (street) and XAD-2 (other designation), city XAD-3, state
/// XAD-4, postal code XAD-5, country XAD-6, district XAD-9 (county), use/type from XAD-7
/// (table 0190).
pub(crate) fn address(xad: &Parts<'_>) -> Option<Value> {
    let line: Vec<String> = [xad.part(1), xad.part(2)].into_iter().flatten().collect();
    let (city, state, postal_code, country, district) = (
        xad.part(3),
        xad.part(4),
        xad.part(5),
        xad.part(6),
        xad.part(9),
    );
    let empty = line.is_empty()
        && [&city, &state, &postal_code, &country, &district]
            .iter()
            .all(|part| part.is_none());
    if empty {
        return None;
    }
    let (address_use, address_type) = xad.part(7).as_deref().map_or((None, None), address_kind);
    Some(json!({
        "use": address_use,
        "type": address_type,
        "line": line,
        "city": city,
        "district": district,
        "state": state,
        "postalCode": postal_code,
        "country": country,
    }))
}

/// HL7 table 0190 (address type) → FHIR address use and type.
fn address_kind(code: &str) -> (Option<&'static str>, Option<&'static str>) {
    match code.to_ascii_uppercase().as_str() {
        "H" | "P" => (Some("home"), None),
        "B" | "O" => (Some("work"), None),
        "C" | "V" => (Some("temp"), None),
        "BA" => (Some("old"), None),
        "M" => (None, Some("postal")),
        "SH" => (None, Some("physical")),
        _ => (None, None),
    }
}

/// XTN → ContactPoint. The system comes from the equipment type XTN-3 (PH phone, CP phone,
/// FX fax, Internet email, BP pager) or the use XTN-2 (NET email, BPN pager); the use from
/// XTN-2 (table 0201: PRN/ORN/VHN home, WPN work, PRS mobile), a cellular phone being
/// mobile whatever XTN-2 says; `default_use` when XTN-2 is empty (PID-13 home, PID-14
/// work). The value is XTN-4 for email, otherwise XTN-1 or the number built from XTN-5..8.
pub(crate) fn contact_point(xtn: &Parts<'_>, default_use: Option<&str>) -> Option<Value> {
    let use_code = xtn.part(2).map(|code| code.to_ascii_uppercase());
    let equipment = xtn.part(3).map(|code| code.to_ascii_uppercase());
    let system = match (equipment.as_deref(), use_code.as_deref()) {
        (Some("INTERNET" | "X.400"), _) | (None, Some("NET")) => "email",
        (Some("FX"), _) => "fax",
        (Some("BP"), _) | (None, Some("BPN")) => "pager",
        (Some("MD"), _) => "other",
        (None, None) if xtn.part(4).is_some() && xtn.part(1).is_none() && xtn.part(7).is_none() => {
            "email"
        }
        _ => "phone",
    };
    let contact_use = match (equipment.as_deref(), use_code.as_deref()) {
        (Some("CP"), _) | (_, Some("PRS")) => Some("mobile"),
        (_, Some("PRN" | "ORN" | "VHN")) => Some("home"),
        (_, Some("WPN")) => Some("work"),
        (_, Some(_)) => None,
        (_, None) => default_use,
    };
    let value = if system == "email" {
        xtn.part(4).or_else(|| xtn.part(1))
    } else {
        xtn.part(1).or_else(|| phone_number(xtn))
    }?;
    Some(json!({"system": system, "value": value, "use": contact_use}))
}

/// `+1 217 5550100 ext. 12` from XTN-5 (country), XTN-6 (area), XTN-7 (local), XTN-8
/// (extension).
fn phone_number(xtn: &Parts<'_>) -> Option<String> {
    let local = xtn.part(7)?;
    let mut out = String::new();
    if let Some(country) = xtn.part(5) {
        out.push_str(&format!("+{} ", country.trim_start_matches('+')));
    }
    if let Some(area) = xtn.part(6) {
        out.push_str(&format!("{area} "));
    }
    out.push_str(&local);
    if let Some(extension) = xtn.part(8) {
        out.push_str(&format!(" ext. {extension}"));
    }
    Some(out)
}

/// CE/CWE → CodeableConcept: a coding from CWE-1..3 (and version CWE-7), another from the
/// alternate CWE-4..6 (CWE-8), text from CWE-9 (original text) or the display. A coding
/// without a coding system gets `default_table` (`"HL70001"`) when the field is bound to a
/// v2 table.
pub(crate) fn codeable_concept(cwe: &Parts<'_>, default_table: Option<&str>) -> Option<Value> {
    let codings: Vec<Value> = [(1, 2, 3, 7), (4, 5, 6, 8)]
        .into_iter()
        .filter_map(|(code, display, system, version)| {
            Some(coding(
                cwe.part(code)?,
                cwe.part(display),
                cwe.part(system).as_deref().or(default_table),
                cwe.part(version),
            ))
        })
        .collect();
    let text = cwe.part(9).or_else(|| cwe.part(2)).or_else(|| cwe.part(5));
    if codings.is_empty() && text.is_none() {
        return None;
    }
    Some(json!({"coding": codings, "text": text}))
}

/// One Coding; the v2 coding system name is translated by [`coding_system`].
pub(crate) fn coding(
    code: String,
    display: Option<String>,
    system: Option<&str>,
    version: Option<String>,
) -> Value {
    json!({
        "system": system.map(coding_system),
        "version": version,
        "code": code,
        "display": display,
    })
}

/// A v2 coding system name (HL7 table 0396) as a FHIR code system URI.
pub(crate) fn coding_system(name: &str) -> String {
    let upper = name.trim().to_ascii_uppercase();
    let known = match upper.as_str() {
        "LN" | "LOINC" => "http://loinc.org",
        "SCT" | "SNM" | "SNOMEDCT" | "SNOMED-CT" => "http://snomed.info/sct",
        "I10C" | "ICD10CM" => "http://hl7.org/fhir/sid/icd-10-cm",
        // Plain I10 is the WHO classification, not the US clinical modification.
        "I10" | "ICD10" => "http://hl7.org/fhir/sid/icd-10",
        "I9C" | "I9CDX" | "ICD9CM" => "http://hl7.org/fhir/sid/icd-9-cm",
        "CVX" => "http://hl7.org/fhir/sid/cvx",
        "MVX" => "http://hl7.org/fhir/sid/mvx",
        "NDC" => "http://hl7.org/fhir/sid/ndc",
        "RXNORM" | "RXN" => "http://www.nlm.nih.gov/research/umls/rxnorm",
        "UCUM" => "http://unitsofmeasure.org",
        "C4" | "CPT" => "http://www.ama-assn.org/go/cpt",
        "NCIT" => "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl",
        _ => {
            let table = upper
                .strip_prefix("HL7")
                .filter(|digits| digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_digit()));
            return match table {
                Some(digits) => format!("http://terminology.hl7.org/CodeSystem/v2-{digits}"),
                None => urn_id(name.trim()),
            };
        }
    };
    known.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::segment::Seg;
    use medulla_hl7v2::parse;

    /// Reads `field` as the first field of a Z-segment and hands it to `read`.
    fn with_parts<T>(field: &str, read: impl Fn(&Parts<'_>) -> T) -> T {
        let text = format!("MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5.1\rZZZ|{field}\r");
        let message = parse(text.as_bytes(), &Default::default()).unwrap();
        let segment = Seg::first(&message, "ZZZ").unwrap();
        read(&segment.parts(1).unwrap())
    }

    #[test]
    fn cx_systems() {
        let oid = with_parts("123^^^HOSP&2.16.840.1.113883.19.5&ISO^MR", |p| cx(p, None)).unwrap();
        assert_eq!(
            oid.system.as_deref(),
            Some("urn:oid:2.16.840.1.113883.19.5")
        );
        assert_eq!(oid.value, "123");
        assert_eq!(oid.type_code.as_deref(), Some("MR"));
        let namespace = with_parts("123^^^GOOD HEALTH^MR", |p| cx(p, None)).unwrap();
        assert_eq!(namespace.system.as_deref(), Some("urn:id:GOOD%20HEALTH"));
        // "ISO" with something that is not an OID falls back to the namespace.
        let not_oid = with_parts("123^^^HOSP&abc&ISO", |p| cx(p, None)).unwrap();
        assert_eq!(not_oid.system.as_deref(), Some("urn:id:HOSP"));
        let uri = with_parts("9^^^&http://example.org/mrn&URI", |p| cx(p, None)).unwrap();
        assert_eq!(uri.system.as_deref(), Some("http://example.org/mrn"));
        let local = with_parts("77", |p| cx(p, Some("urn:id:LAB"))).unwrap();
        assert_eq!(local.system.as_deref(), Some("urn:id:LAB"));
        assert_eq!(local.type_code, None);
        assert_eq!(with_parts("^^^HOSP^MR", |p| cx(p, None)), None);
        assert_eq!(
            with_parts("1^^^HOSP^MR", |p| cx(p, None))
                .unwrap()
                .to_json(),
            json!({"type": {"coding": [{"system": V2_0203, "code": "MR"}]},
                   "system": "urn:id:HOSP", "value": "1"})
        );
    }

    #[test]
    fn ei_and_hd_systems() {
        let filler = with_parts("F-1^LAB^1.2.3^ISO", |p| ei(p, None)).unwrap();
        assert_eq!(
            filler,
            Ident::new(Some("urn:oid:1.2.3".into()), "F-1".into())
        );
        assert_eq!(
            hd_system(None, Some("01.2".into()), Some("ISO".into())).as_deref(),
            Some("urn:id:01.2")
        );
        assert_eq!(
            hd_system(
                None,
                Some("0F8FAD5B-D9CB-469F-A165-70867728950E".into()),
                Some("UUID".into())
            )
            .as_deref(),
            Some("urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e")
        );
        assert_eq!(hd_system(None, None, None), None);
        assert_eq!(urn_id("A/B&C"), "urn:id:A%2FB%26C");
    }

    #[test]
    fn xpn_names() {
        let name = with_parts("O\\S\\Brien^Mary^Ann^Jr^Dr^MD^L", human_name).unwrap();
        assert_eq!(
            name,
            json!({"use": "official", "family": "O^Brien", "given": ["Mary", "Ann"],
                   "prefix": ["Dr"], "suffix": ["Jr", "MD"]})
        );
        let maiden = with_parts("Smith^Mary^^^^^M", human_name).unwrap();
        assert_eq!(maiden["use"], "maiden");
        assert_eq!(maiden["suffix"], json!([]));
        let nickname = with_parts("^Molly^^^^^N", human_name).unwrap();
        assert_eq!(
            (nickname["use"].as_str(), nickname["family"].is_null()),
            (Some("nickname"), true)
        );
        assert_eq!(with_parts("^^^^Dr", human_name), None);
        assert_eq!(name_display(&name).as_deref(), Some("Mary Ann O^Brien"));
    }

    #[test]
    fn xad_addresses() {
        let home = with_parts(
            "12 Main St^Apt 4^Springfield^IL^62701^USA^H^^17167",
            address,
        )
        .unwrap();
        assert_eq!(
            home,
            json!({"use": "home", "type": null, "line": ["12 Main St", "Apt 4"], "city": "Springfield",
                   "district": "17167", "state": "IL", "postalCode": "62701", "country": "USA"})
        );
        let mailing = with_parts("PO Box 9^^Chicago^IL^60601^^M", address).unwrap();
        assert_eq!(
            (mailing["use"].is_null(), mailing["type"].as_str()),
            (true, Some("postal"))
        );
        assert_eq!(
            with_parts("1 Work Rd^^X^^^^B", address).unwrap()["use"],
            "work"
        );
        assert_eq!(with_parts("^^^^^^H", address), None);
    }

    #[test]
    fn xtn_contact_points() {
        let home = with_parts("(217)555-0100^PRN^PH", |p| contact_point(p, None)).unwrap();
        assert_eq!(
            home,
            json!({"system": "phone", "value": "(217)555-0100", "use": "home"})
        );
        let mobile = with_parts("^PRN^CP^^1^217^5550199", |p| contact_point(p, None)).unwrap();
        assert_eq!(
            mobile,
            json!({"system": "phone", "value": "+1 217 5550199", "use": "mobile"})
        );
        let work = with_parts("^WPN^PH^^^312^5550142^77", |p| {
            contact_point(p, Some("home"))
        })
        .unwrap();
        assert_eq!(
            work,
            json!({"system": "phone", "value": "312 5550142 ext. 77", "use": "work"})
        );
        let email =
            with_parts("^NET^Internet^mary@example.org", |p| contact_point(p, None)).unwrap();
        assert_eq!(
            email,
            json!({"system": "email", "value": "mary@example.org", "use": null})
        );
        let fax = with_parts("555-0111^WPN^FX", |p| contact_point(p, None)).unwrap();
        assert_eq!(
            (fax["system"].as_str(), fax["use"].as_str()),
            (Some("fax"), Some("work"))
        );
        let defaulted = with_parts("555-0122", |p| contact_point(p, Some("work"))).unwrap();
        assert_eq!(defaulted["use"], "work");
        assert_eq!(with_parts("^PRN^PH", |p| contact_point(p, None)), None);
    }

    #[test]
    fn cwe_systems_and_text() {
        let loinc = with_parts(
            "2345-7^Glucose^LN^GLU^Glucose SerPl^99LAB^2.77^^Glucose, fasting",
            |p| codeable_concept(p, None),
        )
        .unwrap();
        assert_eq!(
            loinc,
            json!({"coding": [
                {"system": "http://loinc.org", "version": "2.77", "code": "2345-7", "display": "Glucose"},
                {"system": "urn:id:99LAB", "version": null, "code": "GLU", "display": "Glucose SerPl"}
            ], "text": "Glucose, fasting"})
        );
        let table = with_parts("F^Female", |p| codeable_concept(p, Some("HL70001"))).unwrap();
        assert_eq!(
            table["coding"][0]["system"],
            "http://terminology.hl7.org/CodeSystem/v2-0001"
        );
        assert_eq!(table["text"], "Female");
        let text_only = with_parts("^Patient refused", |p| codeable_concept(p, None)).unwrap();
        assert_eq!(text_only, json!({"coding": [], "text": "Patient refused"}));
        for (name, system) in [
            ("SCT", "http://snomed.info/sct"),
            ("SNM", "http://snomed.info/sct"),
            ("I10C", "http://hl7.org/fhir/sid/icd-10-cm"),
            ("I10", "http://hl7.org/fhir/sid/icd-10"),
            ("CVX", "http://hl7.org/fhir/sid/cvx"),
            ("RXNORM", "http://www.nlm.nih.gov/research/umls/rxnorm"),
            ("RXN", "http://www.nlm.nih.gov/research/umls/rxnorm"),
            ("UCUM", "http://unitsofmeasure.org"),
            ("HL70078", "http://terminology.hl7.org/CodeSystem/v2-0078"),
            ("HL7078", "urn:id:HL7078"),
            ("L", "urn:id:L"),
            ("MY CODES", "urn:id:MY%20CODES"),
        ] {
            assert_eq!(coding_system(name), system, "{name}");
        }
    }
}
