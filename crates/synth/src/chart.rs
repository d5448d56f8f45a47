//! The FHIR R4 shapes of one patient's record: each method writes one resource into the
//! [`Sink`] and returns its id, so that later resources can refer to it.
//!
//! Simulation (what happens when) lives in `life`; this module only knows element names.

use fastrand::Rng;

use crate::catalog::clinical::{
    AllergyDef, BLOOD_PRESSURE_PANEL, CarePlanDef, Code, DIASTOLIC, QuantityDef, SYSTOLIC,
};
use crate::clock::{push_date_time, push_instant};
use crate::directory::{NPI_SYSTEM, Organization, Practitioner, SYNTHEA_SYSTEM};
use crate::ids::Uuid;
use crate::json::Json;
use crate::sink::{RefStyle, ResourceType, Sink};

mod patient;

pub(crate) use patient::Demographics;

pub(crate) const SNOMED: &str = "http://snomed.info/sct";
pub(crate) const LOINC: &str = "http://loinc.org";
pub(crate) const RXNORM: &str = "http://www.nlm.nih.gov/research/umls/rxnorm";
pub(crate) const CVX: &str = "http://hl7.org/fhir/sid/cvx";
const UCUM: &str = "http://unitsofmeasure.org";
const OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";

/// The category of an Observation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ObservationCategory {
    VitalSigns,
    Laboratory,
    SocialHistory,
}

impl ObservationCategory {
    fn code(self) -> (&'static str, &'static str) {
        match self {
            ObservationCategory::VitalSigns => ("vital-signs", "vital signs"),
            ObservationCategory::Laboratory => ("laboratory", "laboratory"),
            ObservationCategory::SocialHistory => ("social-history", "social-history"),
        }
    }
}

/// The `Encounter.class` of a visit (v3 ActCode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EncounterClass {
    Ambulatory,
    Emergency,
    Inpatient,
}

impl EncounterClass {
    fn code(self) -> (&'static str, &'static str) {
        match self {
            EncounterClass::Ambulatory => ("AMB", "ambulatory"),
            EncounterClass::Emergency => ("EMER", "emergency"),
            EncounterClass::Inpatient => ("IMP", "inpatient encounter"),
        }
    }
}

/// An Encounter already written, which later resources of the visit refer to.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Visit {
    pub id: Uuid,
    pub start: i64,
    pub end: i64,
}

/// What a new Encounter is for.
#[derive(Debug)]
pub(crate) struct EncounterFacts {
    pub start: i64,
    pub end: i64,
    pub class: EncounterClass,
    pub kind: Code,
    pub reason: Option<Code>,
}

/// Writes one patient's resources with consistent subject, provider and reference style.
pub(crate) struct Chart<'a> {
    pub rng: Rng,
    style: RefStyle,
    offset: i32,
    patient: Uuid,
    organization: &'a Organization,
    practitioner: &'a Practitioner,
    json: Json,
    sink: &'a mut Sink,
}

fn push_reference(buf: &mut String, style: RefStyle, resource_type: ResourceType, id: Uuid) {
    match style {
        RefStyle::Bundle => buf.push_str("urn:uuid:"),
        RefStyle::Ndjson => {
            buf.push_str(resource_type.as_str());
            buf.push('/');
        }
    }
    id.push_to(buf);
}

pub(crate) fn push_organization_reference(buf: &mut String, style: RefStyle, org: &Organization) {
    match style {
        RefStyle::Bundle => {
            buf.push_str("Organization?identifier=");
            buf.push_str(SYNTHEA_SYSTEM);
            buf.push('|');
            buf.push_str(&org.id_text);
        }
        RefStyle::Ndjson => {
            buf.push_str("Organization/");
            buf.push_str(&org.id_text);
        }
    }
}

pub(crate) fn push_practitioner_reference(
    buf: &mut String,
    style: RefStyle,
    practitioner: &Practitioner,
) {
    match style {
        RefStyle::Bundle => {
            buf.push_str("Practitioner?identifier=");
            buf.push_str(NPI_SYSTEM);
            buf.push('|');
            buf.push_str(&practitioner.npi);
        }
        RefStyle::Ndjson => {
            buf.push_str("Practitioner/");
            practitioner.id.push_to(buf);
        }
    }
}

