//! An [`AuditRecord`] as the ledger stores it, and as the R4 AuditEvent it is read as.
//!
//! The ledger stores (and hashes) the record's compact encoding behind its sequence number
//! ([`stored_bytes`]): about 200 bytes where the AuditEvent JSON takes about 1.5 KB, so the
//! ledger thread spends its time neither serializing JSON nor hashing it (a third and a quarter
//! of its time before, perf 2026-11-26) and the ledger is a seventh of the size. The JSON is
//! rendered from the stored bytes when a record is read ([`render`]); the same bytes always
//! render the same JSON.

use crate::record::DICOM;
use crate::{AgentKind, AuditRecord, Category, Error};
use base64::Engine as _;
use serde::Serialize;
use time::OffsetDateTime;
use time::macros::format_description;

const RESTFUL_INTERACTION: &str = "http://hl7.org/fhir/restful-interaction";
const ACT_REASON: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
const SECURITY_SOURCE_TYPE: &str = "http://terminology.hl7.org/CodeSystem/security-source-type";
const SECURITY_ROLE_TYPE: &str = "http://terminology.hl7.org/CodeSystem/extra-security-role-type";
const ENTITY_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
const OBJECT_ROLE: &str = "http://terminology.hl7.org/CodeSystem/object-role";

/// The FHIR R4 restful-interaction codes, which become the `subtype` as they are.
const RESTFUL_INTERACTIONS: [&str; 17] = [
    "read",
    "vread",
    "update",
    "patch",
    "delete",
    "history",
    "history-instance",
    "history-type",
    "history-system",
    "create",
    "search",
    "search-type",
    "search-system",
    "capabilities",
    "transaction",
    "batch",
    "operation",
];

impl AuditRecord {
    /// The AuditEvent JSON the ledger stores for this record under sequence number `seq`.
    ///
    /// `recorded` is used as it is (the ledger replaces `0` by the current time before calling
    /// this). Mapping: [`Category::Rest`] and [`Category::BreakGlass`] have type `rest` (break-glass
    /// also adds the purpose of use `BTG`); login, token and security events have DICOM type
    /// 110114 "User Authentication"; exports DICOM 110106 "Export". A restful-interaction code
    /// becomes the `subtype` in the restful-interaction system, `login`/`logout` the DICOM
    /// subtypes 110122/110123, and any other interaction a subtype with only a `code`.
    ///
    /// # Errors
    /// [`Error::RecordedOutOfRange`] when `recorded` is not in the years 1 to 9999.
    pub fn to_audit_event(&self, seq: u64) -> Result<Vec<u8>, Error> {
        encode(seq, self)
    }
}

/// The AuditEvent JSON of `record` as record `seq`.
fn encode(seq: u64, record: &AuditRecord) -> Result<Vec<u8>, Error> {
    let recorded = format_instant(record.recorded)?;
    let patient_reference = record.patient_id().map(|id| format!("Patient/{id}"));
    let query = record
        .query
        .as_deref()
        .map(|query| base64::engine::general_purpose::STANDARD.encode(query));
    let (type_system, type_code, type_display) = record.category.event_type();
    let id = seq.to_string();
    let event = Event {
        resource_type: "AuditEvent",
        id: &id,
        meta: Meta {
            version_id: "1",
            last_updated: &recorded,
        },
        event_type: Coding::new(type_system, type_code, Some(type_display)),
        subtype: subtype(&record.interaction).map(|coding| [coding]),
        action: record.action.code(),
        recorded: &recorded,
        outcome: record.outcome.code(),
        outcome_desc: record.outcome_desc.as_deref(),
        purpose_of_event: purposes(record),
        agent: [agent(record)],
        source: Source {
            observer: Display { display: "Medulla" },
            source_type: [Coding::new(
                SECURITY_SOURCE_TYPE,
                "4",
                Some("Application Server"),
            )],
        },
        entity: entities(record, patient_reference.as_deref(), query.as_deref()),
    };
    Ok(serde_json::to_vec(&event)?)
}

