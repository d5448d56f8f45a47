//! Canonical units for the UCUM codes clinical data uses most, so that `5.4|http://unitsofmeasure.org|mg`
//! finds a value recorded as `0.0054 g`. Units not listed here are compared as written.
//! Concentrations by substance (mmol/L) and by mass (mg/dL) are different dimensions and are
//! never converted into each other.

/// UCUM's system URI.
pub const UCUM: &str = "http://unitsofmeasure.org";

/// (unit, canonical unit, factor to canonical).
const UNITS: &[(&str, &str, f64)] = &[
    // mass
    ("kg", "g", 1000.0),
    ("g", "g", 1.0),
    ("mg", "g", 1e-3),
    ("ug", "g", 1e-6),
    ("ng", "g", 1e-9),
    ("[lb_av]", "g", 453.592_37),
    ("[oz_av]", "g", 28.349_523_125),
    // volume
    ("L", "L", 1.0),
    ("dL", "L", 0.1),
    ("mL", "L", 1e-3),
    ("uL", "L", 1e-6),
    // length
    ("m", "m", 1.0),
    ("cm", "m", 0.01),
    ("mm", "m", 1e-3),
    ("km", "m", 1000.0),
    ("[in_i]", "m", 0.0254),
    ("[ft_i]", "m", 0.3048),
    // time
    ("s", "s", 1.0),
    ("ms", "s", 1e-3),
    ("min", "s", 60.0),
    ("h", "s", 3600.0),
    ("d", "s", 86_400.0),
    ("wk", "s", 604_800.0),
    ("mo", "s", 2_629_800.0),
    ("a", "s", 31_557_600.0),
    // mass concentration
    ("g/L", "g/L", 1.0),
    ("g/dL", "g/L", 10.0),
    ("mg/dL", "g/L", 0.01),
    ("mg/L", "g/L", 1e-3),
    ("ug/L", "g/L", 1e-6),
    ("ug/dL", "g/L", 1e-5),
    // substance concentration
    ("mol/L", "mol/L", 1.0),
    ("mmol/L", "mol/L", 1e-3),
    ("umol/L", "mol/L", 1e-6),
    // pressure
    ("mm[Hg]", "mm[Hg]", 1.0),
    // rates
    ("/min", "/s", 1.0 / 60.0),
    ("/s", "/s", 1.0),
    // dimensionless
    ("%", "%", 1.0),
    ("1", "1", 1.0),
];

/// The canonical unit and value of `value code` (a UCUM code), if the unit is known.
pub fn canonical(value: f64, code: &str) -> Option<(f64, &'static str)> {
    UNITS
        .iter()
        .find(|(unit, _, _)| *unit == code)
        .map(|(_, canonical, factor)| (value * factor, *canonical))
}

#[cfg(test)]
mod tests {
    use super::canonical;

    #[test]
    fn converts_within_a_dimension_only() {
        assert_eq!(canonical(5.0, "mg"), Some((0.005, "g")));
        assert_eq!(canonical(2.0, "wk"), Some((1_209_600.0, "s")));
        assert_ne!(
            canonical(1.0, "mg/dL").map(|c| c.1),
            canonical(1.0, "mmol/L").map(|c| c.1)
        );
        assert_eq!(canonical(1.0, "furlong"), None);
    }
}
