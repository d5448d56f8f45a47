//! Simulation of one patient's life: demographics, a schedule of encounters from birth to
//! [`NOW`](crate::clock::NOW), and the measurements, diagnoses, prescriptions and procedures
//! each encounter produces.
//!
//! Everything is drawn from the patient's own random generator, seeded from (seed, index), so
//! patients can be generated in any order and on any thread.

use fastrand::Rng;

use crate::catalog::clinical::{
    ACUTE_CONDITIONS, ALLERGIES, ANXIETY_ASSESSMENT, AcuteDef, AllergyDef, BLOOD_COLLECTION, BMI,
    BODY_HEIGHT, BODY_TEMPERATURE, BODY_WEIGHT, CERVICAL_SCREENING, CHRONIC_CONDITIONS,
    COLONOSCOPY, COVID_19, ChronicDef, Code, DEPRESSION_SCREENING, DIABETES_URINE_SCREEN,
    ENCOUNTER_CHECK_UP, ENCOUNTER_EMERGENCY, ENCOUNTER_GENERAL_EXAM, ENCOUNTER_INPATIENT,
    ENCOUNTER_PROBLEM, ENCOUNTER_SYMPTOM, ENCOUNTER_WELL_CHILD, EX_SMOKER, HEAD_CIRCUMFERENCE,
    HEALTH_NEEDS_ASSESSMENT, HEART_RATE, INFLUENZA, MAMMOGRAPHY, MEDICATION_RECONCILIATION, Marker,
    NEVER_SMOKED, OBESITY, PAIN_SEVERITY, Panel, RESPIRATORY_RATE, SMOKER,
    SUBSTANCE_USE_ASSESSMENT, Setting, SexFilter, TOBACCO_STATUS, VACCINES, WEIGHT_CARE_PLAN,
};
use crate::catalog::people::CITIES;
use crate::chart::{Chart, EncounterClass, EncounterFacts, ObservationCategory, Visit};
use crate::clock::{DAY, HOUR, MINUTE, NOW, YEAR, year_of};
use crate::directory::Directory;
use crate::ids::{Uuid, patient_rng};
use crate::labs::{LabState, lab_value};
use crate::sink::Sink;

mod person;

use person::Person;

/// What the caller needs to name the patient's file.
#[derive(Debug)]
pub(crate) struct PatientSummary {
    pub id: Uuid,
    pub given: &'static str,
    pub family: &'static str,
}

/// How far back chronic follow-up visits are simulated.
const FOLLOW_UP_WINDOW: i64 = 15 * YEAR;

/// Ages in months of the well-child visits before yearly visits start at four.
const WELL_CHILD_MONTHS: [f64; 12] = [
    0.1, 1.0, 2.0, 4.0, 6.0, 9.0, 12.0, 15.0, 18.0, 24.0, 30.0, 36.0,
];

/// Approximate fraction of adult height reached at ages 0, 1, 2, 4, 6, 8, 10, 12, 14, 16, 18.
const GROWTH: [(f64, f64); 11] = [
    (0.0, 0.29),
    (1.0, 0.43),
    (2.0, 0.49),
    (4.0, 0.58),
    (6.0, 0.66),
    (8.0, 0.73),
    (10.0, 0.79),
    (12.0, 0.86),
    (14.0, 0.93),
    (16.0, 0.97),
    (18.0, 1.0),
];

/// Approximate median BMI at ages 0, 0.5, 1, 3, 5, 8, 12, 16, 20.
const CHILD_BMI: [(f64, f64); 9] = [
    (0.0, 13.0),
    (0.5, 17.0),
    (1.0, 17.2),
    (3.0, 16.2),
    (5.0, 15.5),
    (8.0, 16.0),
    (12.0, 18.0),
    (16.0, 20.5),
    (20.0, 22.0),
];

fn interpolate(table: &[(f64, f64)], x: f64) -> f64 {
    let mut previous = table[0];
    if x <= previous.0 {
        return previous.1;
    }
    for &point in &table[1..] {
        if x <= point.0 {
            let fraction = (x - previous.0) / (point.0 - previous.0);
            return previous.1 + fraction * (point.1 - previous.1);
        }
        previous = point;
    }
    previous.1
}