/// Writes `{"system":..,"code":..,"display":..}`.
pub(crate) fn write_coding(json: &mut Json, system: &str, code: Code) {
    json.begin_object();
    json.field_str("system", system);
    json.field_str("code", code.code);
    json.field_str("display", code.display);
    json.end_object();
}

/// Writes `key: {"coding":[..],"text":..}`.
pub(crate) fn write_concept(json: &mut Json, key: &str, system: &str, code: Code) {
    json.field_object(key);
    json.field_array("coding");
    write_coding(json, system, code);
    json.end_array();
    json.field_str("text", code.display);
    json.end_object();
}

/// Writes `key: [{"coding":[{system, code, display}]}]` for terminology-bound status arrays.
fn write_concept_list(json: &mut Json, key: &str, system: &str, code: Code) {
    json.field_array(key);
    json.begin_object();
    json.field_array("coding");
    write_coding(json, system, code);
    json.end_array();
    json.end_object();
    json.end_array();
}

/// Writes `key: {"coding":[{system, code}]}` without text, as Synthea does for statuses.
fn write_status_concept(json: &mut Json, key: &str, system: &str, code: &str) {
    json.field_object(key);
    json.field_array("coding");
    json.begin_object();
    json.field_str("system", system);
    json.field_str("code", code);
    json.end_object();
    json.end_array();
    json.end_object();
}

fn write_quantity(json: &mut Json, key: &str, definition: &QuantityDef, value: f64) {
    json.field_object(key);
    json.key("value");
    json.decimal(value, definition.decimals);
    json.field_str("unit", definition.unit);
    json.field_str("system", UCUM);
    json.field_str("code", definition.unit);
    json.end_object();
}

impl<'a> Chart<'a> {
    pub(crate) fn new(
        rng: Rng,
        offset: i32,
        organization: &'a Organization,
        practitioner: &'a Practitioner,
        sink: &'a mut Sink,
    ) -> Self {
        let mut rng = rng;
        let patient = Uuid::random(&mut rng);
        Chart {
            rng,
            style: sink.style(),
            offset,
            patient,
            organization,
            practitioner,
            json: Json::with_capacity(4096),
            sink,
        }
    }

    pub(crate) fn patient_id(&self) -> Uuid {
        self.patient
    }

    fn begin(&mut self, resource_type: ResourceType) -> Uuid {
        let id = Uuid::random(&mut self.rng);
        self.json.clear();
        self.json.begin_object();
        self.json.field_str("resourceType", resource_type.as_str());
        self.json.field_with("id", |buf| id.push_to(buf));
        id
    }

    pub(super) fn finish_resource(&mut self, resource_type: ResourceType, id: Uuid) -> Uuid {
        self.json.end_object();
        self.sink.push(resource_type, id, self.json.as_str());
        id
    }

    fn reference(&mut self, key: &str, resource_type: ResourceType, id: Uuid) {
        let style = self.style;
        self.json.field_object(key);
        self.json.field_with("reference", |buf| {
            push_reference(buf, style, resource_type, id)
        });
        self.json.end_object();
    }

    fn subject(&mut self, key: &str) {
        self.reference(key, ResourceType::Patient, self.patient);
    }

    fn organization_reference(&mut self, key: &str) {
        let (style, organization) = (self.style, self.organization);
        self.json.field_object(key);
        self.json.field_with("reference", |buf| {
            push_organization_reference(buf, style, organization)
        });
        self.json.field_str("display", &organization.name);
        self.json.end_object();
    }

    fn practitioner_reference(&mut self, key: &str) {
        let (style, practitioner) = (self.style, self.practitioner);
        self.json.field_object(key);
        self.json.field_with("reference", |buf| {
            push_practitioner_reference(buf, style, practitioner)
        });
        self.json.field_str("display", &practitioner.display);
        self.json.end_object();
    }

