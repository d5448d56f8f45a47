//! The syntax tree: [`Expression`], [`ExpressionKind`], printed back to text by `Display`.

use std::fmt;

/// A range of character offsets into the expression text.
#[derive(Debug, Clone, Copy, Default)]
pub struct Span {
    /// Offset of the first character.
    pub start: usize,
    /// Offset one past the last character.
    pub end: usize,
}

/// Spans never take part in comparisons: two trees are equal when their structure is, so a tree
/// printed and parsed again compares equal to the original.
impl PartialEq for Span {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

/// A node of the syntax tree with its place in the source.
#[derive(Debug, Clone, PartialEq)]
pub struct Expression {
    /// What the node is.
    pub kind: ExpressionKind,
    /// Where it is in the source text.
    pub span: Span,
}

/// The forms a FHIRPath expression can take.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ExpressionKind {
    /// A literal: `{}`, `true`, `'text'`, `12`, `1.5`, `@2020-01-01`, `@T12:00`, `4 'mg'`.
    Literal(Literal),
    /// An identifier used as a path step: `name`, `` `given` ``.
    Identifier(String),
    /// A function invocation on the current input: `exists()`, `where(use = 'official')`.
    Function {
        /// The function name as written.
        name: String,
        /// The argument expressions, unevaluated.
        arguments: Vec<Expression>,
    },
    /// `target.member`, where member is an identifier or function invocation.
    Invocation {
        /// The expression whose result is the member's input.
        target: Box<Expression>,
        /// An [`ExpressionKind::Identifier`] or [`ExpressionKind::Function`].
        member: Box<Expression>,
    },
    /// `target[index]`.
    Indexer {
        /// The collection indexed.
        target: Box<Expression>,
        /// The index expression.
        index: Box<Expression>,
    },
    /// `+operand` or `-operand`.
    Polarity {
        /// `true` for `-`.
        negate: bool,
        /// The operand.
        operand: Box<Expression>,
    },
    /// A binary operator.
    Binary {
        /// The operator.
        operator: BinaryOperator,
        /// Left operand.
        left: Box<Expression>,
        /// Right operand.
        right: Box<Expression>,
    },
    /// `operand is Type` or `operand as Type`.
    TypeOperation {
        /// `true` for `as`, `false` for `is`.
        is_cast: bool,
        /// The operand.
        operand: Box<Expression>,
        /// The type named.
        type_name: TypeSpecifier,
    },
    /// `$this`.
    This,
    /// `$index`.
    Index,
    /// `$total`.
    Total,
    /// `%name`, `` %`vs-name` `` or `%'name'`.
    Variable(String),
}

/// A possibly qualified type name: `Quantity`, `FHIR.Patient`, `System.String`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeSpecifier {
    /// `FHIR`, `System`, or `None` when unqualified.
    pub namespace: Option<String>,
    /// The type name.
    pub name: String,
}

/// Literal values as written in the source.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Literal {
    /// `{}`.
    Empty,
    /// `true` or `false`.
    Boolean(bool),
    /// A string literal, escapes resolved.
    String(String),
    /// An integer literal, as written (digits only).
    Integer(String),
    /// A decimal literal, as written.
    Decimal(String),
    /// A date literal without the `@`: `2020-01`.
    Date(String),
    /// A date-time literal without the `@`: `2020-01-01T10:00`, `2015T`.
    DateTime(String),
    /// A time literal without the `@T`: `10:00:00.000`.
    Time(String),
    /// A quantity: a number (as written) and a unit, which is either a quoted UCUM unit or a
    /// calendar duration word (`days`).
    Quantity {
        /// The number as written.
        value: String,
        /// The unit without quotes.
        unit: String,
        /// Whether the unit was a calendar word rather than a quoted string.
        is_calendar_word: bool,
    },
}

/// Binary operators, by the spec's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BinaryOperator {
    /// `*`
    Multiply,
    /// `/`
    Divide,
    /// `div`
    Div,
    /// `mod`
    Mod,
    /// `+`
    Add,
    /// `-`
    Subtract,
    /// `&`
    Concatenate,
    /// `|`
    Union,
    /// `<`
    LessThan,
    /// `<=`
    LessOrEqual,
    /// `>`
    GreaterThan,
    /// `>=`
    GreaterOrEqual,
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `~`
    Equivalent,
    /// `!~`
    NotEquivalent,
    /// `in`
    In,
    /// `contains`
    Contains,
    /// `and`
    And,
    /// `or`
    Or,
    /// `xor`
    Xor,
    /// `implies`
    Implies,
}