/// Roughly normal noise (sum of four uniforms), cheap and good enough for vital signs.
pub(crate) fn normal(rng: &mut Rng, mean: f64, deviation: f64) -> f64 {
    let sum = rng.f64() + rng.f64() + rng.f64() + rng.f64();
    mean + deviation * (sum - 2.0) * 1.732_050_8
}

/// A chronic condition the patient develops, and its resources once diagnosed.
#[derive(Debug)]
struct Diagnosis {
    definition: &'static ChronicDef,
    onset: i64,
    condition: Option<Uuid>,
    medications: Vec<Code>,
}

/// What brings the patient to an encounter.
#[derive(Debug, Clone, Copy)]
enum Event {
    Wellness,
    ChronicOnset(usize),
    ChronicFollowUp(usize),
    Acute(&'static AcuteDef),
}

#[derive(Debug)]
struct Health {
    is_female: bool,
    birth: i64,
    adult_height: f64,
    bmi_at_twenty: f64,
    bmi_drift: f64,
    smoking: Option<(f64, Option<f64>)>,
    diagnoses: Vec<Diagnosis>,
    allergies: Vec<(&'static AllergyDef, i64)>,
    vaccine_doses: Vec<usize>,
    obesity: Option<Uuid>,
}

impl Health {
    fn age_at(&self, time: i64) -> f64 {
        (time - self.birth) as f64 / YEAR as f64
    }

    fn height(&self, age: f64) -> f64 {
        self.adult_height * interpolate(&GROWTH, age)
    }

    fn bmi(&self, age: f64) -> f64 {
        if age < 20.0 {
            let child = interpolate(&CHILD_BMI, age);
            return child + (self.bmi_at_twenty - 22.0) * (age / 20.0);
        }
        let gain = self.bmi_drift * (age.min(60.0) - 20.0);
        let elderly_loss = 0.08 * (age - 70.0).max(0.0);
        self.bmi_at_twenty + gain - elderly_loss
    }

    fn has_marker(&self, marker: Marker, time: i64) -> bool {
        self.diagnoses
            .iter()
            .any(|d| d.definition.marker == marker && d.onset <= time)
    }

    fn years_with(&self, marker: Marker, time: i64) -> Option<f64> {
        self.diagnoses
            .iter()
            .filter(|d| d.definition.marker == marker && d.onset <= time)
            .map(|d| (time - d.onset) as f64 / YEAR as f64)
            .reduce(f64::max)
    }

    fn smoking_status(&self, age: f64) -> Code {
        match self.smoking {
            Some((start, quit)) if age >= start => match quit {
                Some(quit) if age >= quit => EX_SMOKER,
                _ => SMOKER,
            },
            _ => NEVER_SMOKED,
        }
    }

