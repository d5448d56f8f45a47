//! Type names in expressions (`FHIR.Patient`, `System.String`, `Quantity`) and the type tests
//! of `is`, `as` and `ofType`: [`TypeRef`].

use medulla_model::{TypeDef, TypeKind, definitions};

use crate::syntax::ast::TypeSpecifier;
use crate::value::{TypeInfo, Value};

/// The System types of FHIRPath.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SystemType {
    Boolean,
    Integer,
    Decimal,
    String,
    Date,
    DateTime,
    Time,
    Quantity,
}

impl SystemType {
    fn from_name(name: &str) -> Option<SystemType> {
        Some(match name {
            "Boolean" => Self::Boolean,
            "Integer" => Self::Integer,
            "Decimal" => Self::Decimal,
            "String" => Self::String,
            "Date" => Self::Date,
            "DateTime" => Self::DateTime,
            "Time" => Self::Time,
            "Quantity" => Self::Quantity,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Boolean => "Boolean",
            Self::Integer => "Integer",
            Self::Decimal => "Decimal",
            Self::String => "String",
            Self::Date => "Date",
            Self::DateTime => "DateTime",
            Self::Time => "Time",
            Self::Quantity => "Quantity",
        }
    }

    fn of(value: &Value<'_>) -> Option<SystemType> {
        Some(match value {
            Value::Boolean(_) => Self::Boolean,
            Value::Integer(_) => Self::Integer,
            Value::Decimal(_) => Self::Decimal,
            Value::String(_) => Self::String,
            Value::Date(_) => Self::Date,
            Value::DateTime(_) => Self::DateTime,
            Value::Time(_) => Self::Time,
            Value::Quantity(_) => Self::Quantity,
            Value::Node(_) | Value::TypeInfo(_) => return None,
        })
    }
}

/// A type named in an expression, resolved against the R4 model and the System types.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TypeRef {
    /// The FHIR type, when the name is unqualified or `FHIR.`-qualified and R4 has it.
    fhir: Option<&'static TypeDef>,
    /// The System type, when the name is unqualified or `System.`-qualified and is one.
    system: Option<SystemType>,
}

impl TypeRef {
    /// Resolves a type specifier. `None` for an unknown unqualified or `FHIR.` name; an unknown
    /// `System.` name resolves to a type nothing has (`Patient.is(System.Patient)` is false).
    pub(crate) fn resolve(specifier: &TypeSpecifier) -> Option<TypeRef> {
        let name = specifier.name.as_str();
        let fhir = || {
            definitions()
                .type_def(name)
                .filter(|type_def| type_def.kind != TypeKind::Backbone)
        };
        match specifier.namespace.as_deref() {
            Some("System") => Some(TypeRef {
                fhir: None,
                system: SystemType::from_name(name),
            }),
            Some("FHIR") => Some(TypeRef {
                fhir: Some(fhir()?),
                system: None,
            }),
            Some(_) => None,
            None => {
                let resolved = TypeRef {
                    fhir: fhir(),
                    system: SystemType::from_name(name),
                };
                (resolved.fhir.is_some() || resolved.system.is_some()).then_some(resolved)
            }
        }
    }

    /// The FHIR type named, if any.
    pub(crate) fn fhir_type(&self) -> Option<&'static TypeDef> {
        self.fhir
    }

    /// Whether `value` is of this type. FHIR nodes match FHIR types and their ancestors
    /// (`Age` is a `Quantity`); with `exact`, as `as` and `ofType` need, a primitive must be
    /// of the very type (`code` is not `as(string)`). System values match System types only.
    pub(crate) fn matches(&self, value: &Value<'_>, exact: bool) -> bool {
        match value {
            Value::Node(node) => match (node.type_def, self.fhir) {
                (Some(actual), Some(wanted)) => {
                    if exact && actual.kind == TypeKind::Primitive {
                        actual.name == wanted.name
                    } else {
                        definitions().is_subtype_of(&actual.name, &wanted.name)
                    }
                }
                (None, _) => match (node.to_system(), self.system) {
                    (Some(system), Some(wanted)) => SystemType::of(&system) == Some(wanted),
                    _ => false,
                },
                _ => false,
            },
            other => self.system.is_some() && SystemType::of(other) == self.system,
        }
    }
}

/// `type()` of a value.
pub(crate) fn type_info(value: &Value<'_>) -> Option<TypeInfo> {
    match value {
        Value::Node(node) => match node.type_def {
            Some(type_def) => Some(TypeInfo {
                namespace: "FHIR",
                name: type_def.name.clone(),
            }),
            None => node.to_system().as_ref().and_then(type_info),
        },
        other => SystemType::of(other).map(|system| TypeInfo {
            namespace: "System",
            name: system.name().to_owned(),
        }),
    }
}