/// The bytes the ledger stores and hashes for `record` under `seq`: `seq` (u64 big-endian),
/// then the record's compact encoding (the journal's).
pub(crate) fn stored_bytes(seq: u64, record: &AuditRecord) -> Vec<u8> {
    let mut stored = Vec::with_capacity(256);
    stored.extend_from_slice(&seq.to_be_bytes());
    crate::journal::encode_record(&mut stored, record);
    stored
}

/// The sequence number stored bytes claim, if they are long enough to claim one.
pub(crate) fn claimed_seq(stored: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(*stored.first_chunk::<8>()?))
}

/// The AuditEvent JSON of the record stored as `stored` at `seq`.
///
/// # Errors
/// [`Error::UnreadableRecord`] when the bytes are not what [`stored_bytes`] writes (the file
/// was altered: `medulla audit verify` names how).
pub(crate) fn render(seq: u64, stored: &[u8]) -> Result<Vec<u8>, Error> {
    let unreadable = || Error::UnreadableRecord { seq };
    let record = stored
        .get(8..)
        .and_then(crate::journal::decode_record)
        .ok_or_else(unreadable)?;
    record.to_audit_event(seq)
}

/// A FHIR instant with milliseconds in UTC: `2024-05-01T12:30:00.250Z`.
pub(crate) fn format_instant(unix_ms: i64) -> Result<String, Error> {
    let out_of_range = || Error::RecordedOutOfRange { recorded: unix_ms };
    let instant = OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_ms) * 1_000_000)
        .map_err(|_| out_of_range())?;
    if instant.year() < 1 {
        return Err(out_of_range());
    }
    instant
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        ))
        .map_err(|_| out_of_range())
}

fn subtype(interaction: &str) -> Option<Coding<'_>> {
    if interaction.is_empty() {
        return None;
    }
    if RESTFUL_INTERACTIONS.contains(&interaction) {
        return Some(Coding::new(RESTFUL_INTERACTION, interaction, None));
    }
    Some(match interaction {
        "login" => Coding::new(DICOM, "110122", Some("Login")),
        "logout" => Coding::new(DICOM, "110123", Some("Logout")),
        // No standard code system names it; a code without a system still tells the auditor.
        other => Coding {
            system: None,
            code: other,
            display: None,
        },
    })
}

fn purposes(record: &AuditRecord) -> Vec<CodeableConcept<'_>> {
    let mut purposes: Vec<CodeableConcept<'_>> = record
        .purpose_of_use
        .iter()
        .map(|code| CodeableConcept {
            coding: [Coding::new(ACT_REASON, code, None)],
        })
        .collect();
    let has_break_glass = record.purpose_of_use.iter().any(|code| code == "BTG");
    if record.category == Category::BreakGlass && !has_break_glass {
        purposes.push(CodeableConcept {
            coding: [Coding::new(ACT_REASON, "BTG", Some("break the glass"))],
        });
    }
    purposes
}

fn agent(record: &AuditRecord) -> Agent<'_> {
    let agent_type = match record.agent_kind {
        AgentKind::User => Some(Coding::new(
            SECURITY_ROLE_TYPE,
            "humanuser",
            Some("human user"),
        )),
        AgentKind::Client => Some(Coding::new(DICOM, "110150", Some("Application"))),
        AgentKind::Anonymous => None,
    };
    Agent {
        agent_type: agent_type.map(|coding| CodeableConcept { coding: [coding] }),
        who: Who {
            identifier: Identifier {
                value: &record.agent,
            },
        },
        requestor: true,
        network: record.network_address.as_deref().map(|address| Network {
            address,
            // "2" is an IP address, "1" a machine name.
            network_type: if address.parse::<std::net::IpAddr>().is_ok() {
                "2"
            } else {
                "1"
            },
        }),
    }
}

