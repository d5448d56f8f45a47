//! Clinical vocabulary: conditions (SNOMED CT), medications (RxNorm), vaccines (CVX),
//! procedures (SNOMED CT), allergies, observations (LOINC with UCUM units) and care plans.
//!
//! Codes follow the ones the Synthea modules emit, so that generated records look like
//! Synthea output to downstream tools.

/// A code with its display text; the code system is implied by where the code is used.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Code {
    pub code: &'static str,
    pub display: &'static str,
}

const fn code(code: &'static str, display: &'static str) -> Code {
    Code { code, display }
}

/// Which sex a condition or screening applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SexFilter {
    Any,
    Female,
    Male,
}

/// How a chronic condition shows up in measurements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Marker {
    None,
    Prediabetes,
    Diabetes,
    Hypertension,
    Hyperlipidemia,
    KidneyDisease,
    Anemia,
}

/// A laboratory panel drawn at an encounter and reported by a DiagnosticReport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Panel {
    BasicMetabolic,
    Lipid,
    BloodCount,
    HemoglobinA1c,
}

#[derive(Debug)]
pub(crate) struct CarePlanDef {
    pub category: Code,
    pub activities: &'static [Code],
}

#[derive(Debug)]
pub(crate) struct ChronicDef {
    pub code: Code,
    pub sex: SexFilter,
    pub onset_ages: (f64, f64),
    /// Probability of developing the condition somewhere in the onset age range.
    pub probability: f64,
    pub visits_per_year: f64,
    pub medications: &'static [Code],
    pub panels: &'static [Panel],
    pub care_plan: Option<CarePlanDef>,
    pub marker: Marker,
}

/// Where an acute episode is treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Setting {
    Ambulatory,
    Emergency,
    Inpatient,
}

#[derive(Debug)]
pub(crate) struct AcuteDef {
    pub code: Code,
    pub ages: (f64, f64),
    /// Expected episodes per year of life inside the age range.
    pub rate_per_year: f64,
    pub setting: Setting,
    pub duration_days: (u32, u32),
    pub medications: &'static [Code],
    pub procedures: &'static [Code],
    pub care_plan: Option<CarePlanDef>,
}

#[derive(Debug)]
pub(crate) struct VaccineDef {
    pub code: Code,
    /// Ages in months at which successive doses fall due.
    pub due_months: &'static [u32],
    /// First calendar year the vaccine was in routine use.
    pub available_from_year: i64,
}

#[derive(Debug)]
pub(crate) struct AllergyDef {
    pub code: Code,
    pub category: &'static str,
    pub reaction: Code,
}

/// An observation with a quantity value.
#[derive(Clone, Copy, Debug)]
pub(crate) struct QuantityDef {
    pub code: Code,
    /// UCUM code, also used as the human-readable unit.
    pub unit: &'static str,
    pub decimals: u32,
}

const fn quantity(
    code: &'static str,
    display: &'static str,
    unit: &'static str,
    decimals: u32,
) -> QuantityDef {
    QuantityDef {
        code: Code { code, display },
        unit,
        decimals,
    }
}

// Encounter types (SNOMED CT).
pub(crate) const ENCOUNTER_WELL_CHILD: Code = code("410620009", "Well child visit (procedure)");
pub(crate) const ENCOUNTER_GENERAL_EXAM: Code =
    code("162673000", "General examination of patient (procedure)");
pub(crate) const ENCOUNTER_PROBLEM: Code = code("185347001", "Encounter for problem (procedure)");
pub(crate) const ENCOUNTER_CHECK_UP: Code = code("185349003", "Encounter for check up (procedure)");
pub(crate) const ENCOUNTER_SYMPTOM: Code = code("185345009", "Encounter for symptom (procedure)");
pub(crate) const ENCOUNTER_EMERGENCY: Code =
    code("50849002", "Emergency room admission (procedure)");
pub(crate) const ENCOUNTER_INPATIENT: Code = code("32485007", "Hospital admission (procedure)");

// Vital signs and other encounter observations (LOINC).
pub(crate) const BODY_HEIGHT: QuantityDef = quantity("8302-2", "Body Height", "cm", 1);
pub(crate) const BODY_WEIGHT: QuantityDef = quantity("29463-7", "Body Weight", "kg", 1);
pub(crate) const BMI: QuantityDef =
    quantity("39156-5", "Body mass index (BMI) [Ratio]", "kg/m2", 2);
pub(crate) const HEAD_CIRCUMFERENCE: QuantityDef =
    quantity("9843-4", "Head Occipital-frontal circumference", "cm", 1);