    fn date_time(&mut self, key: &str, time: i64) {
        let offset = self.offset;
        self.json
            .field_with(key, |buf| push_date_time(buf, time, offset));
    }

    fn instant(&mut self, key: &str, time: i64) {
        let offset = self.offset;
        self.json
            .field_with(key, |buf| push_instant(buf, time, offset));
    }

    fn period(&mut self, key: &str, start: i64, end: Option<i64>) {
        self.json.field_object(key);
        self.date_time("start", start);
        if let Some(end) = end {
            self.date_time("end", end);
        }
        self.json.end_object();
    }

    pub(crate) fn encounter(&mut self, facts: &EncounterFacts) -> Visit {
        let id = self.begin(ResourceType::Encounter);
        self.json.field_str("status", "finished");
        let (class_code, class_display) = facts.class.code();
        self.json.field_object("class");
        self.json
            .field_str("system", "http://terminology.hl7.org/CodeSystem/v3-ActCode");
        self.json.field_str("code", class_code);
        self.json.field_str("display", class_display);
        self.json.end_object();
        self.json.field_array("type");
        self.json.begin_object();
        self.json.field_array("coding");
        write_coding(&mut self.json, SNOMED, facts.kind);
        self.json.end_array();
        self.json.field_str("text", facts.kind.display);
        self.json.end_object();
        self.json.end_array();
        self.subject("subject");
        self.json.field_array("participant");
        self.json.begin_object();
        self.json.field_array("type");
        self.json.begin_object();
        self.json.field_array("coding");
        self.json.begin_object();
        self.json.field_str(
            "system",
            "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
        );
        self.json.field_str("code", "PPRF");
        self.json.field_str("display", "primary performer");
        self.json.end_object();
        self.json.end_array();
        self.json.field_str("text", "primary performer");
        self.json.end_object();
        self.json.end_array();
        self.period("period", facts.start, Some(facts.end));
        self.practitioner_reference("individual");
        self.json.end_object();
        self.json.end_array();
        self.period("period", facts.start, Some(facts.end));
        if let Some(reason) = facts.reason {
            self.json.field_array("reasonCode");
            self.json.begin_object();
            self.json.field_array("coding");
            write_coding(&mut self.json, SNOMED, reason);
            self.json.end_array();
            self.json.end_object();
            self.json.end_array();
        }
        self.organization_reference("serviceProvider");
        let id = self.finish_resource(ResourceType::Encounter, id);
        Visit {
            id,
            start: facts.start,
            end: facts.end,
        }
    }

    /// Writes a Condition diagnosed at `visit`; resolved if `abatement` is set and past.
    pub(crate) fn condition(
        &mut self,
        visit: &Visit,
        code: Code,
        onset: i64,
        abatement: Option<i64>,
    ) -> Uuid {
        let id = self.begin(ResourceType::Condition);
        let is_resolved = abatement.is_some_and(|time| time <= crate::clock::NOW);
        write_status_concept(
            &mut self.json,
            "clinicalStatus",
            "http://terminology.hl7.org/CodeSystem/condition-clinical",
            if is_resolved { "resolved" } else { "active" },
        );
        write_status_concept(
            &mut self.json,
            "verificationStatus",
            "http://terminology.hl7.org/CodeSystem/condition-ver-status",
            "confirmed",
        );
        self.json.field_array("category");
        self.json.begin_object();
        self.json.field_array("coding");
        self.json.begin_object();
        self.json.field_str(
            "system",
            "http://terminology.hl7.org/CodeSystem/condition-category",
        );
        self.json.field_str("code", "encounter-diagnosis");
        self.json.field_str("display", "Encounter Diagnosis");
        self.json.end_object();
        self.json.end_array();
        self.json.end_object();
        self.json.end_array();
        write_concept(&mut self.json, "code", SNOMED, code);
        self.subject("subject");
        self.reference("encounter", ResourceType::Encounter, visit.id);
        self.date_time("onsetDateTime", onset);
        if let Some(abatement) = abatement.filter(|_| is_resolved) {
            self.date_time("abatementDateTime", abatement);
        }
        self.date_time("recordedDate", visit.start);
        self.finish_resource(ResourceType::Condition, id)
    }

