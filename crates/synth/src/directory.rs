//! The shared provider directory: Organizations and Practitioners that every patient of a
//! population refers to, derived from the seed alone.

use fastrand::Rng;

use crate::catalog::people::{
    CITIES, City, FAMILY_NAMES, FEMALE_GIVEN_NAMES, HOSPITAL_NAME_PATTERNS, MALE_GIVEN_NAMES,
    STREET_NAMES, STREET_SUFFIXES,
};
use crate::ids::{Uuid, directory_rng};
use crate::json::Json;

/// Synthea's identifier system for organizations; the value is the organization's id.
pub(crate) const SYNTHEA_SYSTEM: &str = "https://github.com/synthetichealth/synthea";
/// The NPI identifier system used for practitioners.
pub(crate) const NPI_SYSTEM: &str = "http://hl7.org/fhir/sid/us-npi";

const ORGANIZATIONS_PER_CITY: usize = 2;
const PRACTITIONERS_PER_ORGANIZATION: usize = 4;

#[derive(Debug)]
pub(crate) struct Organization {
    pub id: Uuid,
    pub id_text: String,
    pub name: String,
    pub phone: String,
    pub address_line: String,
    pub city: &'static City,
}

#[derive(Debug)]
pub(crate) struct Practitioner {
    pub id: Uuid,
    pub npi: String,
    pub given: &'static str,
    pub family: &'static str,
    pub is_female: bool,
    /// Index into [`Directory::organizations`] of the practitioner's employer.
    pub organization: usize,
    /// `Dr. Given Family`, used as reference display text.
    pub display: String,
}

/// All organizations and practitioners of one population.
#[derive(Debug)]
pub(crate) struct Directory {
    pub organizations: Vec<Organization>,
    pub practitioners: Vec<Practitioner>,
}

impl Directory {
    /// Builds the directory for `seed`: two organizations per city, four practitioners each.
    pub(crate) fn new(seed: u64) -> Self {
        let mut rng = directory_rng(seed);
        let mut organizations = Vec::with_capacity(CITIES.len() * ORGANIZATIONS_PER_CITY);
        let mut practitioners = Vec::new();
        for city in CITIES {
            let mut patterns: Vec<usize> = (0..HOSPITAL_NAME_PATTERNS.len()).collect();
            rng.shuffle(&mut patterns);
            for &pattern in patterns.iter().take(ORGANIZATIONS_PER_CITY) {
                let (prefix, suffix) = HOSPITAL_NAME_PATTERNS[pattern];
                let id = Uuid::random(&mut rng);
                organizations.push(Organization {
                    id,
                    id_text: id.to_text(),
                    name: format!("{prefix}{}{suffix}", city.name),
                    phone: phone_number(&mut rng, city),
                    address_line: street_address(&mut rng),
                    city,
                });
                let organization = organizations.len() - 1;
                for _ in 0..PRACTITIONERS_PER_ORGANIZATION {
                    let is_female = rng.bool();
                    let given = pick(&mut rng, given_names(is_female));
                    let family = pick(&mut rng, FAMILY_NAMES);
                    let npi = format!("99999{:05}", practitioners.len() * 10 + rng.usize(..10));
                    practitioners.push(Practitioner {
                        id: Uuid::random(&mut rng),
                        npi,
                        given,
                        family,
                        is_female,
                        organization,
                        display: format!("Dr. {given} {family}"),
                    });
                }
            }
        }
        Directory {
            organizations,
            practitioners,
        }
    }

    /// Organizations located in the city with index `city`.
    pub(crate) fn organizations_in(&self, city: usize) -> std::ops::Range<usize> {
        let start = city * ORGANIZATIONS_PER_CITY;
        start..start + ORGANIZATIONS_PER_CITY
    }

