//! Plausibility: values that are well-formed but cannot be true: vital signs outside
//! physiological limits, dates in the future, death before birth, periods that end before they
//! start, living patients older than 125 years.
//!
//! Date elements are found by walking the resource with the R4 type definitions of
//! `medulla-model`, so every `date`, `dateTime` and `instant` element is checked, at any depth,
//! and every `Period`, without a list of field names. Elements that legitimately hold future
//! dates are exempt: see [`FUTURE_EXEMPTIONS`].

use medulla_model::{TypeDef, definitions};
use serde_json::{Map, Value as Json};

use crate::instant::{TimeRange, parse_time_range, years_before};
use crate::tally::{Subject, Tallies};
use crate::vitals::{VitalSign, to_canonical, vital_sign};

/// Deepest nesting of objects walked; deeper content is not checked.
const MAX_DEPTH: usize = 32;

/// Longest unit text kept in a "unit not checked" finding, in characters.
const MAX_UNIT_CHARS: usize = 32;

/// Age above which a living patient is implausible, in years.
pub const MAX_AGE_YEARS: i64 = 125;

const LOINC: &str = "http://loinc.org";

/// What kind of implausibility.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FindingKind {
    /// A vital sign outside its physiological limits.
    ImplausibleValue,
    /// A vital sign in a unit this report cannot convert: not checked, not counted as
    /// implausible.
    UnitNotChecked,
    /// A date after now (plus the allowed clock skew) where only past dates make sense.
    FutureDate,
    /// `Patient.deceasedDateTime` before `Patient.birthDate`.
    DeathBeforeBirth,
    /// A `Period` whose `end` is before its `start`.
    PeriodEndBeforeStart,
    /// A patient not known to be deceased, born more than [`MAX_AGE_YEARS`] years ago.
    AgeOver125,
}

impl FindingKind {
    /// The code used in the report: `implausible-value`, `future-date`, …
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::ImplausibleValue => "implausible-value",
            FindingKind::UnitNotChecked => "unit-not-checked",
            FindingKind::FutureDate => "future-date",
            FindingKind::DeathBeforeBirth => "death-before-birth",
            FindingKind::PeriodEndBeforeStart => "period-end-before-start",
            FindingKind::AgeOver125 => "age-over-125",
        }
    }
}

/// What plausibility findings have in common.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FindingKey {
    /// The resource type of the resource added (a Bundle, for findings inside its entries).
    pub resource_type: String,
    /// The kind of finding.
    pub kind: FindingKind,
    /// The element, by element names: `Observation.component.value`, `Encounter.period`.
    pub path: String,
    /// For vital signs: the code, what it is and the limits or the unit; empty otherwise.
    pub detail: String,
}

/// An element that may hold a future date: in resources of `resource_type`, the elements at
/// `path` (relative to the resource; empty for all) and below, when the resource's `status`
/// is one of `statuses` (any status when empty).
#[derive(Debug, Clone, Copy)]
pub struct FutureExemption {
    /// The resource type.
    pub resource_type: &'static str,
    /// The element path below the resource, by element names.
    pub path: &'static str,
    /// The statuses under which the exemption holds; empty for all.
    pub statuses: &'static [&'static str],
}

/// Statuses of request resources (ServiceRequest, CarePlan …) that still lie ahead.
const REQUEST_OPEN: &[&str] = &["draft", "active", "on-hold"];
/// Statuses of a Task that still lies ahead.
const TASK_OPEN: &[&str] = &[
    "draft",
    "requested",
    "received",
    "accepted",
    "ready",
    "in-progress",
    "on-hold",
];