    fn begin_observation(
        &mut self,
        visit: &Visit,
        category: ObservationCategory,
        code: Code,
    ) -> Uuid {
        let id = self.begin(ResourceType::Observation);
        self.json.field_str("status", "final");
        let (category_code, category_display) = category.code();
        write_concept_list(
            &mut self.json,
            "category",
            OBSERVATION_CATEGORY,
            Code {
                code: category_code,
                display: category_display,
            },
        );
        write_concept(&mut self.json, "code", LOINC, code);
        self.subject("subject");
        self.reference("encounter", ResourceType::Encounter, visit.id);
        self.date_time("effectiveDateTime", visit.start);
        self.instant("issued", visit.start);
        id
    }

    pub(crate) fn observation_quantity(
        &mut self,
        visit: &Visit,
        category: ObservationCategory,
        definition: &QuantityDef,
        value: f64,
    ) -> Uuid {
        let id = self.begin_observation(visit, category, definition.code);
        write_quantity(&mut self.json, "valueQuantity", definition, value);
        self.finish_resource(ResourceType::Observation, id)
    }

    pub(crate) fn observation_concept(
        &mut self,
        visit: &Visit,
        category: ObservationCategory,
        code: Code,
        value: Code,
    ) -> Uuid {
        let id = self.begin_observation(visit, category, code);
        write_concept(&mut self.json, "valueCodeableConcept", SNOMED, value);
        self.finish_resource(ResourceType::Observation, id)
    }

    pub(crate) fn blood_pressure(&mut self, visit: &Visit, systolic: f64, diastolic: f64) -> Uuid {
        let id =
            self.begin_observation(visit, ObservationCategory::VitalSigns, BLOOD_PRESSURE_PANEL);
        self.json.field_array("component");
        for (definition, value) in [(&DIASTOLIC, diastolic), (&SYSTOLIC, systolic)] {
            self.json.begin_object();
            write_concept(&mut self.json, "code", LOINC, definition.code);
            write_quantity(&mut self.json, "valueQuantity", definition, value);
            self.json.end_object();
        }
        self.json.end_array();
        self.finish_resource(ResourceType::Observation, id)
    }

    pub(crate) fn diagnostic_report(
        &mut self,
        visit: &Visit,
        code: Code,
        results: &[Uuid],
    ) -> Uuid {
        let id = self.begin(ResourceType::DiagnosticReport);
        self.json.field_str("status", "final");
        write_concept_list(
            &mut self.json,
            "category",
            "http://terminology.hl7.org/CodeSystem/v2-0074",
            Code {
                code: "LAB",
                display: "Laboratory",
            },
        );
        write_concept(&mut self.json, "code", LOINC, code);
        self.subject("subject");
        self.reference("encounter", ResourceType::Encounter, visit.id);
        self.date_time("effectiveDateTime", visit.start);
        self.instant("issued", visit.start);
        self.json.field_array("performer");
        self.organization_reference_element();
        self.json.end_array();
        self.json.field_array("result");
        let style = self.style;
        for &result in results {
            self.json.begin_object();
            self.json.field_with("reference", |buf| {
                push_reference(buf, style, ResourceType::Observation, result)
            });
            self.json.end_object();
        }
        self.json.end_array();
        self.finish_resource(ResourceType::DiagnosticReport, id)
    }

    fn organization_reference_element(&mut self) {
        let (style, organization) = (self.style, self.organization);
        self.json.begin_object();
        self.json.field_with("reference", |buf| {
            push_organization_reference(buf, style, organization)
        });
        self.json.field_str("display", &organization.name);
        self.json.end_object();
    }

