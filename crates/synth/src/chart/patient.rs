//! The Patient resource: demographics, identifiers and US Core extensions.

use crate::catalog::people::City;
use crate::chart::Chart;
use crate::clock::push_date;
use crate::directory::SYNTHEA_SYSTEM;
use crate::ids::Uuid;
use crate::json::Json;
use crate::sink::ResourceType;

/// The facts of the Patient resource.
#[derive(Debug)]
pub(crate) struct Demographics<'a> {
    pub given: &'a str,
    pub middle: Option<&'a str>,
    pub family: &'a str,
    pub prefix: Option<&'a str>,
    pub is_female: bool,
    pub birth: i64,
    pub city: &'a City,
    pub address_line: &'a str,
    pub phone: &'a str,
    pub ssn: &'a str,
    pub drivers_license: Option<&'a str>,
    pub marital_status: Option<(&'a str, &'a str)>,
    pub race: (&'a str, &'a str),
    pub is_hispanic: bool,
    pub speaks_spanish: bool,
}

impl Chart<'_> {
    /// Writes the Patient resource; its id was fixed when the chart was created.
    pub(crate) fn patient(&mut self, facts: &Demographics<'_>) {
        let id = self.patient;
        let offset = self.offset;
        let json = &mut self.json;
        json.clear();
        json.begin_object();
        json.field_str("resourceType", "Patient");
        json.field_with("id", |buf| id.push_to(buf));
        write_patient_extensions(json, facts);
        write_patient_identifiers(json, id, facts);
        json.field_array("name");
        json.begin_object();
        json.field_str("use", "official");
        json.field_str("family", facts.family);
        json.field_array("given");
        json.string(facts.given);
        if let Some(middle) = facts.middle {
            json.string(middle);
        }
        json.end_array();
        if let Some(prefix) = facts.prefix {
            json.field_array("prefix");
            json.string(prefix);
            json.end_array();
        }
        json.end_object();
        json.end_array();
        json.field_array("telecom");
        json.begin_object();
        json.field_str("system", "phone");
        json.field_str("value", facts.phone);
        json.field_str("use", "home");
        json.end_object();
        json.end_array();
        json.field_str("gender", if facts.is_female { "female" } else { "male" });
        json.field_with("birthDate", |buf| push_date(buf, facts.birth, offset));
        json.field_array("address");
        json.begin_object();
        json.field_array("line");
        json.string(facts.address_line);
        json.end_array();
        json.field_str("city", facts.city.name);
        json.field_str("state", facts.city.state);
        json.field_str("postalCode", facts.city.postal_code);
        json.field_str("country", "US");
        json.end_object();
        json.end_array();
        if let Some((code, display)) = facts.marital_status {
            json.field_object("maritalStatus");
            json.field_array("coding");
            json.begin_object();
            json.field_str(
                "system",
                "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus",
            );
            json.field_str("code", code);
            json.field_str("display", display);
            json.end_object();
            json.end_array();
            json.field_str("text", display);
            json.end_object();
        }
        json.field_raw("multipleBirthBoolean", "false");
        let (language, language_name) = if facts.speaks_spanish {
            ("es", "Spanish")
        } else {
            ("en-US", "English (United States)")
        };
        json.field_array("communication");
        json.begin_object();
        json.field_object("language");
        json.field_array("coding");
        json.begin_object();
        json.field_str("system", "urn:ietf:bcp:47");
        json.field_str("code", language);
        json.field_str("display", language_name);
        json.end_object();
        json.end_array();
        json.field_str("text", language_name);
        json.end_object();
        json.end_object();
        json.end_array();
        self.finish_resource(ResourceType::Patient, id);
    }
}

fn write_patient_extensions(json: &mut Json, facts: &Demographics<'_>) {
    json.field_array("extension");
    let (race_code, race_display) = facts.race;
    let (ethnicity_code, ethnicity_display) = if facts.is_hispanic {
        ("2135-2", "Hispanic or Latino")
    } else {
        ("2186-5", "Not Hispanic or Latino")
    };
    for (url, code, display) in [
        (
            "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race",
            race_code,
            race_display,
        ),
        (
            "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity",
            ethnicity_code,
            ethnicity_display,
        ),
    ] {
        json.begin_object();
        json.field_str("url", url);
        json.field_array("extension");
        json.begin_object();
        json.field_str("url", "ombCategory");
        json.field_object("valueCoding");
        json.field_str("system", "urn:oid:2.16.840.1.113883.6.238");
        json.field_str("code", code);
        json.field_str("display", display);
        json.end_object();
        json.end_object();
        json.begin_object();
        json.field_str("url", "text");
        json.field_str("valueString", display);
        json.end_object();
        json.end_array();
        json.end_object();
    }
    json.begin_object();
    json.field_str(
        "url",
        "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex",
    );
    json.field_str("valueCode", if facts.is_female { "F" } else { "M" });
    json.end_object();
    json.end_array();
}

fn write_identifier_type(json: &mut Json, code: &str, display: &str) {
    json.field_object("type");
    json.field_array("coding");
    json.begin_object();
    json.field_str("system", "http://terminology.hl7.org/CodeSystem/v2-0203");
    json.field_str("code", code);
    json.field_str("display", display);
    json.end_object();
    json.end_array();
    json.field_str("text", display);
    json.end_object();
}

fn write_patient_identifiers(json: &mut Json, id: Uuid, facts: &Demographics<'_>) {
    json.field_array("identifier");
    json.begin_object();
    json.field_str("system", SYNTHEA_SYSTEM);
    json.field_with("value", |buf| id.push_to(buf));
    json.end_object();
    json.begin_object();
    write_identifier_type(json, "MR", "Medical Record Number");
    json.field_str("system", "http://hospital.smarthealthit.org");
    json.field_with("value", |buf| id.push_to(buf));
    json.end_object();
    json.begin_object();
    write_identifier_type(json, "SS", "Social Security Number");
    json.field_str("system", "http://hl7.org/fhir/sid/us-ssn");
    json.field_str("value", facts.ssn);
    json.end_object();
    if let Some(license) = facts.drivers_license {
        json.begin_object();
        write_identifier_type(json, "DL", "Driver's license number");
        json.field_str("system", "urn:oid:2.16.840.1.113883.4.3.25");
        json.field_str("value", license);
        json.end_object();
    }
    json.end_array();
}
