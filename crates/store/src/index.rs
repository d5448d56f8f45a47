//! Search-index rows: the values of a resource's search parameters, typed so that each kind can
//! be compared the way FHIR search compares it. Rows belong to the current version only.

/// Every index row of one resource, grouped by kind. Each row names its search parameter by
/// code (`subject`, `_tag`, …); the resource type comes from the resource.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexRows {
    /// `string` parameters.
    pub strings: Vec<StringRow>,
    /// `token` parameters, plus `_tag`/`_security`, and identifier types for `:of-type`.
    pub tokens: Vec<TokenRow>,
    /// `date` parameters.
    pub dates: Vec<DateRow>,
    /// `number` parameters.
    pub numbers: Vec<NumberRow>,
    /// `quantity` parameters.
    pub quantities: Vec<QuantityRow>,
    /// `reference` parameters.
    pub references: Vec<ReferenceRow>,
    /// `uri` parameters, plus `_profile`/`_source`.
    pub uris: Vec<UriRow>,
    /// `composite` parameters: a token paired with a second value.
    pub composites: Vec<CompositeRow>,
    /// Narrative text (`_text`).
    pub text: Option<String>,
    /// All string content (`_content`).
    pub content: Option<String>,
}

impl IndexRows {
    /// Number of rows (full-text documents count one each).
    pub fn len(&self) -> usize {
        self.strings.len()
            + self.tokens.len()
            + self.dates.len()
            + self.numbers.len()
            + self.quantities.len()
            + self.references.len()
            + self.uris.len()
            + self.composites.len()
            + usize::from(self.text.is_some())
            + usize::from(self.content.is_some())
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A string value: `normalized` is lower-cased with accents removed (what default and
/// `:contains` searches compare); `exact` is as written (`:exact`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StringRow {
    /// Search parameter code.
    pub param: String,
    /// Lower case, accents removed.
    pub normalized: String,
    /// As written.
    pub exact: String,
}

/// A token: `system|code`, with the display or text (normalized) for `:text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    /// Search parameter code.
    pub param: String,
    /// The code system, if any.
    pub system: Option<String>,
    /// The code, if any (a CodeableConcept with only text has none).
    pub code: Option<String>,
    /// Display or text, normalized like strings.
    pub text: Option<String>,
}

/// A date, dateTime, instant, Period or Timing as a half-open range in microseconds since the
/// epoch; open ends are `i64::MIN` / `i64::MAX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateRow {
    /// Search parameter code.
    pub param: String,
    /// Inclusive start.
    pub low: i64,
    /// Exclusive end.
    pub high: i64,
}

/// A number.
#[derive(Debug, Clone, PartialEq)]
pub struct NumberRow {
    /// Search parameter code.
    pub param: String,
    /// The value.
    pub value: f64,
}

/// A quantity, as written and converted to its canonical UCUM unit where known.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantityRow {
    /// Search parameter code.
    pub param: String,
    /// The value as written.
    pub value: f64,
    /// Unit system (normally UCUM).
    pub system: Option<String>,
    /// Unit code as written (or the unit text when there is no code).
    pub code: Option<String>,
    /// Value in the canonical unit, when the unit is convertible.
    pub canonical_value: Option<f64>,
    /// The canonical UCUM unit (e.g. `g` for `mg`), when convertible.
    pub canonical_code: Option<String>,
}

/// A reference: local (`type`/`id`, optional version) or absolute/canonical (`url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceRow {
    /// Search parameter code.
    pub param: String,
    /// Target resource type, when known.
    pub target_type: Option<String>,
    /// Target id, for local references.
    pub target_id: Option<String>,
    /// Target version, for versioned references.
    pub target_version: Option<String>,
    /// The reference as an absolute URL or canonical, when it is not local.
    pub url: Option<String>,
}

/// A uri, url, canonical or oid value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriRow {
    /// Search parameter code.
    pub param: String,
    /// The value.
    pub uri: String,
}

/// The second component of a composite.
#[derive(Debug, Clone, PartialEq)]
pub enum CompositeValue {
    /// A token (`code-value-concept`).
    Token {
        /// Code system.
        system: Option<String>,
        /// Code.
        code: Option<String>,
    },
    /// A quantity (`code-value-quantity`), canonicalized like [`QuantityRow`].
    Quantity(QuantityRow),
    /// A date range (`code-value-date`).
    Date {
        /// Inclusive start.
        low: i64,
        /// Exclusive end.
        high: i64,
    },
    /// A string (`code-value-string`), normalized.
    String(String),
}

/// A composite value: the first component (a token) and the second.
#[derive(Debug, Clone, PartialEq)]
pub struct CompositeRow {
    /// Search parameter code.
    pub param: String,
    /// First component's system.
    pub system: Option<String>,
    /// First component's code.
    pub code: Option<String>,
    /// Second component.
    pub value: CompositeValue,
}