    fn lab_state(&self, time: i64) -> LabState {
        LabState {
            age: self.age_at(time),
            is_female: self.is_female,
            bmi: self.bmi(self.age_at(time)),
            diabetes_years: self.years_with(Marker::Diabetes, time),
            is_prediabetic: self.has_marker(Marker::Prediabetes, time),
            has_hyperlipidemia: self.has_marker(Marker::Hyperlipidemia, time),
            kidney_disease_years: self.years_with(Marker::KidneyDisease, time),
            has_anemia: self.has_marker(Marker::Anemia, time),
        }
    }
}

/// Generates patient `index` of the population `seed` into `sink`.
pub(crate) fn write_patient(
    seed: u64,
    index: u64,
    directory: &Directory,
    sink: &mut Sink,
) -> PatientSummary {
    let mut rng = patient_rng(seed, index);
    let person = Person::draw(&mut rng);
    let organization_index = rng.usize(directory.organizations_in(person.city));
    let organization = &directory.organizations[organization_index];
    let practitioner =
        &directory.practitioners[rng.usize(directory.practitioners_of(organization_index))];
    let city = &CITIES[person.city];
    let mut chart = Chart::new(
        rng,
        city.utc_offset_minutes,
        organization,
        practitioner,
        sink,
    );
    let id = chart.patient_id();
    person.write(&mut chart);

    let mut health = draw_health(&mut chart.rng, &person);
    let mut events = schedule(&mut chart.rng, &health, city.utc_offset_minutes);
    events.sort_by_key(|&(time, _)| time);
    let mut life = Life {
        chart,
        health: &mut health,
        offset: city.utc_offset_minutes,
    };
    for (time, event) in events {
        life.attend(time, event);
    }
    PatientSummary {
        id,
        given: person.given,
        family: person.family,
    }
}

fn draw_health(rng: &mut Rng, person: &Person) -> Health {
    let adult_height = if person.is_female {
        normal(rng, 163.0, 6.5)
    } else {
        normal(rng, 176.5, 7.0)
    };
    let smoking = (rng.f64() < 0.2).then(|| {
        let start = 15.0 + rng.f64() * 8.0;
        let quit = (rng.f64() < 0.55).then(|| start + 3.0 + rng.f64() * 35.0);
        (start, quit)
    });
    let mut diagnoses = Vec::new();
    for definition in CHRONIC_CONDITIONS {
        let applies = match definition.sex {
            SexFilter::Any => true,
            SexFilter::Female => person.is_female,
            SexFilter::Male => !person.is_female,
        };
        let is_lung_disease = matches!(definition.code.code, "13645005" | "87433001");
        let probability = match (is_lung_disease, smoking.is_some()) {
            (true, true) => definition.probability * 4.0,
            (true, false) => definition.probability * 0.3,
            _ => definition.probability,
        };
        if !applies || rng.f64() >= probability {
            continue;
        }
        let (low, high) = definition.onset_ages;
        let onset_age = low + rng.f64() * (high - low);
        let onset = person.birth + (onset_age * YEAR as f64) as i64;
        if onset < NOW {
            diagnoses.push(Diagnosis {
                definition,
                onset,
                condition: None,
                medications: Vec::new(),
            });
        }
    }
    let mut allergies = Vec::new();
    if rng.f64() < 0.25 {
        for _ in 0..rng.usize(1..4) {
            let onset = person.birth + ((0.5 + rng.f64() * 12.0) * YEAR as f64) as i64;
            allergies.push((&ALLERGIES[rng.usize(..ALLERGIES.len())], onset));
        }
    }
    Health {
        is_female: person.is_female,
        birth: person.birth,
        adult_height,
        bmi_at_twenty: normal(rng, 23.5, 3.0),
        bmi_drift: 0.02 + rng.f64() * 0.2,
        smoking,
        diagnoses,
        allergies,
        vaccine_doses: vec![0; VACCINES.len()],
        obesity: None,
    }
}

/// A time during local opening hours (08:00–17:45) on the day `time` falls on, shifted by up
/// to `jitter_days`.
fn office_time(rng: &mut Rng, time: i64, offset: i32, jitter_days: u32) -> i64 {
    let local_midnight = time - (time + i64::from(offset) * MINUTE).rem_euclid(DAY);
    let day_start = local_midnight + i64::from(rng.u32(..=jitter_days)) * DAY;
    day_start + 8 * HOUR + i64::from(rng.u32(..10)) * HOUR + i64::from(rng.u32(..4)) * 15 * MINUTE
}

fn schedule(rng: &mut Rng, health: &Health, offset: i32) -> Vec<(i64, Event)> {
    let mut events = Vec::with_capacity(256);
    let at_age = |age: f64| health.birth + (age * YEAR as f64) as i64;
    let mut wellness_ages: Vec<f64> = WELL_CHILD_MONTHS.iter().map(|m| m / 12.0).collect();
    wellness_ages.extend((4..=18).map(f64::from));
    wellness_ages.extend((7..17).map(|third| f64::from(third) * 3.0));
    wellness_ages.extend((25..=45).map(|half| f64::from(half) * 2.0));
    for age in wellness_ages {
        let time = office_time(rng, at_age(age), offset, if age < 1.0 { 3 } else { 20 });
        if time < NOW {
            events.push((time, Event::Wellness));
        }
    }
    for (index, diagnosis) in health.diagnoses.iter().enumerate() {
        let onset_visit = office_time(rng, diagnosis.onset, offset, 10);
        if onset_visit >= NOW {
            continue;
        }
        events.push((onset_visit, Event::ChronicOnset(index)));
        // Only a share of real follow-ups is simulated, to keep records of the old in the
        // same order of size as Synthea's.
        let interval = (YEAR as f64 / (diagnosis.definition.visits_per_year * 0.6)) as i64;
        let mut next = onset_visit + interval;
        while next < NOW {
            let visit = office_time(rng, next, offset, 30);
            // Follow-ups older than the follow-up window are not simulated (the diagnosis and
            // everything since stay), like Synthea's limited years of history.
            if (NOW - FOLLOW_UP_WINDOW..NOW).contains(&visit) {
                events.push((visit, Event::ChronicFollowUp(index)));
            }
            next += interval;
        }
    }
    let lifetime_years = health.age_at(NOW).ceil() as u32;
    for definition in ACUTE_CONDITIONS {
        let (low, high) = definition.ages;
        for year in 0..lifetime_years {
            let age = f64::from(year) + rng.f64();
            if age < low || age > high || rng.f64() >= definition.rate_per_year {
                continue;
            }
            let time = office_time(rng, at_age(age), offset, 0);
            if time < NOW {
                events.push((time, Event::Acute(definition)));
            }
        }
    }
    // COVID-19 episodes start in March 2020.
    let pandemic_start = 1_583_020_800;
    for year in 0..5 {
        let time = pandemic_start + year * YEAR + (rng.f64() * YEAR as f64) as i64;
        if time > health.birth && time < NOW && rng.f64() < COVID_19.rate_per_year {
            events.push((office_time(rng, time, offset, 0), Event::Acute(&COVID_19)));
        }
    }
    events
}

/// Which vital signs an encounter records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum VitalSigns {
    /// Wellness: growth measurements, all vitals, pain.
    Full,
    /// Chronic-condition visits: weight, blood pressure, heart rate.
    Brief,
    /// Acute visits: brief set plus respiratory rate and pain.
    Symptom,
    /// Acute visits with fever: the symptom set plus an elevated temperature.
    Fever,
}

/// Replays the schedule into the chart.
struct Life<'a, 'h> {
    chart: Chart<'a>,
    health: &'h mut Health,
    offset: i32,
}

impl Life<'_, '_> {
    fn attend(&mut self, time: i64, event: Event) {
        match event {
            Event::Wellness => self.wellness(time),
            Event::ChronicOnset(index) => self.chronic_onset(time, index),
            Event::ChronicFollowUp(index) => self.chronic_follow_up(time, index),
            Event::Acute(definition) => self.acute(time, definition),
        }
    }

