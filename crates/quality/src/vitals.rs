//! Physiological limits of common vital signs, by LOINC code, in canonical UCUM units, and the
//! unit conversions into them: [`vital_sign`], [`to_canonical`].

/// A vital sign whose values are checked: its LOINC code, a short name, and the range of values
/// a living human can have, in `unit`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VitalSign {
    /// The LOINC code (`8867-4`).
    pub loinc: &'static str,
    /// What it measures, for reports.
    pub name: &'static str,
    /// The canonical UCUM unit the limits are in.
    pub unit: &'static str,
    /// Lowest plausible value.
    pub low: f64,
    /// Highest plausible value.
    pub high: f64,
}

/// The checked vital signs: the core codes of the FHIR R4 vital signs profile (heart rate,
/// respiratory rate, blood pressure, temperature, weight, height, BMI, oxygen saturation).
///
/// The limits are physiological limits, not reference ranges: values outside them are not
/// abnormal results but almost certainly wrong data (a unit mix-up, a typo, a test patient).
/// They are set just outside the extremes documented in clinical literature and survival
/// records: heart rates from severe bradycardia (about 20/min) to supraventricular tachycardia
/// in infants (about 250/min); systolic pressures from profound shock to the highest recorded
/// crises (about 300 mm Hg); core temperatures from survived deep hypothermia (below 25 °C is
/// outside, though rare survivors exist) to fatal hyperthermia (45 °C); weights from extremely
/// premature neonates (200 g) to the heaviest recorded humans (about 500 kg); lengths from
/// premature neonates (20 cm) to the tallest recorded human (272 cm); BMI 8–100; SpO2 50–100 %
/// (below 50 % is incompatible with measurement by pulse oximetry in a living patient for
/// long). Narrow clinical judgement is deliberately left to the reader of the report.
pub const VITAL_SIGNS: &[VitalSign] = &[
    VitalSign {
        loinc: "8867-4",
        name: "heart rate",
        unit: "/min",
        low: 20.0,
        high: 250.0,
    },
    VitalSign {
        loinc: "9279-1",
        name: "respiratory rate",
        unit: "/min",
        low: 4.0,
        high: 80.0,
    },
    VitalSign {
        loinc: "8480-6",
        name: "systolic blood pressure",
        unit: "mm[Hg]",
        low: 40.0,
        high: 300.0,
    },
    VitalSign {
        loinc: "8462-4",
        name: "diastolic blood pressure",
        unit: "mm[Hg]",
        low: 20.0,
        high: 200.0,
    },
    VitalSign {
        loinc: "8310-5",
        name: "body temperature",
        unit: "Cel",
        low: 25.0,
        high: 45.0,
    },
    VitalSign {
        loinc: "29463-7",
        name: "body weight",
        unit: "kg",
        low: 0.2,
        high: 500.0,
    },
    VitalSign {
        loinc: "8302-2",
        name: "body height",
        unit: "cm",
        low: 20.0,
        high: 275.0,
    },
    VitalSign {
        loinc: "39156-5",
        name: "body mass index",
        unit: "kg/m2",
        low: 8.0,
        high: 100.0,
    },
    VitalSign {
        loinc: "2708-6",
        name: "oxygen saturation in arterial blood",
        unit: "%",
        low: 50.0,
        high: 100.0,
    },
    VitalSign {
        loinc: "59408-5",
        name: "oxygen saturation by pulse oximetry",
        unit: "%",
        low: 50.0,
        high: 100.0,
    },
];

/// The vital sign with this LOINC code.
pub fn vital_sign(loinc: &str) -> Option<&'static VitalSign> {
    VITAL_SIGNS.iter().find(|vital| vital.loinc == loinc)
}

/// `value` in `unit` converted into `canonical`, or `None` when the unit is not one this
/// report can convert (then the value is counted as "unit not checked", never as
/// implausible). UCUM annotations (`{beats}/min`) carry no meaning and are ignored.
pub fn to_canonical(value: f64, unit: &str, canonical: &str) -> Option<f64> {
    let unit = strip_annotations(unit);
    let unit = unit.trim();
    let converted = match (canonical, unit) {
        (_, unit) if unit == canonical => value,
        ("/min", "1/min") => value,
        ("/min", "/s" | "1/s") => value * 60.0,
        ("/min", "/h" | "1/h") => value / 60.0,
        ("mm[Hg]", "kPa") => value * 7.500_615_758,
        ("Cel", "[degF]") => (value - 32.0) * 5.0 / 9.0,
        ("Cel", "K") => value - 273.15,
        ("kg", "g") => value / 1000.0,
        ("kg", "[lb_av]") => value * 0.453_592_37,
        ("kg", "[oz_av]") => value * 0.028_349_523_125,
        ("cm", "m") => value * 100.0,
        ("cm", "mm") => value / 10.0,
        ("cm", "[in_i]") => value * 2.54,
        ("cm", "[ft_i]") => value * 30.48,
        ("kg/m2", "kg/m^2") => value,
        _ => return None,
    };
    Some(converted)
}

/// `{beats}/min` → `/min`; an unclosed brace leaves the text as it is.
fn strip_annotations(unit: &str) -> String {
    let mut stripped = String::with_capacity(unit.len());
    let mut rest = unit;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        stripped.push_str(&rest[..open]);
        rest = &rest[open + close + 1..];
    }
    stripped.push_str(rest);
    stripped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: Option<f64>, expected: f64) -> bool {
        actual.is_some_and(|actual| (actual - expected).abs() < 1e-6)
    }

    #[test]
    fn units_convert_into_the_canonical_ones() {
        assert!(close(to_canonical(98.6, "[degF]", "Cel"), 37.0));
        assert!(close(to_canonical(310.15, "K", "Cel"), 37.0));
        assert!(close(to_canonical(154.0, "[lb_av]", "kg"), 69.853_225));
        assert!(close(to_canonical(3400.0, "g", "kg"), 3.4));
        assert!(close(to_canonical(70.0, "[in_i]", "cm"), 177.8));
        assert!(close(to_canonical(1.8, "m", "cm"), 180.0));
        assert!(close(to_canonical(72.0, "{beats}/min", "/min"), 72.0));
        assert!(close(to_canonical(16.0, "{Breaths}/min", "/min"), 16.0));
        assert!(close(to_canonical(16.0, "kPa", "mm[Hg]"), 120.009_852));
        assert!(close(to_canonical(97.0, "%", "%"), 97.0));
    }

    #[test]
    fn unknown_units_are_not_converted() {
        assert_eq!(to_canonical(120.0, "mmHg", "mm[Hg]"), None);
        assert_eq!(to_canonical(72.0, "bpm", "/min"), None);
        assert_eq!(to_canonical(37.0, "kg", "Cel"), None);
        assert_eq!(to_canonical(0.97, "1", "%"), None);
        assert_eq!(to_canonical(1.0, "{unclosed/min", "/min"), None);
    }

    #[test]
    fn every_code_has_one_range_with_low_below_high() {
        for vital in VITAL_SIGNS {
            assert!(vital.low < vital.high, "{}", vital.loinc);
            assert_eq!(vital_sign(vital.loinc), Some(vital));
        }
        assert_eq!(vital_sign("85354-9"), None);
    }
}