    pub(crate) fn medication_request(
        &mut self,
        visit: &Visit,
        medication: Code,
        reason: Option<Uuid>,
        status: &str,
    ) -> Uuid {
        let id = self.begin(ResourceType::MedicationRequest);
        self.json.field_str("status", status);
        self.json.field_str("intent", "order");
        write_concept(
            &mut self.json,
            "medicationCodeableConcept",
            RXNORM,
            medication,
        );
        self.subject("subject");
        self.reference("encounter", ResourceType::Encounter, visit.id);
        self.date_time("authoredOn", visit.start);
        self.practitioner_reference("requester");
        if let Some(reason) = reason {
            let style = self.style;
            self.json.field_array("reasonReference");
            self.json.begin_object();
            self.json.field_with("reference", |buf| {
                push_reference(buf, style, ResourceType::Condition, reason)
            });
            self.json.end_object();
            self.json.end_array();
        }
        self.json.field_array("dosageInstruction");
        self.json.begin_object();
        self.json.field_raw("sequence", "1");
        self.json.field_object("timing");
        self.json.field_object("repeat");
        self.json.field_raw("frequency", "1");
        self.json.field_raw("period", "1.0");
        self.json.field_str("periodUnit", "d");
        self.json.end_object();
        self.json.end_object();
        self.json.field_raw("asNeededBoolean", "false");
        self.json.end_object();
        self.json.end_array();
        self.finish_resource(ResourceType::MedicationRequest, id)
    }

    pub(crate) fn immunization(&mut self, visit: &Visit, vaccine: Code) -> Uuid {
        let id = self.begin(ResourceType::Immunization);
        self.json.field_str("status", "completed");
        write_concept(&mut self.json, "vaccineCode", CVX, vaccine);
        self.subject("patient");
        self.reference("encounter", ResourceType::Encounter, visit.id);
        self.date_time("occurrenceDateTime", visit.start);
        self.json.field_raw("primarySource", "true");
        self.finish_resource(ResourceType::Immunization, id)
    }

    pub(crate) fn procedure(
        &mut self,
        visit: &Visit,
        code: Code,
        start: i64,
        end: i64,
        reason: Option<Uuid>,
    ) -> Uuid {
        let id = self.begin(ResourceType::Procedure);
        self.json.field_str("status", "completed");
        write_concept(&mut self.json, "code", SNOMED, code);
        self.subject("subject");
        self.reference("encounter", ResourceType::Encounter, visit.id);
        self.period("performedPeriod", start, Some(end));
        if let Some(reason) = reason {
            let style = self.style;
            self.json.field_array("reasonReference");
            self.json.begin_object();
            self.json.field_with("reference", |buf| {
                push_reference(buf, style, ResourceType::Condition, reason)
            });
            self.json.end_object();
            self.json.end_array();
        }
        self.finish_resource(ResourceType::Procedure, id)
    }

    pub(crate) fn allergy(&mut self, visit: &Visit, allergy: &AllergyDef, severe: bool) -> Uuid {
        let id = self.begin(ResourceType::AllergyIntolerance);
        write_status_concept(
            &mut self.json,
            "clinicalStatus",
            "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
            "active",
        );
        write_status_concept(
            &mut self.json,
            "verificationStatus",
            "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
            "confirmed",
        );
        self.json.field_str("type", "allergy");
        self.json.field_array("category");
        self.json.string(allergy.category);
        self.json.end_array();
        self.json
            .field_str("criticality", if severe { "high" } else { "low" });
        write_concept(&mut self.json, "code", SNOMED, allergy.code);
        self.subject("patient");
        self.reference("encounter", ResourceType::Encounter, visit.id);
        self.date_time("recordedDate", visit.start);
        self.json.field_array("reaction");
        self.json.begin_object();
        self.json.field_array("manifestation");
        self.json.begin_object();
        self.json.field_array("coding");
        write_coding(&mut self.json, SNOMED, allergy.reaction);
        self.json.end_array();
        self.json.field_str("text", allergy.reaction.display);
        self.json.end_object();
        self.json.end_array();
        self.json
            .field_str("severity", if severe { "severe" } else { "mild" });
        self.json.end_object();
        self.json.end_array();
        self.finish_resource(ResourceType::AllergyIntolerance, id)
    }