    fn roll(&mut self, probability: f64) -> bool {
        self.chart.rng.f64() < probability
    }

    fn minutes(&mut self, low: u32, high: u32) -> i64 {
        i64::from(self.chart.rng.u32(low..=high)) * MINUTE
    }

    fn wellness(&mut self, time: i64) {
        let age = self.health.age_at(time);
        let kind = if age < 18.0 {
            ENCOUNTER_WELL_CHILD
        } else {
            ENCOUNTER_GENERAL_EXAM
        };
        let end = time + self.minutes(15, 45);
        let visit = self.chart.encounter(&EncounterFacts {
            start: time,
            end,
            class: EncounterClass::Ambulatory,
            kind,
            reason: None,
        });
        let mut diagnoses = Vec::new();
        self.vital_signs(&visit, age, VitalSigns::Full);
        if age >= 18.0 {
            let status = self.health.smoking_status(age);
            self.chart.observation_concept(
                &visit,
                ObservationCategory::SocialHistory,
                TOBACCO_STATUS,
                status,
            );
            if self.health.obesity.is_none() && self.health.bmi(age) >= 30.0 {
                let condition = self.chart.condition(&visit, OBESITY, time, None);
                self.chart
                    .care_plan(&visit, &WEIGHT_CARE_PLAN, Some(condition), None);
                self.health.obesity = Some(condition);
                diagnoses.push(condition);
            }
        }
        self.record_allergies(&visit);
        self.immunize(&visit, age);
        self.wellness_labs(&visit, age);
        self.screenings(&visit, age);
        self.chart
            .claim(&visit, kind, &diagnoses, 100.0 + age * 2.0);
    }

    fn record_allergies(&mut self, visit: &Visit) {
        let mut index = 0;
        while index < self.health.allergies.len() {
            let (allergy, onset) = self.health.allergies[index];
            if onset <= visit.start {
                let severe = self.roll(0.15);
                self.chart.allergy(visit, allergy, severe);
                self.health.allergies.swap_remove(index);
            } else {
                index += 1;
            }
        }
    }