pub(crate) const HEART_RATE: QuantityDef = quantity("8867-4", "Heart rate", "/min", 0);
pub(crate) const RESPIRATORY_RATE: QuantityDef = quantity("9279-1", "Respiratory rate", "/min", 0);
pub(crate) const BODY_TEMPERATURE: QuantityDef = quantity("8310-5", "Body temperature", "Cel", 1);
pub(crate) const PAIN_SEVERITY: QuantityDef = quantity(
    "72514-3",
    "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
    "{score}",
    0,
);
pub(crate) const BLOOD_PRESSURE_PANEL: Code =
    code("85354-9", "Blood pressure panel with all children optional");
pub(crate) const SYSTOLIC: QuantityDef = quantity("8480-6", "Systolic blood pressure", "mm[Hg]", 0);
pub(crate) const DIASTOLIC: QuantityDef =
    quantity("8462-4", "Diastolic blood pressure", "mm[Hg]", 0);
pub(crate) const TOBACCO_STATUS: Code = code("72166-2", "Tobacco smoking status");
pub(crate) const NEVER_SMOKED: Code = code("266919005", "Never smoked tobacco (finding)");
pub(crate) const EX_SMOKER: Code = code("8517006", "Ex-smoker (finding)");
pub(crate) const SMOKER: Code = code("77176002", "Smoker (finding)");
pub(crate) const OBESITY: Code = code("162864005", "Body mass index 30+ - obesity (finding)");

// Laboratory observations (LOINC).
pub(crate) const GLUCOSE: QuantityDef =
    quantity("2339-0", "Glucose [Mass/volume] in Blood", "mg/dL", 1);
pub(crate) const UREA_NITROGEN: QuantityDef =
    quantity("6299-2", "Urea nitrogen [Mass/volume] in Blood", "mg/dL", 1);
pub(crate) const CREATININE: QuantityDef = quantity(
    "2160-0",
    "Creatinine [Mass/volume] in Serum or Plasma",
    "mg/dL",
    2,
);
pub(crate) const CALCIUM: QuantityDef =
    quantity("49765-1", "Calcium [Mass/volume] in Blood", "mg/dL", 1);
pub(crate) const SODIUM: QuantityDef =
    quantity("2947-0", "Sodium [Moles/volume] in Blood", "mmol/L", 0);
pub(crate) const POTASSIUM: QuantityDef =
    quantity("6298-4", "Potassium [Moles/volume] in Blood", "mmol/L", 1);
pub(crate) const CHLORIDE: QuantityDef =
    quantity("2069-3", "Chloride [Moles/volume] in Blood", "mmol/L", 0);