/// Where future dates are legitimate: scheduling resources, the planned times of open
/// requests, planned encounters and procedures. Two rules apply everywhere and are not in the
/// table: the `end` of any `Period` (validity and coverage periods end later) and any element
/// named `expirationDate` (batches, devices, immunizations).
pub const FUTURE_EXEMPTIONS: &[FutureExemption] = &[
    exempt("Appointment", "", &[]),
    exempt("AppointmentResponse", "", &[]),
    exempt("Slot", "", &[]),
    exempt("Schedule", "planningHorizon", &[]),
    exempt(
        "ImmunizationRecommendation",
        "recommendation.dateCriterion",
        &[],
    ),
    exempt("Goal", "start", &[]),
    exempt("Goal", "target.due", &[]),
    exempt("ServiceRequest", "occurrence", REQUEST_OPEN),
    exempt("DeviceRequest", "occurrence", REQUEST_OPEN),
    exempt("CommunicationRequest", "occurrence", REQUEST_OPEN),
    exempt(
        "MedicationRequest",
        "dispenseRequest.validityPeriod",
        REQUEST_OPEN,
    ),
    exempt("CarePlan", "period", REQUEST_OPEN),
    exempt("CarePlan", "activity.detail.scheduled", REQUEST_OPEN),
    exempt("Task", "executionPeriod", TASK_OPEN),
    exempt("Task", "restriction.period", TASK_OPEN),
    exempt("Encounter", "period", &["planned"]),
    exempt("Procedure", "performed", &["preparation"]),
];

const fn exempt(
    resource_type: &'static str,
    path: &'static str,
    statuses: &'static [&'static str],
) -> FutureExemption {
    FutureExemption {
        resource_type,
        path,
        statuses,
    }
}

/// Whether a future date at `path` (`ServiceRequest.occurrence.start`) of a resource with
/// `status` is legitimate.
fn is_future_allowed(resource_type: &str, status: Option<&str>, path: &str) -> bool {
    let Some(relative) = path
        .strip_prefix(resource_type)
        .and_then(|rest| rest.strip_prefix('.'))
    else {
        return false;
    };
    FUTURE_EXEMPTIONS.iter().any(|exemption| {
        exemption.resource_type == resource_type
            && (exemption.path.is_empty()
                || relative == exemption.path
                || relative
                    .strip_prefix(exemption.path)
                    .is_some_and(|rest| rest.starts_with('.')))
            && (exemption.statuses.is_empty()
                || status.is_some_and(|status| exemption.statuses.contains(&status)))
    })
}

/// The plausibility rules and their tallies.
#[derive(Debug, Clone)]
pub(crate) struct Plausibility {
    pub(crate) tallies: Tallies<FindingKey>,
    now: i64,
    clock_skew: i64,
}

/// One finding in one resource, before it is counted.
struct Finding {
    kind: FindingKind,
    path: String,
    detail: String,
}

impl Plausibility {
    pub(crate) fn new(
        now: i64,
        clock_skew: i64,
        max_keys: usize,
        max_examples: usize,
    ) -> Plausibility {
        Plausibility {
            tallies: Tallies::new(max_keys, max_examples),
            now,
            clock_skew,
        }
    }

    /// Checks one resource of `resource_type`; whether anything implausible was found (units
    /// not checked do not count).
    pub(crate) fn check(
        &mut self,
        resource: &Json,
        resource_type: &str,
        subject: &Subject,
    ) -> bool {
        let mut walk = Walk {
            now: self.now,
            clock_skew: self.clock_skew,
            findings: Vec::new(),
        };
        if let Some(map) = resource.as_object() {
            walk.check_resource(map, 0);
        }
        let mut implausible = false;
        for finding in walk.findings {
            implausible |= finding.kind != FindingKind::UnitNotChecked;
            let key = FindingKey {
                resource_type: resource_type.to_owned(),
                kind: finding.kind,
                path: finding.path,
                detail: finding.detail,
            };
            self.tallies.record(key, subject);
        }
        implausible
    }
}

/// The findings of one resource (and the resources inside it).
struct Walk {
    now: i64,
    clock_skew: i64,
    findings: Vec<Finding>,
}

impl Walk {
    fn report(&mut self, kind: FindingKind, path: String, detail: String) {
        self.findings.push(Finding { kind, path, detail });
    }

    fn check_resource(&mut self, resource: &Map<String, Json>, depth: usize) {
        let Some(resource_type) = resource.get("resourceType").and_then(Json::as_str) else {
            return;
        };
        let Some(type_def) = definitions()
            .type_def(resource_type)
            .filter(|_| definitions().is_resource_type(resource_type))
        else {
            return;
        };
        match resource_type {
            "Observation" => self.check_vital_signs(resource),
            "Patient" => self.check_patient(resource),
            _ => {}
        }
        let context = ResourceContext {
            resource_type,
            status: resource.get("status").and_then(Json::as_str),
        };
        let mut path = resource_type.to_owned();
        self.walk_object(resource, type_def, &context, &mut path, depth);
    }