    fn immunize(&mut self, visit: &Visit, age: f64) {
        let year = year_of(visit.start, self.offset);
        if age >= 0.5 && year >= 2005 {
            self.chart.immunization(visit, INFLUENZA);
        }
        let age_months = age * 12.0;
        for (index, vaccine) in VACCINES.iter().enumerate() {
            let doses = &mut self.health.vaccine_doses[index];
            // Doses missed by more than five years (often because the vaccine did not exist
            // yet) are skipped rather than caught up.
            while let Some(&due) = vaccine.due_months.get(*doses) {
                if age_months > f64::from(due) + 60.0 {
                    *doses += 1;
                } else {
                    break;
                }
            }
            let Some(&due) = vaccine.due_months.get(*doses) else {
                continue;
            };
            if age_months + 0.5 >= f64::from(due) && year >= vaccine.available_from_year {
                *doses += 1;
                self.chart.immunization(visit, vaccine.code);
            }
        }
    }

    fn wellness_labs(&mut self, visit: &Visit, age: f64) {
        if age < 18.0 {
            return;
        }
        let has_lipid_problem = self.health.has_marker(Marker::Hyperlipidemia, visit.start);
        let has_metabolic_problem = self.health.has_marker(Marker::Diabetes, visit.start)
            || self.health.has_marker(Marker::KidneyDisease, visit.start);
        let mut panels = Vec::with_capacity(4);
        if !has_lipid_problem && age >= 30.0 && self.roll(0.25) {
            panels.push(Panel::Lipid);
        }
        let metabolic_chance = if has_metabolic_problem { 0.5 } else { 0.3 };
        if age >= 40.0 && self.roll(metabolic_chance) {
            panels.push(Panel::BasicMetabolic);
        }
        if self.roll(0.15) {
            panels.push(Panel::BloodCount);
        }
        if age >= 45.0 && self.roll(0.2) {
            panels.push(Panel::HemoglobinA1c);
        }
        self.draw_panels(visit, &panels);
    }

    fn draw_panels(&mut self, visit: &Visit, panels: &[Panel]) {
        if panels.is_empty() {
            return;
        }
        let state = self.health.lab_state(visit.start);
        let end = visit.start + 5 * MINUTE;
        self.chart
            .procedure(visit, BLOOD_COLLECTION, visit.start, end, None);
        let mut results = Vec::with_capacity(8);
        for &panel in panels {
            results.clear();
            let mut previous = Vec::with_capacity(8);
            for member in panel.members() {
                let value = lab_value(&mut self.chart.rng, member, &state, &previous);
                previous.push(value);
                results.push(self.chart.observation_quantity(
                    visit,
                    ObservationCategory::Laboratory,
                    member,
                    value,
                ));
            }
            if panel != Panel::HemoglobinA1c {
                self.chart
                    .diagnostic_report(visit, panel.report_code(), &results);
            }
        }
    }

    fn screenings(&mut self, visit: &Visit, age: f64) {
        let mut procedures: Vec<Code> = Vec::with_capacity(6);
        if age >= 18.0 {
            procedures.push(HEALTH_NEEDS_ASSESSMENT);
            if self.roll(0.7) {
                procedures.push(DEPRESSION_SCREENING);
            }
            if self.roll(0.3) {
                procedures.push(SUBSTANCE_USE_ASSESSMENT);
            }
            if self.roll(0.15) {
                procedures.push(ANXIETY_ASSESSMENT);
            }
        } else if age >= 12.0 && self.roll(0.5) {
            procedures.push(DEPRESSION_SCREENING);
        }
        if self.health.is_female && age >= 40.0 && self.roll(0.5) {
            procedures.push(MAMMOGRAPHY);
        }
        if self.health.is_female && (21.0..65.0).contains(&age) && self.roll(0.33) {
            procedures.push(CERVICAL_SCREENING);
        }
        if age >= 50.0 && self.roll(0.1) {
            procedures.push(COLONOSCOPY);
        }
        let has_medications = self
            .health
            .diagnoses
            .iter()
            .any(|d| d.condition.is_some() && !d.medications.is_empty());
        if has_medications {
            procedures.push(MEDICATION_RECONCILIATION);
        }
        let mut start = visit.start;
        for code in procedures {
            let end = (start + self.minutes(5, 20)).min(visit.end);
            self.chart.procedure(visit, code, start, end, None);
            start = end;
        }
    }

