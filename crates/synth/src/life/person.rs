//! Demographics of a simulated patient: age, sex, names, address, identifiers.

use fastrand::Rng;

use crate::catalog::people::{
    ASIAN_FAMILY_NAMES, CITIES, FAMILY_NAMES, HISPANIC_FAMILY_NAMES, RACES,
};
use crate::chart::{Chart, Demographics};
use crate::clock::{DAY, HOUR, NOW, YEAR};
use crate::directory::{given_names, phone_number, pick, street_address};

/// Approximate US age pyramid: weight per decade of age, 0–9 through 80–89.
const DECADE_WEIGHTS: [u32; 9] = [12, 13, 14, 13, 12, 13, 12, 7, 4];

/// Demographic draws for the Patient resource.
#[derive(Debug)]
pub(super) struct Person {
    pub(super) is_female: bool,
    pub(super) birth: i64,
    pub(super) city: usize,
    pub(super) given: &'static str,
    pub(super) middle: Option<&'static str>,
    pub(super) family: &'static str,
    pub(super) race: (&'static str, &'static str),
    pub(super) is_hispanic: bool,
    pub(super) speaks_spanish: bool,
    pub(super) address_line: String,
    pub(super) phone: String,
    pub(super) ssn: String,
    pub(super) drivers_license: Option<String>,
    pub(super) marital_status: Option<(&'static str, &'static str)>,
}

impl Person {
    pub(super) fn draw(rng: &mut Rng) -> Self {
        let is_female = rng.bool();
        let decade = pick_weighted(rng, &DECADE_WEIGHTS);
        let age = (decade as f64 * 10.0 + rng.f64() * 10.0).max(0.05);
        let birth = NOW - (age * YEAR as f64) as i64;
        let birth = birth - birth.rem_euclid(DAY) + 12 * HOUR;
        let city = rng.usize(..CITIES.len());
        let race_index = pick_weighted(rng, &RACES.iter().map(|r| r.weight).collect::<Vec<_>>());
        let race = (RACES[race_index].code, RACES[race_index].display);
        let is_hispanic = rng.f64() < 0.18;
        let family = if is_hispanic {
            pick(rng, HISPANIC_FAMILY_NAMES)
        } else if race.0 == "2028-9" && rng.f64() < 0.8 {
            pick(rng, ASIAN_FAMILY_NAMES)
        } else {
            pick(rng, FAMILY_NAMES)
        };
        let given = pick(rng, given_names(is_female));
        let middle = (rng.f64() < 0.5).then(|| pick(rng, given_names(is_female)));
        let marital_status = (age >= 18.0).then(|| {
            let roll = rng.f64();
            if roll < 0.5 {
                ("M", "Married")
            } else if roll < 0.75 && age < 70.0 {
                ("S", "Never Married")
            } else if roll < 0.88 {
                ("D", "Divorced")
            } else {
                ("W", "Widowed")
            }
        });
        Person {
            is_female,
            birth,
            city,
            given,
            middle,
            family,
            race,
            is_hispanic,
            speaks_spanish: is_hispanic && rng.f64() < 0.4,
            address_line: street_address(rng),
            phone: phone_number(rng, &CITIES[city]),
            ssn: format!("999-{:02}-{:04}", rng.u32(10..100), rng.u32(..10_000)),
            drivers_license: (age >= 16.0).then(|| format!("S99{:06}", rng.u32(..1_000_000))),
            marital_status,
        }
    }

    pub(super) fn write(&self, chart: &mut Chart<'_>) {
        let prefix = match (self.marital_status, self.is_female) {
            (None, _) => None,
            (_, false) => Some("Mr."),
            (Some(("M", _)), true) => Some("Mrs."),
            (Some(_), true) => Some("Ms."),
        };
        chart.patient(&Demographics {
            given: self.given,
            middle: self.middle,
            family: self.family,
            prefix,
            is_female: self.is_female,
            birth: self.birth,
            city: &CITIES[self.city],
            address_line: &self.address_line,
            phone: &self.phone,
            ssn: &self.ssn,
            drivers_license: self.drivers_license.as_deref(),
            marital_status: self.marital_status,
            race: self.race,
            is_hispanic: self.is_hispanic,
            speaks_spanish: self.speaks_spanish,
        });
    }
}

fn pick_weighted(rng: &mut Rng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut roll = rng.u32(..total.max(1));
    for (index, &weight) in weights.iter().enumerate() {
        if roll < weight {
            return index;
        }
        roll -= weight;
    }
    weights.len() - 1
}