    /// Visits every element of `object` (of type `type_def`) for dates, periods and nested
    /// resources.
    fn walk_object(
        &mut self,
        object: &Map<String, Json>,
        type_def: &TypeDef,
        context: &ResourceContext<'_>,
        path: &mut String,
        depth: usize,
    ) {
        if depth > MAX_DEPTH {
            return;
        }
        for (key, value) in object {
            if key == "resourceType" || key.starts_with('_') {
                continue;
            }
            let Some((element, type_code)) = type_def.element_for_json_name(key) else {
                continue;
            };
            let length = path.len();
            path.push('.');
            path.push_str(&element.name);
            let items = match value {
                Json::Array(items) => items.as_slice(),
                single => std::slice::from_ref(single),
            };
            for item in items {
                match (type_code, item) {
                    ("date" | "dateTime" | "instant", Json::String(text)) => {
                        let is_period_end = type_def.name == "Period" && element.name == "end";
                        if !is_period_end && element.name != "expirationDate" {
                            self.check_not_future(text, context, path);
                        }
                    }
                    (_, Json::Object(nested)) if nested.contains_key("resourceType") => {
                        self.check_resource(nested, depth + 1);
                    }
                    (_, Json::Object(nested)) => {
                        if type_code == "Period" {
                            self.check_period(nested, path);
                        }
                        if let Some(nested_type) = definitions()
                            .type_def(type_code)
                            .filter(|nested_type| !nested_type.is_primitive())
                        {
                            self.walk_object(nested, nested_type, context, path, depth + 1);
                        }
                    }
                    _ => {}
                }
            }
            path.truncate(length);
        }
    }

    fn check_not_future(&mut self, text: &str, context: &ResourceContext<'_>, path: &str) {
        let Some(range) = parse_time_range(text) else {
            return;
        };
        if range.start > self.now.saturating_add(self.clock_skew)
            && !is_future_allowed(context.resource_type, context.status, path)
        {
            self.report(FindingKind::FutureDate, path.to_owned(), String::new());
        }
    }

    fn check_period(&mut self, period: &Map<String, Json>, path: &str) {
        let bound = |name: &str| {
            period
                .get(name)
                .and_then(Json::as_str)
                .and_then(parse_time_range)
        };
        if let (Some(start), Some(end)) = (bound("start"), bound("end"))
            && ends_before(end, start)
        {
            self.report(
                FindingKind::PeriodEndBeforeStart,
                path.to_owned(),
                String::new(),
            );
        }
    }

    fn check_patient(&mut self, patient: &Map<String, Json>) {
        let Some(birth) = patient
            .get("birthDate")
            .and_then(Json::as_str)
            .and_then(parse_time_range)
        else {
            return;
        };
        let death_text = patient.get("deceasedDateTime").and_then(Json::as_str);
        if let Some(death) = death_text.and_then(parse_time_range)
            && ends_before(death, birth)
        {
            self.report(
                FindingKind::DeathBeforeBirth,
                "Patient.deceased".to_owned(),
                String::new(),
            );
        }
        let is_deceased = death_text.is_some()
            || patient.get("deceasedBoolean").and_then(Json::as_bool) == Some(true);
        if !is_deceased && birth.end <= years_before(self.now, MAX_AGE_YEARS) {
            self.report(
                FindingKind::AgeOver125,
                "Patient.birthDate".to_owned(),
                String::new(),
            );
        }
    }

    fn check_vital_signs(&mut self, observation: &Map<String, Json>) {
        for vital in loinc_vital_signs(observation.get("code")) {
            self.check_quantity(vital, observation.get("valueQuantity"), "Observation.value");
        }
        let components = observation
            .get("component")
            .and_then(Json::as_array)
            .into_iter()
            .flatten();
        for component in components {
            for vital in loinc_vital_signs(component.get("code")) {
                self.check_quantity(
                    vital,
                    component.get("valueQuantity"),
                    "Observation.component.value",
                );
            }
        }
    }

