//! Laboratory values that follow the patient's age, sex, weight and chronic conditions.

use fastrand::Rng;

use crate::catalog::clinical::QuantityDef;
use crate::life::normal;

/// The facts that shift laboratory values at the moment blood is drawn.
#[derive(Debug)]
pub(crate) struct LabState {
    pub age: f64,
    pub is_female: bool,
    pub bmi: f64,
    pub diabetes_years: Option<f64>,
    pub is_prediabetic: bool,
    pub has_hyperlipidemia: bool,
    pub kidney_disease_years: Option<f64>,
    pub has_anemia: bool,
}

/// Draws a value for `definition`; `previous` holds the values already drawn for the same
/// panel, in panel order, so derived results (LDL, hematocrit) stay consistent.
pub(crate) fn lab_value(
    rng: &mut Rng,
    definition: &QuantityDef,
    state: &LabState,
    previous: &[f64],
) -> f64 {
    let adult_years = (state.age - 20.0).clamp(0.0, 50.0);
    let value = match definition.code.code {
        "2339-0" => match state.diabetes_years {
            Some(years) => normal(rng, (135.0 + 6.0 * years).min(230.0), 15.0),
            None if state.is_prediabetic => normal(rng, 110.0, 6.0),
            None => normal(rng, 84.0 + 0.1 * adult_years, 7.0),
        },
        "4548-4" => match state.diabetes_years {
            Some(years) => normal(rng, (6.8 + 0.12 * years).min(10.5), 0.4),
            None if state.is_prediabetic => normal(rng, 6.0, 0.15),
            None => normal(rng, 5.2 + 0.005 * adult_years, 0.2),
        },
        "6299-2" => match state.kidney_disease_years {
            Some(years) => normal(rng, 28.0 + years, 5.0),
            None => normal(rng, 14.0, 3.0),
        },
        "2160-0" => {
            let base = if state.is_female { 0.75 } else { 0.95 };
            match state.kidney_disease_years {
                Some(years) => normal(rng, (1.7 + 0.06 * years).min(3.5), 0.2),
                None => normal(rng, base + 0.003 * adult_years, 0.08),
            }
        }
        "49765-1" => normal(rng, 9.4, 0.3),
        "2947-0" => normal(rng, 140.0, 2.0),
        "6298-4" => normal(rng, 4.2, 0.3),
        "2069-3" => normal(rng, 103.0, 2.0),
        "20565-8" => normal(rng, 25.0, 2.0),
        "2093-3" => {
            let extra = if state.has_hyperlipidemia { 55.0 } else { 0.0 };
            normal(rng, 165.0 + 0.8 * adult_years + extra, 15.0)
        }
        "2571-8" => {
            let extra = if state.has_hyperlipidemia { 70.0 } else { 0.0 };
            normal(rng, 105.0 + 6.0 * (state.bmi - 24.0).max(0.0) + extra, 20.0)
        }
        "18262-6" => {
            let cholesterol = previous.first().copied().unwrap_or(180.0);
            let triglycerides = previous.get(1).copied().unwrap_or(120.0);
            // Friedewald with an assumed HDL, plus assay noise.
            normal(rng, cholesterol - 50.0 - triglycerides / 5.0, 5.0)
        }
        "2085-9" => {
            let cholesterol = previous.first().copied().unwrap_or(180.0);
            let triglycerides = previous.get(1).copied().unwrap_or(120.0);
            let ldl = previous.get(2).copied().unwrap_or(100.0);
            (cholesterol - ldl - triglycerides / 5.0).max(25.0)
        }
        "6690-2" => normal(rng, 7.0, 1.5),
        "789-8" => {
            let base = if state.is_female { 4.5 } else { 5.0 };
            normal(rng, base - if state.has_anemia { 0.7 } else { 0.0 }, 0.3)
        }
        "718-7" => {
            let base = if state.is_female { 13.5 } else { 15.0 };
            normal(rng, base - if state.has_anemia { 2.8 } else { 0.0 }, 0.7)
        }
        "4544-3" => {
            let hemoglobin = previous.get(2).copied().unwrap_or(14.0);
            normal(rng, hemoglobin * 3.0, 1.0)
        }
        "777-3" => normal(rng, 260.0, 50.0),
        _ => normal(rng, 1.0, 0.1),
    };
    value.max(0.0)
}