fn entities<'a>(
    record: &'a AuditRecord,
    patient_reference: Option<&'a str>,
    query: Option<&'a str>,
) -> Vec<Entity<'a>> {
    let mut entities = Vec::with_capacity(record.entities.len() + 3);
    if let Some(reference) = patient_reference {
        entities.push(Entity {
            what: Some(Reference { reference }),
            entity_type: Some(Coding::new(ENTITY_TYPE, "1", Some("Person"))),
            role: Some(Coding::new(OBJECT_ROLE, "1", Some("Patient"))),
            ..Entity::default()
        });
    }
    for reference in &record.entities {
        // The patient entity already names it, with its role.
        if Some(reference.as_str()) != patient_reference {
            entities.push(Entity {
                what: Some(Reference { reference }),
                entity_type: Some(Coding::new(ENTITY_TYPE, "2", Some("System Object"))),
                ..Entity::default()
            });
        }
    }
    if let Some(query) = query {
        entities.push(Entity {
            entity_type: Some(Coding::new(ENTITY_TYPE, "2", Some("System Object"))),
            role: Some(Coding::new(OBJECT_ROLE, "24", Some("Query"))),
            query: Some(query),
            ..Entity::default()
        });
    }
    if let Some(detail) = record.detail.as_deref() {
        entities.push(Entity {
            entity_type: Some(Coding::new(ENTITY_TYPE, "4", Some("Other"))),
            description: Some(detail),
            ..Entity::default()
        });
    }
    entities
}

// The serialization shapes, in FHIR's element order. Private: the public boundary is bytes.

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Event<'a> {
    #[serde(rename = "resourceType")]
    resource_type: &'static str,
    id: &'a str,
    meta: Meta<'a>,
    #[serde(rename = "type")]
    event_type: Coding<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subtype: Option<[Coding<'a>; 1]>,
    action: &'static str,
    recorded: &'a str,
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome_desc: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    purpose_of_event: Vec<CodeableConcept<'a>>,
    agent: [Agent<'a>; 1],
    source: Source,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    entity: Vec<Entity<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Meta<'a> {
    version_id: &'static str,
    last_updated: &'a str,
}

#[derive(Serialize)]
struct Coding<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<&'static str>,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    display: Option<&'static str>,
}

impl<'a> Coding<'a> {
    fn new(system: &'static str, code: &'a str, display: Option<&'static str>) -> Coding<'a> {
        Coding {
            system: Some(system),
            code,
            display,
        }
    }
}

#[derive(Serialize)]
struct CodeableConcept<'a> {
    coding: [Coding<'a>; 1],
}

#[derive(Serialize)]
struct Agent<'a> {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    agent_type: Option<CodeableConcept<'a>>,
    who: Who<'a>,
    requestor: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    network: Option<Network<'a>>,
}

#[derive(Serialize)]
struct Who<'a> {
    identifier: Identifier<'a>,
}

#[derive(Serialize)]
struct Identifier<'a> {
    value: &'a str,
}

#[derive(Serialize)]
struct Network<'a> {
    address: &'a str,
    #[serde(rename = "type")]
    network_type: &'static str,
}

#[derive(Serialize)]
struct Source {
    observer: Display,
    #[serde(rename = "type")]
    source_type: [Coding<'static>; 1],
}

#[derive(Serialize)]
struct Display {
    display: &'static str,
}

#[derive(Serialize, Default)]
struct Entity<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    what: Option<Reference<'a>>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    entity_type: Option<Coding<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<Coding<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    query: Option<&'a str>,
}