    fn check_quantity(&mut self, vital: &VitalSign, quantity: Option<&Json>, path: &str) {
        let Some(quantity) = quantity else { return };
        let Some(value) = quantity.get("value").and_then(Json::as_f64) else {
            return;
        };
        // The UCUM code is what conversions understand; the display unit is a fallback.
        let unit = quantity
            .get("code")
            .or_else(|| quantity.get("unit"))
            .and_then(Json::as_str)
            .unwrap_or("");
        match to_canonical(value, unit, vital.unit) {
            Some(value) if value < vital.low || value > vital.high => self.report(
                FindingKind::ImplausibleValue,
                path.to_owned(),
                format!(
                    "{} {} outside {}–{} {}",
                    vital.loinc, vital.name, vital.low, vital.high, vital.unit
                ),
            ),
            Some(_) => {}
            None => {
                let unit: String = unit.chars().take(MAX_UNIT_CHARS).collect();
                self.report(
                    FindingKind::UnitNotChecked,
                    path.to_owned(),
                    format!("{} {} in unit '{unit}'", vital.loinc, vital.name),
                );
            }
        }
    }
}

/// The resource a walk is in: its type and status, for the exemptions.
struct ResourceContext<'j> {
    resource_type: &'j str,
    status: Option<&'j str>,
}

/// Whether `earlier` certainly ends before `later` starts, whatever the precision of each.
fn ends_before(earlier: TimeRange, later: TimeRange) -> bool {
    earlier.end <= later.start
}