pub(crate) const CARBON_DIOXIDE: QuantityDef = quantity(
    "20565-8",
    "Carbon dioxide, total [Moles/volume] in Blood",
    "mmol/L",
    0,
);
pub(crate) const CHOLESTEROL: QuantityDef = quantity(
    "2093-3",
    "Cholesterol [Mass/volume] in Serum or Plasma",
    "mg/dL",
    0,
);
pub(crate) const TRIGLYCERIDES: QuantityDef = quantity(
    "2571-8",
    "Triglycerides [Mass/volume] in Serum or Plasma",
    "mg/dL",
    0,
);
pub(crate) const LDL: QuantityDef = quantity(
    "18262-6",
    "Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay",
    "mg/dL",
    0,
);
pub(crate) const HDL: QuantityDef = quantity(
    "2085-9",
    "Cholesterol in HDL [Mass/volume] in Serum or Plasma",
    "mg/dL",
    0,
);
pub(crate) const LEUKOCYTES: QuantityDef = quantity(
    "6690-2",
    "Leukocytes [#/volume] in Blood by Automated count",
    "10*3/uL",
    1,
);
pub(crate) const ERYTHROCYTES: QuantityDef = quantity(
    "789-8",
    "Erythrocytes [#/volume] in Blood by Automated count",
    "10*6/uL",
    2,
);
pub(crate) const HEMOGLOBIN: QuantityDef =
    quantity("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 1);
pub(crate) const HEMATOCRIT: QuantityDef = quantity(
    "4544-3",
    "Hematocrit [Volume Fraction] of Blood by Automated count",
    "%",
    1,
);
pub(crate) const PLATELETS: QuantityDef = quantity(
    "777-3",
    "Platelets [#/volume] in Blood by Automated count",
    "10*3/uL",
    0,
);
pub(crate) const HEMOGLOBIN_A1C: QuantityDef =
    quantity("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 1);

impl Panel {
    /// The LOINC code of the report that groups this panel's results.
    pub(crate) fn report_code(self) -> Code {
        match self {
            Panel::BasicMetabolic => code("51990-0", "Basic metabolic panel - Blood"),
            Panel::Lipid => code("57698-3", "Lipid panel with direct LDL - Serum or Plasma"),
            Panel::BloodCount => code("58410-2", "CBC panel - Blood by Automated count"),
            Panel::HemoglobinA1c => code("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood"),
        }
    }

    pub(crate) fn members(self) -> &'static [QuantityDef] {
        match self {
            Panel::BasicMetabolic => &[
                GLUCOSE,
                UREA_NITROGEN,
                CREATININE,
                CALCIUM,
                SODIUM,
                POTASSIUM,
                CHLORIDE,
                CARBON_DIOXIDE,
            ],
            Panel::Lipid => &[CHOLESTEROL, TRIGLYCERIDES, LDL, HDL],
            Panel::BloodCount => &[LEUKOCYTES, ERYTHROCYTES, HEMOGLOBIN, HEMATOCRIT, PLATELETS],
            Panel::HemoglobinA1c => &[HEMOGLOBIN_A1C],
        }
    }
}

// Medications (RxNorm).
const METFORMIN: Code = code(
    "860975",
    "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet",
);
const INSULIN: Code = code(
    "106892",
    "insulin isophane, human 70 UNT/ML / insulin, regular, human 30 UNT/ML Injectable Suspension [Humulin]",
);
const LISINOPRIL: Code = code("314076", "lisinopril 10 MG Oral Tablet");
const AMLODIPINE: Code = code("197361", "amlodipine 5 MG Oral Tablet");
const HYDROCHLOROTHIAZIDE: Code = code("310798", "Hydrochlorothiazide 25 MG Oral Tablet");
const SIMVASTATIN: Code = code("312961", "Simvastatin 20 MG Oral Tablet");
const ATORVASTATIN: Code = code("617310", "atorvastatin 20 MG Oral Tablet");
const FLUTICASONE: Code = code(
    "895994",
    "120 ACTUAT Fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler",
);
const ALBUTEROL: Code = code(
    "745679",
    "200 ACTUAT Albuterol 0.09 MG/ACTUAT Metered Dose Inhaler",
);
const AMOXICILLIN: Code = code("308192", "Amoxicillin 500 MG Oral Tablet");
const AMOXICILLIN_CLAVULANATE: Code = code(
    "562251",
    "Amoxicillin 250 MG / Clavulanate 125 MG Oral Tablet",
);
const PENICILLIN_V: Code = code("834061", "Penicillin V Potassium 250 MG Oral Tablet");
const IBUPROFEN: Code = code("310965", "Ibuprofen 200 MG Oral Tablet");
const ACETAMINOPHEN: Code = code("313782", "Acetaminophen 325 MG Oral Tablet");
const NAPROXEN: Code = code("849574", "Naproxen sodium 220 MG Oral Tablet");
const OXYCODONE_ACETAMINOPHEN: Code = code(
    "1049221",
    "Acetaminophen 325 MG / Oxycodone Hydrochloride 5 MG Oral Tablet",
);
const NITROGLYCERIN: Code = code("705129", "Nitroglycerin 0.4 MG/ACTUAT Mucosal Spray");
const WARFARIN: Code = code("855332", "Warfarin Sodium 5 MG Oral Tablet");
const CLOPIDOGREL: Code = code("309362", "Clopidogrel 75 MG Oral Tablet");
const ASPIRIN: Code = code("243670", "aspirin 81 MG Oral Tablet");
const METOPROLOL: Code = code("866924", "Metoprolol Tartrate 25 MG Oral Tablet");
const DONEPEZIL: Code = code("997223", "Donepezil hydrochloride 10 MG Oral Tablet");
const SERTRALINE: Code = code("312938", "Sertraline 100 MG Oral Tablet");
const FLUOXETINE: Code = code("310385", "FLUoxetine 20 MG Oral Capsule");
const ALENDRONATE: Code = code("904419", "Alendronic acid 10 MG Oral Tablet");
const NITROFURANTOIN: Code = code("311989", "Nitrofurantoin 5 MG/ML Oral Suspension");
const FERROUS_SULFATE: Code = code("310325", "ferrous sulfate 325 MG Oral Tablet");
const CETIRIZINE: Code = code("1014676", "cetirizine hydrochloride 5 MG Oral Tablet");
const OMEPRAZOLE: Code = code("198053", "Omeprazole 20 MG Delayed Release Oral Capsule");
const LEVETIRACETAM: Code = code("311289", "Levetiracetam 500 MG Oral Tablet");
const METHOTREXATE: Code = code("105585", "Methotrexate 2.5 MG Oral Tablet");
const TIOTROPIUM: Code = code("2108233", "tiotropium 0.0025 MG/ACTUAT Inhalation Spray");
const HYDROCORTISONE_CREAM: Code = code("106258", "Hydrocortisone 10 MG/ML Topical Cream");

// Procedures (SNOMED CT).
pub(crate) const MEDICATION_RECONCILIATION: Code =
    code("430193006", "Medication Reconciliation (procedure)");
pub(crate) const HEALTH_NEEDS_ASSESSMENT: Code = code(
    "710824005",
    "Assessment of health and social care needs (procedure)",
);
pub(crate) const DEPRESSION_SCREENING: Code = code("171207006", "Depression screening (procedure)");
pub(crate) const SUBSTANCE_USE_ASSESSMENT: Code =
    code("428211000124100", "Assessment of substance use (procedure)");
pub(crate) const ANXIETY_ASSESSMENT: Code = code("710841007", "Assessment of anxiety (procedure)");
pub(crate) const MAMMOGRAPHY: Code = code("24623002", "Screening mammography (procedure)");
pub(crate) const COLONOSCOPY: Code = code("73761001", "Colonoscopy (procedure)");
pub(crate) const CERVICAL_SCREENING: Code = code(
    "268547008",
    "Screening for malignant neoplasm of cervix (procedure)",
);
pub(crate) const BLOOD_COLLECTION: Code = code(
    "82078001",
    "Collection of blood specimen for laboratory (procedure)",
);
pub(crate) const DIABETES_URINE_SCREEN: Code =
    code("395123002", "Urine screening test for diabetes (procedure)");
const THROAT_CULTURE: Code = code("117015009", "Throat culture (procedure)");
const CHEST_X_RAY: Code = code("399208008", "Plain chest X-ray (procedure)");
const SUTURE: Code = code("288086009", "Suture open wound (procedure)");
const BONE_IMMOBILIZATION: Code = code("274474001", "Bone immobilization (procedure)");
const ANKLE_X_RAY: Code = code("19490002", "Ankle X-ray (procedure)");
const CLAVICLE_X_RAY: Code = code("168594001", "Clavicle X-ray (procedure)");
const OXYGEN_BY_MASK: Code = code("371908008", "Oxygen administration by mask (procedure)");
const ELECTROCARDIOGRAM: Code = code("29303009", "Electrocardiographic procedure (procedure)");
const CORONARY_STENT: Code = code(
    "36969009",
    "Placement of stent in coronary artery (procedure)",
);
const CT_HEAD: Code = code("303653007", "Computed tomography of head (procedure)");
const URINE_CULTURE: Code = code("104173005", "Urine culture (procedure)");

// Care plan categories and activities (SNOMED CT).
const DIABETES_PLAN: CarePlanDef = CarePlanDef {
    category: code(
        "698360004",
        "Diabetes self management plan (record artifact)",
    ),
    activities: &[
        code("160670007", "Diabetic diet (finding)"),
        code("229065009", "Exercise therapy (regime/therapy)"),
    ],
};
const HYPERTENSION_PLAN: CarePlanDef = CarePlanDef {
    category: code(
        "443402002",
        "Lifestyle education regarding hypertension (procedure)",
    ),
    activities: &[
        code(
            "386463000",
            "Prescribed activity/exercise education (procedure)",
        ),
        code(
            "413473000",
            "Counseling about alcohol consumption (procedure)",
        ),
        code(
            "1151000175103",
            "Dietary approaches to stop hypertension diet (regime/therapy)",
        ),
    ],
};
const RESPIRATORY_PLAN: CarePlanDef = CarePlanDef {
    category: code("699728000", "Asthma self management (procedure)"),
    activities: &[
        code("710081004", "Smoking cessation therapy (procedure)"),
        code("708409001", "Home nebulizer therapy (procedure)"),
    ],
};
const WEIGHT_PLAN: CarePlanDef = CarePlanDef {
    category: code("718361005", "Weight reduction regime (regime/therapy)"),
    activities: &[
        code("226234005", "Healthy diet (regime/therapy)"),
        code("229065009", "Exercise therapy (regime/therapy)"),
    ],
};
const MENTAL_HEALTH_PLAN: CarePlanDef = CarePlanDef {
    category: code("736376001", "Mental health care plan (record artifact)"),
    activities: &[
        code("385724002", "Coping support management (procedure)"),
        code(
            "228557008",
            "Cognitive and behavioral therapy (regime/therapy)",
        ),
    ],
};
const CARDIAC_PLAN: CarePlanDef = CarePlanDef {
    category: code(
        "735985000",
        "Cardiac rehabilitation program (regime/therapy)",
    ),
    activities: &[
        code("229065009", "Exercise therapy (regime/therapy)"),
        code("226234005", "Healthy diet (regime/therapy)"),
    ],
};
const FRACTURE_PLAN: CarePlanDef = CarePlanDef {
    category: code("385691007", "Fracture care (regime/therapy)"),
    activities: &[
        code("183051005", "Recommendation to rest (procedure)"),
        code(
            "408580007",
            "Physical activity target light exercise (finding)",
        ),
    ],
};
const PHYSIOTHERAPY_PLAN: CarePlanDef = CarePlanDef {
    category: code("91251008", "Physical therapy procedure (regime/therapy)"),
    activities: &[
        code(
            "229586001",
            "Rest, ice, compression and elevation treatment programme (regime/therapy)",
        ),
        code("229070002", "Stretching exercises (regime/therapy)"),
    ],
};
const RESPIRATORY_INFECTION_PLAN: CarePlanDef = CarePlanDef {
    category: code("53950000", "Respiratory therapy (procedure)"),
    activities: &[
        code("304510005", "Recommendation to avoid exercise (procedure)"),
        code(
            "371605008",
            "Deep breathing and coughing exercises (procedure)",
        ),
    ],
};
const WOUND_PLAN: CarePlanDef = CarePlanDef {
    category: code("225358003", "Wound care (regime/therapy)"),
    activities: &[
        code("385949008", "Dressing change management (procedure)"),
        code(
            "439830001",
            "Behavior to prevent infection (observable entity)",
        ),
    ],
};

// A positional constructor keeps each table entry on one readable row.
#[allow(clippy::too_many_arguments)]
const fn chronic(
    code: Code,
    sex: SexFilter,
    onset_ages: (f64, f64),
    probability: f64,
    visits_per_year: f64,
    medications: &'static [Code],
    panels: &'static [Panel],
    care_plan: Option<CarePlanDef>,
    marker: Marker,
) -> ChronicDef {
    ChronicDef {
        code,
        sex,
        onset_ages,
        probability,
        visits_per_year,
        medications,
        panels,
        care_plan,
        marker,
    }
}

use Marker as M;
use Panel as P;
use SexFilter as S;

#[rustfmt::skip]
pub(crate) static CHRONIC_CONDITIONS: &[ChronicDef] = &[
    chronic(code("15777000", "Prediabetes"), S::Any, (25.0, 70.0), 0.20, 1.0, &[], &[P::HemoglobinA1c], None, M::Prediabetes),
    chronic(code("44054006", "Diabetes mellitus type 2 (disorder)"), S::Any, (35.0, 80.0), 0.14, 3.0, &[METFORMIN, INSULIN], &[P::HemoglobinA1c, P::BasicMetabolic], Some(DIABETES_PLAN), M::Diabetes),
    chronic(code("59621000", "Essential hypertension (disorder)"), S::Any, (30.0, 80.0), 0.32, 1.0, &[LISINOPRIL, HYDROCHLOROTHIAZIDE, AMLODIPINE], &[P::BasicMetabolic], Some(HYPERTENSION_PLAN), M::Hypertension),
    chronic(code("55822004", "Hyperlipidemia (disorder)"), S::Any, (30.0, 75.0), 0.30, 1.0, &[SIMVASTATIN, ATORVASTATIN], &[P::Lipid], Some(HYPERTENSION_PLAN), M::Hyperlipidemia),
    chronic(code("302870006", "Hypertriglyceridemia (disorder)"), S::Any, (30.0, 75.0), 0.08, 1.0, &[], &[P::Lipid], None, M::Hyperlipidemia),
    chronic(code("195967001", "Asthma (disorder)"), S::Any, (2.0, 40.0), 0.08, 1.0, &[FLUTICASONE, ALBUTEROL], &[], Some(RESPIRATORY_PLAN), M::None),
    chronic(code("13645005", "Chronic obstructive bronchitis (disorder)"), S::Any, (45.0, 85.0), 0.06, 2.0, &[TIOTROPIUM, ALBUTEROL], &[], Some(RESPIRATORY_PLAN), M::None),
    chronic(code("87433001", "Pulmonary emphysema (disorder)"), S::Any, (55.0, 85.0), 0.03, 2.0, &[ALBUTEROL], &[], Some(RESPIRATORY_PLAN), M::None),
    chronic(code("433144002", "Chronic kidney disease stage 3 (disorder)"), S::Any, (50.0, 90.0), 0.08, 2.0, &[], &[P::BasicMetabolic], None, M::KidneyDisease),
    chronic(code("49436004", "Atrial fibrillation (disorder)"), S::Any, (55.0, 90.0), 0.08, 2.0, &[WARFARIN, METOPROLOL], &[P::BloodCount], Some(CARDIAC_PLAN), M::None),
    chronic(code("53741008", "Coronary Heart Disease (disorder)"), S::Any, (45.0, 85.0), 0.10, 2.0, &[ASPIRIN, CLOPIDOGREL, NITROGLYCERIN], &[P::Lipid], Some(CARDIAC_PLAN), M::Hyperlipidemia),
    chronic(code("69896004", "Rheumatoid arthritis (disorder)"), S::Female, (25.0, 70.0), 0.02, 2.0, &[METHOTREXATE, NAPROXEN], &[P::BloodCount], Some(PHYSIOTHERAPY_PLAN), M::None),
    chronic(code("239873007", "Osteoarthritis of knee (disorder)"), S::Any, (45.0, 85.0), 0.18, 1.0, &[NAPROXEN, ACETAMINOPHEN], &[], Some(PHYSIOTHERAPY_PLAN), M::None),
    chronic(code("201834006", "Localized, primary osteoarthritis of the hand (disorder)"), S::Any, (45.0, 85.0), 0.08, 0.5, &[IBUPROFEN], &[], None, M::None),
    chronic(code("64859006", "Osteoporosis (disorder)"), S::Female, (50.0, 85.0), 0.15, 1.0, &[ALENDRONATE], &[], None, M::None),
    chronic(code("26929004", "Alzheimer's disease (disorder)"), S::Any, (65.0, 90.0), 0.10, 2.0, &[DONEPEZIL], &[], Some(MENTAL_HEALTH_PLAN), M::None),
    chronic(code("35489007", "Depressive disorder (disorder)"), S::Any, (15.0, 70.0), 0.12, 2.0, &[SERTRALINE, FLUOXETINE], &[], Some(MENTAL_HEALTH_PLAN), M::None),
    chronic(code("197480006", "Anxiety disorder (disorder)"), S::Any, (12.0, 60.0), 0.10, 1.0, &[SERTRALINE], &[], Some(MENTAL_HEALTH_PLAN), M::None),
    chronic(code("271737000", "Anemia (disorder)"), S::Female, (12.0, 60.0), 0.10, 1.0, &[FERROUS_SULFATE], &[P::BloodCount], None, M::Anemia),
    chronic(code("40055000", "Chronic sinusitis (disorder)"), S::Any, (10.0, 60.0), 0.08, 0.5, &[CETIRIZINE], &[], None, M::None),
    chronic(code("235595009", "Gastroesophageal reflux disease (disorder)"), S::Any, (25.0, 75.0), 0.12, 0.5, &[OMEPRAZOLE], &[], None, M::None),
    chronic(code("84757009", "Epilepsy (disorder)"), S::Any, (1.0, 60.0), 0.01, 2.0, &[LEVETIRACETAM], &[P::BloodCount], None, M::None),
    chronic(code("24079001", "Atopic dermatitis (disorder)"), S::Any, (0.3, 10.0), 0.10, 0.5, &[HYDROCORTISONE_CREAM], &[], None, M::None),
    chronic(code("254837009", "Malignant neoplasm of breast (disorder)"), S::Female, (40.0, 85.0), 0.06, 3.0, &[ACETAMINOPHEN], &[P::BloodCount], None, M::None),
    chronic(code("126906006", "Neoplasm of prostate (disorder)"), S::Male, (50.0, 85.0), 0.10, 2.0, &[], &[P::BloodCount], None, M::None),
    chronic(code("363406005", "Malignant neoplasm of colon (disorder)"), S::Any, (50.0, 85.0), 0.02, 3.0, &[], &[P::BloodCount, P::BasicMetabolic], None, M::None),
    chronic(code("230690007", "Cerebrovascular accident (disorder)"), S::Any, (55.0, 90.0), 0.06, 2.0, &[CLOPIDOGREL, ASPIRIN], &[P::Lipid], Some(CARDIAC_PLAN), M::None),
    chronic(code("90781000119102", "Microalbuminuria due to type 2 diabetes mellitus (disorder)"), S::Any, (45.0, 85.0), 0.04, 1.0, &[LISINOPRIL], &[P::BasicMetabolic], None, M::KidneyDisease),
    chronic(code("368581000119106", "Neuropathy due to type 2 diabetes mellitus (disorder)"), S::Any, (45.0, 85.0), 0.03, 1.0, &[], &[], None, M::None),
];

// A positional constructor keeps each table entry on one readable row.
#[allow(clippy::too_many_arguments)]
const fn acute(
    code: Code,
    ages: (f64, f64),
    rate_per_year: f64,
    setting: Setting,
    duration_days: (u32, u32),
    medications: &'static [Code],
    procedures: &'static [Code],
    care_plan: Option<CarePlanDef>,
) -> AcuteDef {
    AcuteDef {
        code,
        ages,
        rate_per_year,
        setting,
        duration_days,
        medications,
        procedures,
        care_plan,
    }
}

use Setting::{Ambulatory as AMB, Emergency as EMER, Inpatient as IMP};

#[rustfmt::skip]
pub(crate) static ACUTE_CONDITIONS: &[AcuteDef] = &[
    acute(code("444814009", "Viral sinusitis (disorder)"), (2.0, 90.0), 0.18, AMB, (7, 21), &[], &[], None),
    acute(code("75498004", "Acute bacterial sinusitis (disorder)"), (5.0, 90.0), 0.05, AMB, (10, 21), &[AMOXICILLIN_CLAVULANATE], &[], None),
    acute(code("10509002", "Acute bronchitis (disorder)"), (0.0, 90.0), 0.08, AMB, (7, 21), &[ACETAMINOPHEN], &[CHEST_X_RAY], Some(RESPIRATORY_INFECTION_PLAN)),
    acute(code("195662009", "Acute viral pharyngitis (disorder)"), (2.0, 60.0), 0.15, AMB, (5, 10), &[IBUPROFEN], &[THROAT_CULTURE], None),
    acute(code("43878008", "Streptococcal sore throat (disorder)"), (3.0, 40.0), 0.06, AMB, (7, 14), &[PENICILLIN_V], &[THROAT_CULTURE], None),
    acute(code("65363002", "Otitis media (disorder)"), (0.3, 10.0), 0.45, AMB, (7, 14), &[AMOXICILLIN, IBUPROFEN], &[], None),
    acute(code("44465007", "Sprain of ankle (disorder)"), (8.0, 70.0), 0.02, EMER, (14, 42), &[IBUPROFEN], &[ANKLE_X_RAY], Some(PHYSIOTHERAPY_PLAN)),
    acute(code("70704007", "Sprain of wrist (disorder)"), (8.0, 70.0), 0.015, EMER, (14, 42), &[NAPROXEN], &[], Some(PHYSIOTHERAPY_PLAN)),
    acute(code("16114001", "Fracture of ankle (disorder)"), (8.0, 90.0), 0.006, EMER, (42, 90), &[OXYCODONE_ACETAMINOPHEN], &[ANKLE_X_RAY, BONE_IMMOBILIZATION], Some(FRACTURE_PLAN)),
    acute(code("65966004", "Fracture of forearm (disorder)"), (4.0, 90.0), 0.006, EMER, (42, 90), &[IBUPROFEN], &[BONE_IMMOBILIZATION], Some(FRACTURE_PLAN)),
    acute(code("58150001", "Fracture of clavicle (disorder)"), (4.0, 70.0), 0.003, EMER, (42, 90), &[IBUPROFEN], &[CLAVICLE_X_RAY, BONE_IMMOBILIZATION], Some(FRACTURE_PLAN)),
    acute(code("62106007", "Concussion with no loss of consciousness (disorder)"), (5.0, 70.0), 0.004, EMER, (14, 60), &[ACETAMINOPHEN], &[CT_HEAD], None),
    acute(code("284549007", "Laceration of hand (disorder)"), (4.0, 80.0), 0.01, EMER, (14, 28), &[IBUPROFEN], &[SUTURE], Some(WOUND_PLAN)),
    acute(code("370247008", "Facial laceration (disorder)"), (2.0, 80.0), 0.006, EMER, (14, 28), &[ACETAMINOPHEN], &[SUTURE], Some(WOUND_PLAN)),
    acute(code("39848009", "Whiplash injury to neck (disorder)"), (16.0, 80.0), 0.006, EMER, (14, 60), &[NAPROXEN], &[], Some(PHYSIOTHERAPY_PLAN)),
    acute(code("38822007", "Cystitis (disorder)"), (15.0, 90.0), 0.05, AMB, (5, 10), &[NITROFURANTOIN], &[URINE_CULTURE], None),
    acute(code("233604007", "Pneumonia (disorder)"), (0.0, 90.0), 0.01, IMP, (14, 30), &[AMOXICILLIN_CLAVULANATE], &[CHEST_X_RAY, OXYGEN_BY_MASK], Some(RESPIRATORY_INFECTION_PLAN)),
    acute(code("22298006", "Myocardial infarction (disorder)"), (45.0, 90.0), 0.004, IMP, (30, 90), &[ASPIRIN, CLOPIDOGREL, METOPROLOL], &[ELECTROCARDIOGRAM, CORONARY_STENT], Some(CARDIAC_PLAN)),
    acute(code("241929008", "Acute allergic reaction (disorder)"), (1.0, 80.0), 0.01, EMER, (1, 5), &[CETIRIZINE], &[], None),
    acute(code("36971009", "Sinusitis (disorder)"), (5.0, 90.0), 0.04, AMB, (10, 28), &[AMOXICILLIN], &[], None),
    acute(code("68496003", "Polyp of colon (disorder)"), (45.0, 90.0), 0.01, AMB, (1, 3), &[], &[COLONOSCOPY], None),
    acute(code("403190006", "First degree burn (disorder)"), (2.0, 80.0), 0.006, EMER, (7, 21), &[IBUPROFEN], &[], Some(WOUND_PLAN)),
    acute(code("307731004", "Injury of tendon of the rotator cuff of shoulder (disorder)"), (30.0, 80.0), 0.006, AMB, (42, 120), &[NAPROXEN], &[], Some(PHYSIOTHERAPY_PLAN)),
    acute(code("128613002", "Seizure disorder (disorder)"), (0.5, 10.0), 0.004, EMER, (1, 7), &[], &[CT_HEAD], None),
    acute(code("29857009", "Chest pain (finding)"), (30.0, 90.0), 0.02, EMER, (1, 3), &[NITROGLYCERIN], &[ELECTROCARDIOGRAM, CHEST_X_RAY], None),
    acute(code("68235000", "Nasal congestion (finding)"), (0.0, 90.0), 0.05, AMB, (3, 10), &[CETIRIZINE], &[], None),
];

/// Care plan started when obesity is recorded at a wellness visit.
pub(crate) static WEIGHT_CARE_PLAN: CarePlanDef = WEIGHT_PLAN;

/// COVID-19 episodes; only simulated from March 2020 onwards.
pub(crate) static COVID_19: AcuteDef = acute(
    code("840539006", "COVID-19 (disorder)"),
    (0.0, 90.0),
    0.12,
    AMB,
    (10, 21),
    &[ACETAMINOPHEN],
    &[],
    Some(RESPIRATORY_INFECTION_PLAN),
);

pub(crate) const INFLUENZA: Code =
    code("140", "Influenza, seasonal, injectable, preservative free");

#[rustfmt::skip]
pub(crate) static VACCINES: &[VaccineDef] = &[
    VaccineDef { code: code("08", "Hep B, adolescent or pediatric"), due_months: &[0, 1, 6], available_from_year: 1991 },
    VaccineDef { code: code("116", "rotavirus, pentavalent"), due_months: &[2, 4, 6], available_from_year: 2006 },
    VaccineDef { code: code("20", "DTaP"), due_months: &[2, 4, 6, 15, 48], available_from_year: 1991 },
    VaccineDef { code: code("49", "Hib (PRP-OMP)"), due_months: &[2, 4, 12], available_from_year: 1990 },
    VaccineDef { code: code("133", "Pneumococcal conjugate PCV 13"), due_months: &[2, 4, 6, 12], available_from_year: 2010 },
    VaccineDef { code: code("10", "IPV"), due_months: &[2, 4, 6, 48], available_from_year: 1988 },
    VaccineDef { code: code("03", "MMR"), due_months: &[12, 48], available_from_year: 1971 },
    VaccineDef { code: code("21", "varicella"), due_months: &[12, 48], available_from_year: 1995 },
    VaccineDef { code: code("83", "Hep A, ped/adol, 2 dose"), due_months: &[12, 18], available_from_year: 1996 },
    VaccineDef { code: code("115", "Tdap"), due_months: &[132], available_from_year: 2005 },
    VaccineDef { code: code("62", "HPV, quadrivalent"), due_months: &[132, 138], available_from_year: 2006 },
    VaccineDef { code: code("114", "meningococcal MCV4P"), due_months: &[132, 192], available_from_year: 2005 },
    VaccineDef { code: code("113", "Td (adult) preservative free"), due_months: &[252, 372, 492, 612, 732, 852, 972], available_from_year: 1980 },
    VaccineDef { code: code("43", "Hep B, adult"), due_months: &[240, 241, 246], available_from_year: 2000 },
    VaccineDef { code: code("33", "pneumococcal polysaccharide vaccine, 23 valent"), due_months: &[780], available_from_year: 1983 },
    VaccineDef { code: code("187", "zoster vaccine recombinant"), due_months: &[600, 602], available_from_year: 2018 },
    VaccineDef { code: code("208", "SARS-COV-2 (COVID-19) vaccine, mRNA, spike protein, LNP, preservative free, 30 mcg/0.3mL dose"), due_months: &[144, 145], available_from_year: 2021 },
];

#[rustfmt::skip]
pub(crate) static ALLERGIES: &[AllergyDef] = &[
    AllergyDef { code: code("419474003", "Allergy to mould"), category: "environment", reaction: code("267036007", "Dyspnea (finding)") },
    AllergyDef { code: code("232347008", "Dander (animal) allergy"), category: "environment", reaction: code("49727002", "Cough (finding)") },
    AllergyDef { code: code("418689008", "Allergy to grass pollen"), category: "environment", reaction: code("21626009", "Cutaneous hypersensitivity (finding)") },
    AllergyDef { code: code("232350006", "House dust mite allergy"), category: "environment", reaction: code("76067001", "Sneezing (finding)") },
    AllergyDef { code: code("91935009", "Allergy to peanuts"), category: "food", reaction: code("39579001", "Anaphylaxis (disorder)") },
    AllergyDef { code: code("417532002", "Allergy to fish"), category: "food", reaction: code("247472004", "Wheal (finding)") },
    AllergyDef { code: code("300913006", "Shellfish allergy"), category: "food", reaction: code("271807003", "Eruption of skin (disorder)") },
    AllergyDef { code: code("91930004", "Allergy to eggs"), category: "food", reaction: code("878820003", "Rhinoconjunctivitis (disorder)") },
    AllergyDef { code: code("425525006", "Allergy to dairy product"), category: "food", reaction: code("62315008", "Diarrhea (finding)") },
    AllergyDef { code: code("91936005", "Allergy to penicillin"), category: "medication", reaction: code("247472004", "Wheal (finding)") },
    AllergyDef { code: code("294505008", "Allergy to sulfonamides"), category: "medication", reaction: code("271807003", "Eruption of skin (disorder)") },
    AllergyDef { code: code("300916003", "Latex allergy"), category: "environment", reaction: code("402387002", "Allergic angioedema (disorder)") },
];