#[derive(Serialize)]
struct Reference<'a> {
    reference: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::AUDIT_EVENT_TYPE;
    use crate::{Action, Outcome};
    use serde_json::{Value, json};

    fn parse(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).expect("the event is JSON")
    }

    #[test]
    fn instants_have_milliseconds_and_zulu() {
        assert_eq!(
            format_instant(1_714_566_600_250).expect("in range"),
            "2024-05-01T12:30:00.250Z"
        );
        assert_eq!(
            format_instant(0).expect("in range"),
            "1970-01-01T00:00:00.000Z"
        );
        assert!(matches!(
            format_instant(i64::MAX),
            Err(Error::RecordedOutOfRange { recorded: i64::MAX })
        ));
    }

    #[test]
    fn the_id_is_spliced_in_front_and_can_be_read_back() {
        let record = AuditRecord::new(
            Category::Login,
            "login",
            Action::Execute,
            Outcome::MinorFailure,
            "alice",
            AgentKind::User,
        );
        let bytes = record.to_audit_event(42).expect("encodes");
        assert!(bytes.starts_with(br#"{"resourceType":"AuditEvent","id":"42","meta":"#));
        let stored = stored_bytes(42, &record);
        assert_eq!(claimed_seq(&stored), Some(42));
        assert_eq!(render(42, &stored).expect("renders"), bytes);
        assert!(matches!(
            render(42, &stored[..stored.len() - 1]),
            Err(Error::UnreadableRecord { seq: 42 })
        ));
        assert_eq!(claimed_seq(&stored[..7]), None);
        let event = parse(&bytes);
        assert_eq!(event["id"], "42");
        assert_eq!(
            event["type"],
            json!({"system": DICOM, "code": "110114", "display": "User Authentication"})
        );
        assert_eq!(
            event["subtype"],
            json!([{"system": DICOM, "code": "110122", "display": "Login"}])
        );
        assert_eq!(event["outcome"], "4");
        assert_eq!(event["agent"][0]["type"]["coding"][0]["code"], "humanuser");
        assert_eq!(event.get("entity"), None);
    }

    #[test]
    fn break_glass_adds_btg_once_and_unknown_interactions_keep_their_code() {
        let mut record = AuditRecord::new(
            Category::BreakGlass,
            "emergency-access",
            Action::Execute,
            Outcome::Success,
            "dr-who",
            AgentKind::User,
        );
        let event = parse(&record.to_audit_event(1).expect("encodes"));
        assert_eq!(
            event["type"],
            json!({"system": AUDIT_EVENT_TYPE, "code": "rest", "display": "Restful Operation"})
        );
        assert_eq!(event["subtype"], json!([{"code": "emergency-access"}]));
        assert_eq!(
            event["purposeOfEvent"],
            json!([{"coding": [{"system": ACT_REASON, "code": "BTG", "display": "break the glass"}]}])
        );
        record.purpose_of_use = vec!["BTG".into(), "ETREAT".into()];
        let event = parse(&record.to_audit_event(1).expect("encodes"));
        let codes: Vec<&Value> = event["purposeOfEvent"]
            .as_array()
            .expect("purposes")
            .iter()
            .map(|purpose| &purpose["coding"][0]["code"])
            .collect();
        assert_eq!(codes, [&json!("BTG"), &json!("ETREAT")]);
    }

    #[test]
    fn export_and_client_agents_with_host_names() {
        let mut record = AuditRecord::new(
            Category::Export,
            "operation",
            Action::Execute,
            Outcome::Success,
            "bulk-client",
            AgentKind::Client,
        );
        record.network_address = Some("exporter.example.org".into());
        let event = parse(&record.to_audit_event(9).expect("encodes"));
        assert_eq!(event["type"]["code"], "110106");
        assert_eq!(event["subtype"][0]["system"], RESTFUL_INTERACTION);
        assert_eq!(event["agent"][0]["type"]["coding"][0]["code"], "110150");
        assert_eq!(
            event["agent"][0]["network"],
            json!({"address": "exporter.example.org", "type": "1"})
        );
    }

    #[test]
    fn a_patient_given_as_a_reference_is_not_doubled() {
        let mut record = AuditRecord::new(
            Category::Rest,
            "read",
            Action::Read,
            Outcome::Success,
            "alice",
            AgentKind::User,
        );
        record.patient = Some("Patient/p1".into());
        record.entities = vec!["Patient/p1".into()];
        let event = parse(&record.to_audit_event(3).expect("encodes"));
        let entities = event["entity"].as_array().expect("entities");
        assert_eq!(entities.len(), 1);
        assert_eq!(entities[0]["what"]["reference"], "Patient/p1");
        assert_eq!(entities[0]["role"]["code"], "1");
    }
}