    fn vital_signs(&mut self, visit: &Visit, age: f64, scope: VitalSigns) {
        let is_full = scope == VitalSigns::Full;
        let has_fever = scope == VitalSigns::Fever;
        let is_brief = scope == VitalSigns::Brief;
        let rng = &mut self.chart.rng;
        let height = self.health.height(age) * normal(rng, 1.0, 0.01);
        let bmi = self.health.bmi(age) + normal(rng, 0.0, 0.3);
        let weight = bmi * (height / 100.0) * (height / 100.0);
        let (heart_rate, respiratory_rate) = match age {
            a if a < 1.0 => (130.0, 35.0),
            a if a < 3.0 => (110.0, 28.0),
            a if a < 12.0 => (90.0, 20.0),
            _ => (72.0, 15.0),
        };
        let heart_rate = normal(rng, heart_rate, 8.0) + if has_fever { 15.0 } else { 0.0 };
        let respiratory_rate = normal(rng, respiratory_rate, 2.0);
        let temperature = if has_fever {
            normal(rng, 38.2, 0.4)
        } else {
            normal(rng, 36.9, 0.2)
        };
        let hypertension = self.health.has_marker(Marker::Hypertension, visit.start);
        let (systolic, diastolic) = if age < 18.0 {
            (
                normal(rng, 90.0 + 1.5 * age, 6.0),
                normal(rng, 55.0 + 1.0 * age, 5.0),
            )
        } else {
            let extra = if hypertension { 18.0 } else { 0.0 };
            (
                normal(rng, 105.0 + 0.45 * age + extra, 8.0),
                normal(rng, 68.0 + 0.15 * age + extra * 0.55, 6.0),
            )
        };
        let pain = f64::from(rng.u32(..=if has_fever { 6 } else { 3 }));
        let vital = ObservationCategory::VitalSigns;
        if is_full {
            self.chart
                .observation_quantity(visit, vital, &BODY_HEIGHT, height);
            if age < 3.0 {
                let head = 35.0 + 13.0 * (1.0 - (-age * 1.2).exp());
                self.chart
                    .observation_quantity(visit, vital, &HEAD_CIRCUMFERENCE, head);
            }
        }
        self.chart
            .observation_quantity(visit, vital, &BODY_WEIGHT, weight);
        if is_full && age >= 2.0 {
            self.chart.observation_quantity(visit, vital, &BMI, bmi);
        }
        if age >= 3.0 {
            self.chart.blood_pressure(visit, systolic, diastolic);
        }
        self.chart
            .observation_quantity(visit, vital, &HEART_RATE, heart_rate);
        if is_brief {
            return;
        }
        self.chart
            .observation_quantity(visit, vital, &RESPIRATORY_RATE, respiratory_rate);
        if has_fever {
            self.chart
                .observation_quantity(visit, vital, &BODY_TEMPERATURE, temperature);
        }
        if age >= 2.0 {
            self.chart
                .observation_quantity(visit, vital, &PAIN_SEVERITY, pain);
        }
    }

    fn chronic_onset(&mut self, time: i64, index: usize) {
        let definition = self.health.diagnoses[index].definition;
        let onset = self.health.diagnoses[index].onset.min(time);
        let end = time + self.minutes(20, 40);
        let visit = self.chart.encounter(&EncounterFacts {
            start: time,
            end,
            class: EncounterClass::Ambulatory,
            kind: ENCOUNTER_PROBLEM,
            reason: Some(definition.code),
        });
        let age = self.health.age_at(time);
        self.vital_signs(&visit, age, VitalSigns::Brief);
        let condition = self.chart.condition(&visit, definition.code, onset, None);
        let mut medications = Vec::new();
        for (position, &medication) in definition.medications.iter().enumerate() {
            if position == 0 || self.roll(0.4) {
                medications.push(medication);
            }
        }
        self.prescribe(&visit, &medications, condition);
        if definition.marker == Marker::Diabetes {
            self.chart
                .procedure(&visit, DIABETES_URINE_SCREEN, time, end, Some(condition));
        }
        self.draw_panels(&visit, definition.panels);
        if let Some(plan) = &definition.care_plan {
            self.chart.care_plan(&visit, plan, Some(condition), None);
        }
        let diagnosis = &mut self.health.diagnoses[index];
        diagnosis.condition = Some(condition);
        diagnosis.medications = medications;
        self.chart
            .claim(&visit, ENCOUNTER_PROBLEM, &[condition], 180.0);
    }