    pub(crate) fn care_plan(
        &mut self,
        visit: &Visit,
        plan: &CarePlanDef,
        addresses: Option<Uuid>,
        end: Option<i64>,
    ) -> Uuid {
        let id = self.begin(ResourceType::CarePlan);
        let is_finished = end.is_some_and(|time| time <= crate::clock::NOW);
        self.json
            .field_str("status", if is_finished { "completed" } else { "active" });
        self.json.field_str("intent", "order");
        write_concept_list(&mut self.json, "category", SNOMED, plan.category);
        self.subject("subject");
        self.reference("encounter", ResourceType::Encounter, visit.id);
        self.period("period", visit.start, end.filter(|_| is_finished));
        if let Some(condition) = addresses {
            let style = self.style;
            self.json.field_array("addresses");
            self.json.begin_object();
            self.json.field_with("reference", |buf| {
                push_reference(buf, style, ResourceType::Condition, condition)
            });
            self.json.end_object();
            self.json.end_array();
        }
        self.json.field_array("activity");
        for &activity in plan.activities {
            self.json.begin_object();
            self.json.field_object("detail");
            write_concept(&mut self.json, "code", SNOMED, activity);
            self.json.field_str(
                "status",
                if is_finished {
                    "completed"
                } else {
                    "in-progress"
                },
            );
            self.json.field_object("location");
            self.json.field_str("display", &self.organization.name);
            self.json.end_object();
            self.json.end_object();
            self.json.end_object();
        }
        self.json.end_array();
        self.finish_resource(ResourceType::CarePlan, id)
    }

    /// Writes the Claim billing `visit`, listing the conditions diagnosed there.
    pub(crate) fn claim(
        &mut self,
        visit: &Visit,
        kind: Code,
        diagnoses: &[Uuid],
        total: f64,
    ) -> Uuid {
        let id = self.begin(ResourceType::Claim);
        self.json.field_str("status", "active");
        self.json.field_object("type");
        self.json.field_array("coding");
        self.json.begin_object();
        self.json
            .field_str("system", "http://terminology.hl7.org/CodeSystem/claim-type");
        self.json.field_str("code", "professional");
        self.json.end_object();
        self.json.end_array();
        self.json.end_object();
        self.json.field_str("use", "claim");
        self.subject("patient");
        self.period("billablePeriod", visit.start, Some(visit.end));
        self.date_time("created", visit.end);
        self.organization_reference("provider");
        self.json.field_object("priority");
        self.json.field_array("coding");
        self.json.begin_object();
        self.json.field_str(
            "system",
            "http://terminology.hl7.org/CodeSystem/processpriority",
        );
        self.json.field_str("code", "normal");
        self.json.end_object();
        self.json.end_array();
        self.json.end_object();
        let style = self.style;
        if !diagnoses.is_empty() {
            self.json.field_array("diagnosis");
            for (sequence, &condition) in (1i64..).zip(diagnoses) {
                self.json.begin_object();
                self.json.key("sequence");
                self.json.integer(sequence);
                self.json.field_object("diagnosisReference");
                self.json.field_with("reference", |buf| {
                    push_reference(buf, style, ResourceType::Condition, condition)
                });
                self.json.end_object();
                self.json.end_object();
            }
            self.json.end_array();
        }
        self.json.field_array("insurance");
        self.json.begin_object();
        self.json.field_raw("sequence", "1");
        self.json.field_raw("focal", "true");
        self.json.field_object("coverage");
        self.json.field_str("display", "Medicare");
        self.json.end_object();
        self.json.end_object();
        self.json.end_array();
        self.json.field_array("item");
        self.json.begin_object();
        self.json.field_raw("sequence", "1");
        write_concept(&mut self.json, "productOrService", SNOMED, kind);
        self.json.field_array("encounter");
        self.json.begin_object();
        self.json.field_with("reference", |buf| {
            push_reference(buf, style, ResourceType::Encounter, visit.id)
        });
        self.json.end_object();
        self.json.end_array();
        self.json.end_object();
        self.json.end_array();
        self.json.field_object("total");
        self.json.key("value");
        self.json.decimal(total, 2);
        self.json.field_str("currency", "USD");
        self.json.end_object();
        self.finish_resource(ResourceType::Claim, id)
    }
}
