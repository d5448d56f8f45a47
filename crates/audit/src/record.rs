//! What a caller reports: [`AuditRecord`] and its closed vocabularies.

/// What kind of event a record describes; decides the AuditEvent's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Category {
    /// A FHIR REST interaction (read, search, create, …).
    Rest,
    /// A user signing in (or failing to).
    Login,
    /// An access token being issued, refreshed or refused.
    Token,
    /// A bulk data export.
    Export,
    /// An emergency ("break-the-glass") access that overrode the normal access rules.
    BreakGlass,
    /// Another security-relevant event (a refused access, a key change).
    Security,
}

impl Category {
    /// Every category, in declaration order.
    pub const ALL: [Category; 6] = [
        Category::Rest,
        Category::Login,
        Category::Token,
        Category::Export,
        Category::BreakGlass,
        Category::Security,
    ];

    /// The code stored in the ledger's `category` column and accepted by [`Category::from_code`].
    pub fn code(self) -> &'static str {
        match self {
            Category::Rest => "rest",
            Category::Login => "login",
            Category::Token => "token",
            Category::Export => "export",
            Category::BreakGlass => "break-glass",
            Category::Security => "security",
        }
    }

    /// The category with this [`Category::code`].
    pub fn from_code(code: &str) -> Option<Category> {
        Category::ALL
            .into_iter()
            .find(|category| category.code() == code)
    }

    /// The AuditEvent `type` coding: system, code, display.
    pub(crate) fn event_type(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Category::Rest | Category::BreakGlass => {
                (AUDIT_EVENT_TYPE, "rest", "Restful Operation")
            }
            Category::Login | Category::Token | Category::Security => {
                (DICOM, "110114", "User Authentication")
            }
            Category::Export => (DICOM, "110106", "Export"),
        }
    }
}

pub(crate) const AUDIT_EVENT_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-event-type";
pub(crate) const DICOM: &str = "http://dicom.nema.org/resources/ontology/DCM";

/// What the event did to the data (AuditEvent `action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `C`: create.
    Create,
    /// `R`: read, view or print (also search).
    Read,
    /// `U`: update.
    Update,
    /// `D`: delete.
    Delete,
    /// `E`: execute (operations, logins, batches).
    Execute,
}

impl Action {
    /// Every action, in declaration order.
    pub const ALL: [Action; 5] = [
        Action::Create,
        Action::Read,
        Action::Update,
        Action::Delete,
        Action::Execute,
    ];

    /// The one-letter FHIR code (`C`, `R`, `U`, `D`, `E`).
    pub fn code(self) -> &'static str {
        match self {
            Action::Create => "C",
            Action::Read => "R",
            Action::Update => "U",
            Action::Delete => "D",
            Action::Execute => "E",
        }
    }

    /// The action with this code (`C`, `R`, `U`, `D` or `E`).
    pub fn from_code(code: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|action| action.code() == code)
    }
}

/// Whether the event succeeded (AuditEvent `outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// `0`: success.
    Success,
    /// `4`: minor failure; the action was not successful (e.g. a rejected request).
    MinorFailure,
    /// `8`: serious failure; the action was ended prematurely.
    SeriousFailure,
    /// `12`: major failure; the action made a function unavailable.
    MajorFailure,
}

impl Outcome {
    /// Every outcome, in declaration order.
    pub const ALL: [Outcome; 4] = [
        Outcome::Success,
        Outcome::MinorFailure,
        Outcome::SeriousFailure,
        Outcome::MajorFailure,
    ];

    /// The FHIR code (`0`, `4`, `8`, `12`).
    pub fn code(self) -> &'static str {
        match self {
            Outcome::Success => "0",
            Outcome::MinorFailure => "4",
            Outcome::SeriousFailure => "8",
            Outcome::MajorFailure => "12",
        }
    }

    /// The outcome with this code.
    pub fn from_code(code: &str) -> Option<Outcome> {
        Outcome::ALL
            .into_iter()
            .find(|outcome| outcome.code() == code)
    }

    /// The numeric value stored in the ledger's `outcome` column.
    pub(crate) fn number(self) -> i64 {
        match self {
            Outcome::Success => 0,
            Outcome::MinorFailure => 4,
            Outcome::SeriousFailure => 8,
            Outcome::MajorFailure => 12,
        }
    }
}

/// Who the agent is: a person, a registered client application, or nobody authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgentKind {
    /// A person (the agent is a user name).
    User,
    /// A client application acting on its own behalf (the agent is a client id).
    Client,
    /// An unauthenticated caller (the agent is conventionally `anonymous`).
    Anonymous,
}

/// One event to append to the ledger.
///
/// Build it on the caller's thread and hand it to [`crate::AuditLog::record`]; the ledger turns
/// it into an R4 AuditEvent (see [`AuditRecord::to_audit_event`]). Only `category`,
/// `interaction`, `action`, `outcome` and `agent` are required; the rest may stay empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// When the event happened, in milliseconds since the Unix epoch; `0` means "now" and is
    /// filled in by [`crate::AuditLog::record`].
    pub recorded: i64,
    /// What kind of event this is.
    pub category: Category,
    /// The interaction: a FHIR restful-interaction code (`read`, `vread`, `search-type`,
    /// `create`, `update`, `delete`, `history-instance`, `batch`, `transaction`, `operation`, …)
    /// or `login`, `logout`, `token`.
    pub interaction: String,
    /// What was done to the data.
    pub action: Action,
    /// Whether it succeeded.
    pub outcome: Outcome,
    /// A short description of a failure (no patient data).
    pub outcome_desc: Option<String>,
    /// Who: a user name, a client id, or `anonymous`.
    pub agent: String,
    /// What kind of agent `agent` names.
    pub agent_kind: AgentKind,
    /// The agent's network address (IP address or host name).
    pub network_address: Option<String>,
    /// Purposes of use as v3-ActReason codes (`TREAT`, `ETREAT`, `BTG`, …).
    pub purpose_of_use: Vec<String>,
    /// The id of the patient the access concerns (`123` or `Patient/123`).
    pub patient: Option<String>,
    /// The resources involved, as relative references (`Observation/123`).
    pub entities: Vec<String>,
    /// The search query string, as received.
    pub query: Option<String>,
    /// Free text about the event for the auditor (no patient data beyond the fields above).
    pub detail: Option<String>,
}

impl AuditRecord {
    /// A record of `interaction` by `agent` with no patient, entities or query; recorded "now".
    pub fn new(
        category: Category,
        interaction: impl Into<String>,
        action: Action,
        outcome: Outcome,
        agent: impl Into<String>,
        agent_kind: AgentKind,
    ) -> AuditRecord {
        AuditRecord {
            recorded: 0,
            category,
            interaction: interaction.into(),
            action,
            outcome,
            outcome_desc: None,
            agent: agent.into(),
            agent_kind,
            network_address: None,
            purpose_of_use: Vec::new(),
            patient: None,
            entities: Vec::new(),
            query: None,
            detail: None,
        }
    }

    /// The patient id without a `Patient/` prefix.
    pub(crate) fn patient_id(&self) -> Option<&str> {
        self.patient
            .as_deref()
            .map(|patient| patient.strip_prefix("Patient/").unwrap_or(patient))
    }
}