/// The checked vital signs a CodeableConcept codes with LOINC, once each.
fn loinc_vital_signs(code: Option<&Json>) -> Vec<&'static VitalSign> {
    let mut found: Vec<&'static VitalSign> = Vec::new();
    let codings = code
        .and_then(|code| code.get("coding"))
        .and_then(Json::as_array)
        .into_iter()
        .flatten();
    for coding in codings {
        if coding.get("system").and_then(Json::as_str) != Some(LOINC) {
            continue;
        }
        if let Some(vital) = coding
            .get("code")
            .and_then(Json::as_str)
            .and_then(vital_sign)
            && !found.iter().any(|known| known.loinc == vital.loinc)
        {
            found.push(vital);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// 2025-06-15T00:00:00Z.
    const NOW: i64 = 1_749_945_600;

    fn findings(resource: &Json) -> Vec<(FindingKind, String, String)> {
        let mut plausibility = Plausibility::new(NOW, 86_400, 100, 5);
        let subject = Subject::new(0, "X", Some("1"));
        plausibility.check(resource, "X", &subject);
        let mut found: Vec<(FindingKind, String, String)> = plausibility
            .tallies
            .by_key
            .into_keys()
            .map(|key| (key.kind, key.path, key.detail))
            .collect();
        found.sort();
        found
    }

    fn vital(code: &str, value: f64, unit: &str) -> Json {
        json!({"resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": LOINC, "code": code}]},
            "valueQuantity": {"value": value, "system": "http://unitsofmeasure.org", "code": unit}})
    }

    fn implausible(path: &str, detail: &str) -> Vec<(FindingKind, String, String)> {
        vec![(
            FindingKind::ImplausibleValue,
            path.to_owned(),
            detail.to_owned(),
        )]
    }

    #[test]
    fn heart_rate_outside_its_limits_is_implausible() {
        assert_eq!(
            findings(&vital("8867-4", 400.0, "/min")),
            implausible("Observation.value", "8867-4 heart rate outside 20–250 /min")
        );
        assert_eq!(findings(&vital("8867-4", 72.0, "{beats}/min")), []);
        assert_eq!(findings(&vital("8867-4", 19.0, "/min")).len(), 1);
    }

    #[test]
    fn each_vital_sign_has_its_limits() {
        let cases = [
            ("9279-1", 3.0, 16.0, "/min"),
            ("8480-6", 310.0, 120.0, "mm[Hg]"),
            ("8462-4", 10.0, 80.0, "mm[Hg]"),
            ("8310-5", 46.0, 37.0, "Cel"),
            ("29463-7", 600.0, 70.0, "kg"),
            ("8302-2", 300.0, 170.0, "cm"),
            ("39156-5", 5.0, 24.0, "kg/m2"),
            ("2708-6", 40.0, 97.0, "%"),
            ("59408-5", 101.0, 97.0, "%"),
        ];
        for (code, bad, good, unit) in cases {
            assert_eq!(findings(&vital(code, bad, unit)).len(), 1, "{code} {bad}");
            assert_eq!(findings(&vital(code, good, unit)), [], "{code} {good}");
        }
    }

    #[test]
    fn values_are_converted_before_they_are_compared() {
        // 98.6 °F is 37 °C; 400 lb is 181 kg; 72 in is 183 cm: all plausible.
        assert_eq!(findings(&vital("8310-5", 98.6, "[degF]")), []);
        assert_eq!(findings(&vital("29463-7", 400.0, "[lb_av]")), []);
        assert_eq!(findings(&vital("8302-2", 72.0, "[in_i]")), []);
        // 3400 g is fine, 3400 kg is not; 120 °F is 48.9 °C.
        assert_eq!(findings(&vital("29463-7", 3400.0, "g")), []);
        assert_eq!(findings(&vital("29463-7", 3400.0, "kg")).len(), 1);
        assert_eq!(
            findings(&vital("8310-5", 120.0, "[degF]")),
            implausible(
                "Observation.value",
                "8310-5 body temperature outside 25–45 Cel"
            )
        );
    }

    #[test]
    fn unknown_units_are_counted_as_not_checked() {
        assert_eq!(
            findings(&vital("8867-4", 400.0, "bpm")),
            [(
                FindingKind::UnitNotChecked,
                "Observation.value".to_owned(),
                "8867-4 heart rate in unit 'bpm'".to_owned()
            )]
        );
        let mut plausibility = Plausibility::new(NOW, 0, 100, 5);
        let implausible = plausibility.check(
            &vital("8867-4", 400.0, "bpm"),
            "Observation",
            &Subject::new(0, "Observation", Some("1")),
        );
        assert!(!implausible);
    }

    #[test]
    fn blood_pressure_panel_components_are_checked() {
        let panel = json!({"resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
        "component": [
            {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
             "valueQuantity": {"value": 120, "code": "mm[Hg]"}},
            {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
             "valueQuantity": {"value": 250, "code": "mm[Hg]"}},
        ]});
        assert_eq!(
            findings(&panel),
            implausible(
                "Observation.component.value",
                "8462-4 diastolic blood pressure outside 20–200 mm[Hg]"
            )
        );
    }

    #[test]
    fn other_code_systems_are_not_read_as_loinc() {
        let mut observation = vital("8867-4", 400.0, "/min");
        observation["code"]["coding"][0]["system"] = json!("http://example.org/codes");
        assert_eq!(findings(&observation), []);
    }

    #[test]
    fn future_dates_are_found_at_any_depth_with_a_days_skew() {
        let patient = json!({"resourceType": "Patient", "birthDate": "2030-01-01",
            "contact": [{"period": {"start": "2099-01-01T00:00:00Z"}}]});
        assert_eq!(
            findings(&patient),
            [
                (
                    FindingKind::FutureDate,
                    "Patient.birthDate".to_owned(),
                    String::new()
                ),
                (
                    FindingKind::FutureDate,
                    "Patient.contact.period.start".to_owned(),
                    String::new()
                ),
            ]
        );
        // Within the skew of a day: a time-zone difference, not an error.
        let tomorrow = json!({"resourceType": "Observation", "status": "final",
            "code": {"text": "x"}, "effectiveDateTime": "2025-06-15T20:00:00-02:00"});
        assert_eq!(findings(&tomorrow), []);
        let later = json!({"resourceType": "Observation", "status": "final",
            "code": {"text": "x"}, "effectiveDateTime": "2025-06-17",
            "issued": "2025-07-01T00:00:00Z"});
        assert_eq!(
            findings(&later),
            [
                (
                    FindingKind::FutureDate,
                    "Observation.effective".to_owned(),
                    String::new()
                ),
                (
                    FindingKind::FutureDate,
                    "Observation.issued".to_owned(),
                    String::new()
                ),
            ]
        );
    }

    #[test]
    fn scheduling_elements_may_be_in_the_future() {
        let appointment = json!({"resourceType": "Appointment", "status": "booked",
            "start": "2030-01-01T10:00:00Z", "end": "2030-01-01T10:30:00Z",
            "participant": [{"status": "accepted", "actor": {"reference": "Patient/1"}}]});
        assert_eq!(findings(&appointment), []);
        let request = |status: &str| {
            json!({"resourceType": "ServiceRequest", "status": status, "intent": "order",
                "subject": {"reference": "Patient/1"},
                "occurrencePeriod": {"start": "2030-01-01", "end": "2030-02-01"}})
        };
        assert_eq!(findings(&request("active")), []);
        assert_eq!(
            findings(&request("completed")),
            [(
                FindingKind::FutureDate,
                "ServiceRequest.occurrence.start".to_owned(),
                String::new()
            )]
        );
        // Ends of periods and expiration dates look ahead by nature.
        let coverage = json!({"resourceType": "Coverage", "status": "active",
            "beneficiary": {"reference": "Patient/1"}, "payor": [{"reference": "Organization/1"}],
            "period": {"start": "2020-01-01", "end": "2040-12-31"}});
        assert_eq!(findings(&coverage), []);
        let immunization = json!({"resourceType": "Immunization", "status": "completed",
            "vaccineCode": {"text": "x"}, "patient": {"reference": "Patient/1"},
            "occurrenceDateTime": "2024-01-01", "expirationDate": "2027-01-01"});
        assert_eq!(findings(&immunization), []);
    }

    #[test]
    fn death_before_birth_and_great_age_are_implausible() {
        let died_before_birth = json!({"resourceType": "Patient", "birthDate": "1980-05-01",
            "deceasedDateTime": "1979-12-31T10:00:00Z"});
        assert_eq!(
            findings(&died_before_birth),
            [(
                FindingKind::DeathBeforeBirth,
                "Patient.deceased".to_owned(),
                String::new()
            )]
        );
        // Same month at month precision: could be after birth, so not a finding.
        let same_month = json!({"resourceType": "Patient", "birthDate": "1980-05-20",
            "deceasedDateTime": "1980-05"});
        assert_eq!(findings(&same_month), []);
        let ancient = json!({"resourceType": "Patient", "birthDate": "1890-01-01"});
        assert_eq!(
            findings(&ancient),
            [(
                FindingKind::AgeOver125,
                "Patient.birthDate".to_owned(),
                String::new()
            )]
        );
        let ancient_but_dead = json!({"resourceType": "Patient", "birthDate": "1890-01-01",
            "deceasedBoolean": true});
        assert_eq!(findings(&ancient_but_dead), []);
        let old = json!({"resourceType": "Patient", "birthDate": "1901-01-01"});
        assert_eq!(findings(&old), []);
    }

    #[test]
    fn periods_ending_before_they_start_are_implausible() {
        let encounter = json!({"resourceType": "Encounter", "status": "finished",
            "class": {"code": "AMB"},
            "period": {"start": "2024-03-01T10:00:00Z", "end": "2024-03-01T09:00:00Z"}});
        assert_eq!(
            findings(&encounter),
            [(
                FindingKind::PeriodEndBeforeStart,
                "Encounter.period".to_owned(),
                String::new()
            )]
        );
        let same_day = json!({"resourceType": "Encounter", "status": "finished",
            "class": {"code": "AMB"},
            "period": {"start": "2024-03-01T10:00:00Z", "end": "2024-03-01"}});
        assert_eq!(findings(&same_day), []);
    }

    #[test]
    fn resources_inside_bundles_are_checked_with_their_own_exemptions() {
        let bundle = json!({"resourceType": "Bundle", "type": "collection", "entry": [
            {"resource": {"resourceType": "Appointment", "status": "booked",
                "start": "2030-01-01T10:00:00Z"}},
            {"resource": {"resourceType": "Patient", "birthDate": "2031-01-01"}},
        ]});
        assert_eq!(
            findings(&bundle),
            [(
                FindingKind::FutureDate,
                "Patient.birthDate".to_owned(),
                String::new()
            )]
        );
    }

    #[test]
    fn malformed_input_gives_no_finding_and_no_panic() {
        for resource in [
            json!(null),
            json!({"resourceType": 3}),
            json!({"resourceType": "Nope", "birthDate": "2099"}),
            json!({"resourceType": "Patient", "birthDate": 17, "deceasedDateTime": "x"}),
            json!({"resourceType": "Observation", "valueQuantity": "400",
                "code": {"coding": "8867-4"}, "component": {"code": 1}}),
        ] {
            assert_eq!(findings(&resource), [], "{resource}");
        }
    }
}