    fn prescribe(&mut self, visit: &Visit, medications: &[Code], condition: Uuid) {
        let status = if visit.start > NOW - YEAR {
            "active"
        } else {
            "stopped"
        };
        for &medication in medications {
            self.chart
                .medication_request(visit, medication, Some(condition), status);
        }
    }

    fn chronic_follow_up(&mut self, time: i64, index: usize) {
        let definition = self.health.diagnoses[index].definition;
        let Some(condition) = self.health.diagnoses[index].condition else {
            return;
        };
        let end = time + self.minutes(15, 30);
        let visit = self.chart.encounter(&EncounterFacts {
            start: time,
            end,
            class: EncounterClass::Ambulatory,
            kind: ENCOUNTER_CHECK_UP,
            reason: Some(definition.code),
        });
        let age = self.health.age_at(time);
        self.vital_signs(&visit, age, VitalSigns::Brief);
        let medications = self.health.diagnoses[index].medications.clone();
        self.prescribe(&visit, &medications, condition);
        let panels: Vec<Panel> = definition
            .panels
            .iter()
            .copied()
            .filter(|_| self.chart.rng.f64() < 0.5)
            .collect();
        self.draw_panels(&visit, &panels);
        if !medications.is_empty() && self.roll(0.5) {
            self.chart.procedure(
                &visit,
                MEDICATION_RECONCILIATION,
                time,
                end,
                Some(condition),
            );
        }
        self.chart
            .claim(&visit, ENCOUNTER_CHECK_UP, &[condition], 120.0);
    }

    fn acute(&mut self, time: i64, definition: &'static AcuteDef) {
        let (class, kind, end) = match definition.setting {
            Setting::Ambulatory => (
                EncounterClass::Ambulatory,
                ENCOUNTER_SYMPTOM,
                time + self.minutes(15, 40),
            ),
            Setting::Emergency => (
                EncounterClass::Emergency,
                ENCOUNTER_EMERGENCY,
                time + self.minutes(60, 300),
            ),
            Setting::Inpatient => (
                EncounterClass::Inpatient,
                ENCOUNTER_INPATIENT,
                time + i64::from(self.chart.rng.u32(2..7)) * DAY,
            ),
        };
        let visit = self.chart.encounter(&EncounterFacts {
            start: time,
            end,
            class,
            kind,
            reason: Some(definition.code),
        });
        let age = self.health.age_at(time);
        let is_infection = definition.medications.is_empty() || definition.care_plan.is_none();
        let has_fever = is_infection && self.roll(0.5);
        let scope = if has_fever {
            VitalSigns::Fever
        } else {
            VitalSigns::Symptom
        };
        self.vital_signs(&visit, age, scope);
        let (low, high) = definition.duration_days;
        let abatement = time + i64::from(self.chart.rng.u32(low..=high)) * DAY;
        let onset = time - i64::from(self.chart.rng.u32(..3)) * DAY;
        let condition = self
            .chart
            .condition(&visit, definition.code, onset, Some(abatement));
        let mut start = time;
        for &procedure in definition.procedures {
            let finish = (start + self.minutes(10, 45)).min(end);
            self.chart
                .procedure(&visit, procedure, start, finish, Some(condition));
            start = finish;
        }
        let status = if abatement <= NOW {
            "stopped"
        } else {
            "active"
        };
        for &medication in definition.medications {
            self.chart
                .medication_request(&visit, medication, Some(condition), status);
        }
        if definition.setting == Setting::Inpatient {
            self.draw_panels(&visit, &[Panel::BloodCount, Panel::BasicMetabolic]);
        }
        if let Some(plan) = &definition.care_plan {
            self.chart
                .care_plan(&visit, plan, Some(condition), Some(abatement));
        }
        let total = match definition.setting {
            Setting::Ambulatory => 150.0,
            Setting::Emergency => 900.0,
            Setting::Inpatient => 8500.0,
        };
        self.chart.claim(&visit, kind, &[condition], total);
    }
}