impl BinaryOperator {
    /// The operator's text.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Multiply => "*",
            Self::Divide => "/",
            Self::Div => "div",
            Self::Mod => "mod",
            Self::Add => "+",
            Self::Subtract => "-",
            Self::Concatenate => "&",
            Self::Union => "|",
            Self::LessThan => "<",
            Self::LessOrEqual => "<=",
            Self::GreaterThan => ">",
            Self::GreaterOrEqual => ">=",
            Self::Equal => "=",
            Self::NotEqual => "!=",
            Self::Equivalent => "~",
            Self::NotEquivalent => "!~",
            Self::In => "in",
            Self::Contains => "contains",
            Self::And => "and",
            Self::Or => "or",
            Self::Xor => "xor",
            Self::Implies => "implies",
        }
    }

    /// Binding power: higher binds tighter. `is`/`as` sit at [`TYPE_OPERATOR_PRECEDENCE`],
    /// between additive operators and union; polarity and postfix forms bind tighter than all.
    pub(crate) fn precedence(self) -> u8 {
        match self {
            Self::Multiply | Self::Divide | Self::Div | Self::Mod => 9,
            Self::Add | Self::Subtract | Self::Concatenate => 8,
            Self::Union => 6,
            Self::LessThan | Self::LessOrEqual | Self::GreaterThan | Self::GreaterOrEqual => 5,
            Self::Equal | Self::NotEqual | Self::Equivalent | Self::NotEquivalent => 4,
            Self::In | Self::Contains => 3,
            Self::And => 2,
            Self::Or | Self::Xor => 1,
            Self::Implies => 0,
        }
    }
}

/// Precedence of `is` and `as`.
pub(crate) const TYPE_OPERATOR_PRECEDENCE: u8 = 7;
/// Precedence of unary `+` and `-`.
pub(crate) const POLARITY_PRECEDENCE: u8 = 10;

impl fmt::Display for TypeSpecifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(namespace) = &self.namespace {
            write_identifier(f, namespace)?;
            f.write_str(".")?;
        }
        write_identifier(f, &self.name)
    }
}

const KEYWORDS: &[&str] = &[
    "and", "or", "xor", "implies", "div", "mod", "in", "contains", "is", "as", "true", "false",
];

fn write_identifier(f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
    let is_plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !KEYWORDS.contains(&name);
    if is_plain {
        f.write_str(name)
    } else {
        f.write_str("`")?;
        for c in name.chars() {
            write_escaped_char(f, c, '`')?;
        }
        f.write_str("`")
    }
}

fn write_escaped_char(f: &mut fmt::Formatter<'_>, c: char, quote: char) -> fmt::Result {
    match c {
        '\\' => f.write_str("\\\\"),
        '\n' => f.write_str("\\n"),
        '\r' => f.write_str("\\r"),
        '\t' => f.write_str("\\t"),
        '\u{c}' => f.write_str("\\f"),
        c if c == quote => write!(f, "\\{c}"),
        c if c.is_control() => write!(f, "\\u{:04x}", u32::from(c)),
        c => write!(f, "{c}"),
    }
}

fn write_string(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    f.write_str("'")?;
    for c in text.chars() {
        write_escaped_char(f, c, '\'')?;
    }
    f.write_str("'")
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("{}"),
            Self::Boolean(value) => write!(f, "{value}"),
            Self::String(text) => write_string(f, text),
            Self::Integer(text) | Self::Decimal(text) => f.write_str(text),
            Self::Date(text) | Self::DateTime(text) => write!(f, "@{text}"),
            Self::Time(text) => write!(f, "@T{text}"),
            Self::Quantity {
                value,
                unit,
                is_calendar_word,
            } => {
                f.write_str(value)?;
                f.write_str(" ")?;
                if *is_calendar_word {
                    f.write_str(unit)
                } else {
                    write_string(f, unit)
                }
            }
        }
    }
}

/// Prints the expression back as FHIRPath text. Every operator application is parenthesised,
/// so the text parses back to an equal tree whatever the precedences.
impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExpressionKind::Literal(literal) => write!(f, "{literal}"),
            ExpressionKind::Identifier(name) => write_identifier(f, name),
            ExpressionKind::Function { name, arguments } => {
                write_identifier(f, name)?;
                f.write_str("(")?;
                for (position, argument) in arguments.iter().enumerate() {
                    if position > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{argument}")?;
                }
                f.write_str(")")
            }
            ExpressionKind::Invocation { target, member } => {
                write_postfix_target(f, target)?;
                write!(f, ".{member}")
            }
            ExpressionKind::Indexer { target, index } => {
                write_postfix_target(f, target)?;
                write!(f, "[{index}]")
            }
            ExpressionKind::Polarity { negate, operand } => {
                write!(f, "({}{operand})", if *negate { "-" } else { "+" })
            }
            ExpressionKind::Binary {
                operator,
                left,
                right,
            } => write!(f, "({left} {} {right})", operator.symbol()),
            ExpressionKind::TypeOperation {
                is_cast,
                operand,
                type_name,
            } => write!(
                f,
                "({operand} {} {type_name})",
                if *is_cast { "as" } else { "is" }
            ),
            ExpressionKind::This => f.write_str("$this"),
            ExpressionKind::Index => f.write_str("$index"),
            ExpressionKind::Total => f.write_str("$total"),
            ExpressionKind::Variable(name) => {
                f.write_str("%")?;
                write_identifier(f, name)
            }
        }
    }
}

/// A literal number or quantity before `.` would read as part of the number (`1.is(...)`
/// is fine, but a decimal then `.` is too), so literals are parenthesised as targets.
fn write_postfix_target(f: &mut fmt::Formatter<'_>, target: &Expression) -> fmt::Result {
    match &target.kind {
        ExpressionKind::Literal(_) => write!(f, "({target})"),
        _ => write!(f, "{target}"),
    }
}