    /// Practitioners employed by the organization with index `organization`.
    pub(crate) fn practitioners_of(&self, organization: usize) -> std::ops::Range<usize> {
        let start = organization * PRACTITIONERS_PER_ORGANIZATION;
        start..start + PRACTITIONERS_PER_ORGANIZATION
    }
}

pub(crate) fn given_names(is_female: bool) -> &'static [&'static str] {
    if is_female {
        FEMALE_GIVEN_NAMES
    } else {
        MALE_GIVEN_NAMES
    }
}

pub(crate) fn pick<T: Copy>(rng: &mut Rng, items: &[T]) -> T {
    items[rng.usize(..items.len())]
}

pub(crate) fn phone_number(rng: &mut Rng, city: &City) -> String {
    format!("{}-555-{:04}", city.area_code, rng.u32(..10_000))
}

pub(crate) fn street_address(rng: &mut Rng) -> String {
    format!(
        "{} {} {}",
        rng.u32(1..2000),
        pick(rng, STREET_NAMES),
        pick(rng, STREET_SUFFIXES)
    )
}

/// Writes one Organization resource of the shared directory.
pub(crate) fn write_organization(json: &mut Json, organization: &Organization) {
    json.clear();
    json.begin_object();
    json.field_str("resourceType", "Organization");
    json.field_str("id", &organization.id_text);
    json.field_array("identifier");
    json.begin_object();
    json.field_str("system", SYNTHEA_SYSTEM);
    json.field_str("value", &organization.id_text);
    json.end_object();
    json.end_array();
    json.field_raw("active", "true");
    json.field_array("type");
    json.begin_object();
    json.field_array("coding");
    json.begin_object();
    json.field_str(
        "system",
        "http://terminology.hl7.org/CodeSystem/organization-type",
    );
    json.field_str("code", "prov");
    json.field_str("display", "Healthcare Provider");
    json.end_object();
    json.end_array();
    json.field_str("text", "Healthcare Provider");
    json.end_object();
    json.end_array();
    json.field_str("name", &organization.name);
    json.field_array("telecom");
    json.begin_object();
    json.field_str("system", "phone");
    json.field_str("value", &organization.phone);
    json.end_object();
    json.end_array();
    write_address(json, &organization.address_line, organization.city);
    json.end_object();
}

/// Writes one Practitioner resource of the shared directory.
pub(crate) fn write_practitioner(
    json: &mut Json,
    practitioner: &Practitioner,
    organization: &Organization,
) {
    json.clear();
    json.begin_object();
    json.field_str("resourceType", "Practitioner");
    json.field_with("id", |buf| practitioner.id.push_to(buf));
    json.field_array("identifier");
    json.begin_object();
    json.field_str("system", NPI_SYSTEM);
    json.field_str("value", &practitioner.npi);
    json.end_object();
    json.end_array();
    json.field_raw("active", "true");
    json.field_array("name");
    json.begin_object();
    json.field_str("family", practitioner.family);
    json.field_array("given");
    json.string(practitioner.given);
    json.end_array();
    json.field_array("prefix");
    json.string("Dr.");
    json.end_array();
    json.end_object();
    json.end_array();
    json.field_array("telecom");
    json.begin_object();
    json.field_str("system", "email");
    json.field_with("value", |buf| {
        buf.push_str("practitioner.");
        buf.push_str(&practitioner.npi);
        buf.push_str("@example.com");
    });
    json.field_str("use", "work");
    json.end_object();
    json.end_array();
    write_address(json, &organization.address_line, organization.city);
    json.field_str(
        "gender",
        if practitioner.is_female {
            "female"
        } else {
            "male"
        },
    );
    json.end_object();
}

fn write_address(json: &mut Json, line: &str, city: &City) {
    json.field_array("address");
    json.begin_object();
    json.field_array("line");
    json.string(line);
    json.end_array();
    json.field_str("city", city.name);
    json.field_str("state", city.state);
    json.field_str("postalCode", city.postal_code);
    json.field_str("country", "US");
    json.end_object();
    json.end_array();
}
