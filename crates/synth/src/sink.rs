//! Where generated resources go: entries of a transaction Bundle, or NDJSON lines per type.

use crate::ids::Uuid;

/// The resource types this crate emits, in the order their NDJSON files are listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ResourceType {
    Organization,
    Practitioner,
    Patient,
    Encounter,
    Condition,
    AllergyIntolerance,
    Observation,
    DiagnosticReport,
    MedicationRequest,
    Immunization,
    Procedure,
    CarePlan,
    Claim,
}

impl ResourceType {
    pub(crate) const ALL: [ResourceType; 13] = [
        ResourceType::Organization,
        ResourceType::Practitioner,
        ResourceType::Patient,
        ResourceType::Encounter,
        ResourceType::Condition,
        ResourceType::AllergyIntolerance,
        ResourceType::Observation,
        ResourceType::DiagnosticReport,
        ResourceType::MedicationRequest,
        ResourceType::Immunization,
        ResourceType::Procedure,
        ResourceType::CarePlan,
        ResourceType::Claim,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ResourceType::Organization => "Organization",
            ResourceType::Practitioner => "Practitioner",
            ResourceType::Patient => "Patient",
            ResourceType::Encounter => "Encounter",
            ResourceType::Condition => "Condition",
            ResourceType::AllergyIntolerance => "AllergyIntolerance",
            ResourceType::Observation => "Observation",
            ResourceType::DiagnosticReport => "DiagnosticReport",
            ResourceType::MedicationRequest => "MedicationRequest",
            ResourceType::Immunization => "Immunization",
            ResourceType::Procedure => "Procedure",
            ResourceType::CarePlan => "CarePlan",
            ResourceType::Claim => "Claim",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// How references between resources are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RefStyle {
    /// `urn:uuid:` for resources of the same Bundle, conditional references for shared ones.
    Bundle,
    /// `Type/id` literal references between resources that carry their ids.
    Ndjson,
}

/// Collects generated resources in the shape of one output format.
#[derive(Debug)]
pub(crate) struct Sink {
    style: RefStyle,
    bundle: String,
    entries: u64,
    lines: Vec<String>,
    resources: u64,
}

const BUNDLE_HEADER: &str = r#"{"resourceType":"Bundle","type":"transaction","entry":["#;

impl Sink {
    pub(crate) fn new(style: RefStyle) -> Self {
        let lines = match style {
            RefStyle::Bundle => Vec::new(),
            RefStyle::Ndjson => vec![String::new(); ResourceType::ALL.len()],
        };
        let mut sink = Sink {
            style,
            bundle: String::new(),
            entries: 0,
            lines,
            resources: 0,
        };
        sink.clear();
        sink
    }

    pub(crate) fn style(&self) -> RefStyle {
        self.style
    }

    /// Forgets everything collected so far, keeping allocated capacity.
    pub(crate) fn clear(&mut self) {
        self.bundle.clear();
        if self.style == RefStyle::Bundle {
            self.bundle.push_str(BUNDLE_HEADER);
        }
        for lines in &mut self.lines {
            lines.clear();
        }
        self.entries = 0;
        self.resources = 0;
    }

    pub(crate) fn resources(&self) -> u64 {
        self.resources
    }

    /// Adds a resource created with a plain `POST`.
    pub(crate) fn push(&mut self, resource_type: ResourceType, id: Uuid, resource: &str) {
        self.push_entry(resource_type, id, resource, None);
    }

    /// Adds a resource created with a conditional `POST` (`ifNoneExist`).
    pub(crate) fn push_conditional(
        &mut self,
        resource_type: ResourceType,
        id: Uuid,
        resource: &str,
        if_none_exist: &str,
    ) {
        self.push_entry(resource_type, id, resource, Some(if_none_exist));
    }

    fn push_entry(
        &mut self,
        resource_type: ResourceType,
        id: Uuid,
        resource: &str,
        if_none_exist: Option<&str>,
    ) {
        self.resources += 1;
        match self.style {
            RefStyle::Ndjson => {
                let lines = &mut self.lines[resource_type.index()];
                lines.push_str(resource);
                lines.push('\n');
            }
            RefStyle::Bundle => {
                let bundle = &mut self.bundle;
                if self.entries > 0 {
                    bundle.push(',');
                }
                self.entries += 1;
                bundle.push_str(r#"{"fullUrl":"urn:uuid:"#);
                id.push_to(bundle);
                bundle.push_str(r#"","resource":"#);
                bundle.push_str(resource);
                bundle.push_str(r#","request":{"method":"POST","url":""#);
                bundle.push_str(resource_type.as_str());
                if let Some(condition) = if_none_exist {
                    bundle.push_str(r#"","ifNoneExist":""#);
                    crate::json::push_escaped(bundle, condition);
                }
                bundle.push_str(r#""}}"#);
            }
        }
    }

    /// Closes the Bundle and returns its text (Bundle style only).
    pub(crate) fn finish_bundle(&mut self) -> &str {
        self.bundle.push_str("]}");
        &self.bundle
    }

    /// Takes the NDJSON lines collected per type, indexed by [`ResourceType::index`], leaving
    /// empty buffers behind (NDJSON style only).
    pub(crate) fn take_lines(&mut self) -> Vec<String> {
        let fresh = vec![String::new(); self.lines.len()];
        self.resources = 0;
        std::mem::replace(&mut self.lines, fresh)
    }
}
