//! The ECL parser: [`parse`], a hand-written recursive descent over the brief syntax, with
//! errors that give the character position and what was expected there.

use super::{
    Attribute, Cardinality, Expression, Focus, HierarchyOperator, Refinement, SubExpression,
};
use crate::Error;

const CONCRETE_VALUES: &str = "concrete values ('#5', '\"text\"') are not supported";
const MEMBER_FIELDS: &str = "member field selection ('^ [fields]') is not supported";
const FILTERS: &str = "filters ('{{ … }}') are not supported";
const DOTTED_ATTRIBUTES: &str = "dotted attributes ('expression . attribute') are not supported";

/// Parses ECL text.
///
/// ```
/// use medulla_terminology::ecl::{parse, Expression, HierarchyOperator};
///
/// let Expression::Minus(left, _) = parse("<< 73211009 |Diabetes mellitus| MINUS << 46635009")?
/// else { unreachable!() };
/// assert_eq!(left.operator, Some(HierarchyOperator::DescendantOrSelfOf));
///
/// let error = parse("<< 73211009 AND").unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     "invalid ECL '<< 73211009 AND' at character 16: expected a concept id, '*', '^' or '(' \
///      after 'AND', found the end"
/// );
/// # Ok::<(), medulla_terminology::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::InvalidEcl`], with the character position and what was expected there.
pub fn parse(text: &str) -> Result<Expression, Error> {
    let mut parser = Parser { text, position: 0 };
    let expression = parser.expression()?;
    parser.skip_space();
    if parser.position < text.len() {
        return Err(parser.error("expected AND, OR, MINUS, ':' or the end"));
    }
    Ok(expression)
}

struct Parser<'a> {
    text: &'a str,
    position: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        self.text.get(self.position..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    /// An error at the current position: `reason`, then what is there.
    fn error(&self, reason: &str) -> Error {
        let found = match self.rest() {
            "" => "the end".to_owned(),
            rest => {
                let token: String = rest
                    .chars()
                    .take_while(|c| !c.is_whitespace())
                    .take(20)
                    .collect();
                format!("'{token}'")
            }
        };
        self.error_at(self.position, &format!("{reason}, found {found}"))
    }

    /// ECL that is valid but uses a feature this evaluator does not have.
    fn not_supported(&self, feature: &'static str) -> Error {
        Error::EclNotSupported {
            expression: self.text.to_owned(),
            feature,
        }
    }

    /// A concrete value comparison: `#`, `"`, or `<`, `<=`, `>`, `>=` before `#`.
    fn is_at_concrete_comparison(&self) -> bool {
        let rest = self.rest();
        if rest.starts_with(['#', '"']) {
            return true;
        }
        let after_operator = rest
            .strip_prefix(">=")
            .or_else(|| rest.strip_prefix("<="))
            .or_else(|| rest.strip_prefix('>'))
            .or_else(|| rest.strip_prefix('<'));
        after_operator.is_some_and(|after| after.trim_start().starts_with(['#', '"']))
    }

    fn error_at(&self, position: usize, reason: &str) -> Error {
        Error::InvalidEcl {
            expression: self.text.to_owned(),
            position: self
                .text
                .get(..position)
                .map_or(0, |head| head.chars().count())
                + 1,
            reason: reason.to_owned(),
        }
    }

    /// Skips whitespace and `/* … */` comments.
    fn skip_space(&mut self) {
        loop {
            let rest = self.rest();
            let trimmed = rest.trim_start();
            self.position += rest.len() - trimmed.len();
            if let Some(comment) = trimmed.strip_prefix("/*") {
                match comment.find("*/") {
                    Some(end) => self.position += 2 + end + 2,
                    None => self.position = self.text.len(),
                }
            } else {
                return;
            }
        }
    }

    fn eat(&mut self, token: &str) -> bool {
        if self.rest().starts_with(token) {
            self.position += token.len();
            true
        } else {
            false
        }
    }

    /// A keyword (any case) followed by a space, `(`, a comment or the end.
    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let rest = self.rest();
        let Some(head) = rest.get(..keyword.len()) else {
            return false;
        };
        let after = rest.get(keyword.len()..).unwrap_or("");
        if head.eq_ignore_ascii_case(keyword)
            && after
                .chars()
                .next()
                .is_none_or(|c| c.is_whitespace() || c == '(' || c == '/')
        {
            self.position += keyword.len();
            true
        } else {
            false
        }
    }

    /// `AND`, `,`, `OR` or `MINUS` at the current position, not consumed.
    fn peek_connective(&mut self) -> Option<Connective> {
        let start = self.position;
        let found = if self.eat_keyword("AND") || self.eat(",") {
            Some(Connective::And)
        } else if self.eat_keyword("OR") {
            Some(Connective::Or)
        } else if self.eat_keyword("MINUS") {
            Some(Connective::Minus)
        } else {
            None
        };
        self.position = start;
        found
    }

    fn eat_connective(&mut self) -> Option<Connective> {
        let found = self.peek_connective()?;
        let _ = match found {
            Connective::And => self.eat_keyword("AND") || self.eat(","),
            Connective::Or => self.eat_keyword("OR"),
            Connective::Minus => self.eat_keyword("MINUS"),
        };
        Some(found)
    }

    fn expression(&mut self) -> Result<Expression, Error> {
        self.skip_space();
        let first = self.sub_expression("")?;
        self.skip_space();
        if self.eat(":") {
            self.skip_space();
            let refinement = self.refinement()?;
            return Ok(Expression::Refined(first, refinement));
        }
        let Some(connective) = self.eat_connective() else {
            return Ok(Expression::Sub(first));
        };
        let mut operands = vec![first];
        let mut current = connective;
        loop {
            self.skip_space();
            operands.push(self.sub_expression(current.word())?);
            self.skip_space();
            let at = self.position;
            let Some(next) = self.peek_connective() else {
                break;
            };
            if current == Connective::Minus || next != current {
                return Err(self.error_at(
                    at,
                    &format!(
                        "'{}' after '{}' needs parentheses to say which comes first",
                        next.word(),
                        current.word()
                    ),
                ));
            }
            self.eat_connective();
            current = next;
        }
        Ok(match connective {
            Connective::And => Expression::And(operands),
            Connective::Or => Expression::Or(operands),
            Connective::Minus => {
                let mut operands = operands.into_iter();
                match (operands.next(), operands.next()) {
                    (Some(left), Some(right)) => Expression::Minus(left, right),
                    _ => return Err(self.error("expected an expression after 'MINUS'")),
                }
            }
        })
    }

    /// `[operator] [^] focus`; `after` names what came before, for the error message.
    fn sub_expression(&mut self, after: &str) -> Result<SubExpression, Error> {
        let operator = self.hierarchy_operator();
        self.skip_space();
        let member_of = self.eat("^");
        self.skip_space();
        if member_of && self.rest().starts_with('[') {
            return Err(self.not_supported(MEMBER_FIELDS));
        }
        if member_of && self.rest().starts_with(['<', '>']) {
            return Err(self.error(
                "expected a concept id, '*' or '(' after '^' (a hierarchy operator on the \
                 reference set needs parentheses: '^ (<< id)')",
            ));
        }
        let focus = if self.eat("*") {
            Focus::Wildcard
        } else if self.eat("(") {
            let nested = self.expression()?;
            self.skip_space();
            if !self.eat(")") {
                return Err(self.error("expected ')' to close '('"));
            }
            Focus::Nested(Box::new(nested))
        } else if self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.concept_reference()?
        } else {
            let context = if after.is_empty() {
                String::new()
            } else {
                format!(" after '{after}'")
            };
            let allowed = if operator.is_none() && !member_of {
                "a concept id, '*', '^' or '('"
            } else {
                "a concept id, '*' or '('"
            };
            return Err(self.error(&format!("expected {allowed}{context}")));
        };
        let after_focus = self.position;
        self.skip_space();
        if self.rest().starts_with("{{") {
            return Err(self.not_supported(FILTERS));
        }
        if self.rest().starts_with('.') {
            return Err(self.not_supported(DOTTED_ATTRIBUTES));
        }
        self.position = after_focus;
        Ok(SubExpression {
            operator,
            member_of,
            focus,
        })
    }

    fn hierarchy_operator(&mut self) -> Option<HierarchyOperator> {
        // Longest first: "<<!" before "<<" before "<!" before "<".
        const OPERATORS: [(&str, HierarchyOperator); 8] = [
            ("<<!", HierarchyOperator::ChildOrSelfOf),
            ("<<", HierarchyOperator::DescendantOrSelfOf),
            ("<!", HierarchyOperator::ChildOf),
            ("<", HierarchyOperator::DescendantOf),
            (">>!", HierarchyOperator::ParentOrSelfOf),
            (">>", HierarchyOperator::AncestorOrSelfOf),
            (">!", HierarchyOperator::ParentOf),
            (">", HierarchyOperator::AncestorOf),
        ];
        OPERATORS
            .iter()
            .find(|(symbol, _)| self.eat(symbol))
            .map(|&(_, operator)| operator)
    }

    fn concept_reference(&mut self) -> Result<Focus, Error> {
        let start = self.position;
        let digits = self.rest().chars().take_while(char::is_ascii_digit).count();
        self.position += digits;
        let id = self.text.get(start..self.position).unwrap_or("").to_owned();
        if !(6..=18).contains(&digits) {
            return Err(self.error_at(
                start,
                &format!("'{id}' is not a concept id (an SCTID has 6 to 18 digits)"),
            ));
        }
        if self.peek().is_some_and(|c| c.is_alphanumeric()) {
            return Err(self.error("expected a space, '|' or an operator after the concept id"));
        }
        let before_term = self.position;
        self.skip_space();
        let term = if self.eat("|") {
            let Some(end) = self.rest().find('|') else {
                return Err(self.error_at(self.position - 1, "the term's '|' is not closed"));
            };
            let term = self.rest().get(..end).unwrap_or("").trim().to_owned();
            self.position += end + 1;
            Some(term)
        } else {
            self.position = before_term;
            None
        };
        Ok(Focus::Concept { id, term })
    }

    fn refinement(&mut self) -> Result<Refinement, Error> {
        let first = self.sub_refinement()?;
        self.skip_space();
        let Some(connective) = self.peek_connective() else {
            return Ok(first);
        };
        if connective == Connective::Minus {
            return Err(self.error("expected AND, OR or the end of the refinement"));
        }
        let mut parts = vec![first];
        while let Some(next) = self.peek_connective() {
            if next != connective {
                return Err(self.error(&format!(
                    "'{}' after '{}' needs parentheses to say which comes first",
                    next.word(),
                    connective.word()
                )));
            }
            self.eat_connective();
            self.skip_space();
            parts.push(self.sub_refinement()?);
            self.skip_space();
        }
        Ok(match connective {
            Connective::Or => Refinement::Or(parts),
            _ => Refinement::And(parts),
        })
    }

    fn sub_refinement(&mut self) -> Result<Refinement, Error> {
        self.skip_space();
        let start = self.position;
        let cardinality = self.cardinality()?;
        self.skip_space();
        if self.eat("{") {
            let refinement = self.refinement()?;
            self.skip_space();
            if !self.eat("}") {
                return Err(self.error("expected '}' to close the attribute group"));
            }
            return Ok(Refinement::Group {
                cardinality,
                refinement: Box::new(refinement),
            });
        }
        if cardinality.is_none() && self.peek() == Some('(') {
            // "( refinement )", or an attribute whose name is a nested expression: try the
            // first, fall back to the second.
            self.position += 1;
            if let Ok(refinement) = self.refinement() {
                self.skip_space();
                if self.eat(")") {
                    return Ok(refinement);
                }
            }
            self.position = start;
        }
        self.attribute(cardinality)
    }

    fn attribute(&mut self, cardinality: Option<Cardinality>) -> Result<Refinement, Error> {
        self.skip_space();
        let reverse = {
            let rest = self.rest();
            let is_flag = rest.starts_with('R')
                && rest
                    .get(1..)
                    .and_then(|after| after.chars().next())
                    .is_some_and(|c| c.is_whitespace() || "<>(*^0123456789".contains(c));
            if is_flag {
                self.position += 1;
            }
            is_flag
        };
        self.skip_space();
        let name = self.sub_expression("")?;
        self.skip_space();
        let negated = if self.eat("!=") {
            true
        } else if self.eat("=") {
            false
        } else if self.is_at_concrete_comparison() {
            return Err(self.not_supported(CONCRETE_VALUES));
        } else {
            return Err(self.error("expected '=' or '!=' after the attribute name"));
        };
        self.skip_space();
        if self.rest().starts_with(['#', '"']) {
            return Err(self.not_supported(CONCRETE_VALUES));
        }
        let value = self.sub_expression(if negated { "!=" } else { "=" })?;
        Ok(Refinement::Attribute(Attribute {
            cardinality,
            reverse,
            name,
            negated,
            value,
        }))
    }

    /// `[min..max]`, if there.
    fn cardinality(&mut self) -> Result<Option<Cardinality>, Error> {
        if !self.eat("[") {
            return Ok(None);
        }
        let number = |parser: &mut Parser<'_>| -> Option<u32> {
            let digits = parser
                .rest()
                .chars()
                .take_while(char::is_ascii_digit)
                .count();
            let value = parser.rest().get(..digits)?.parse().ok()?;
            parser.position += digits;
            Some(value)
        };
        self.skip_space();
        let Some(min) = number(self) else {
            return Err(self.error("expected a number in the cardinality"));
        };
        self.skip_space();
        if !self.eat("..") {
            return Err(self.error("expected '..' in the cardinality"));
        }
        self.skip_space();
        let max_at = self.position;
        let max = if self.eat("*") {
            None
        } else {
            match number(self) {
                Some(max) if max >= min => Some(max),
                Some(max) => {
                    return Err(self.error_at(
                        max_at,
                        &format!("the cardinality's maximum {max} is below its minimum {min}"),
                    ));
                }
                None => return Err(self.error("expected a number or '*' in the cardinality")),
            }
        };
        self.skip_space();
        if !self.eat("]") {
            return Err(self.error("expected ']' to close the cardinality"));
        }
        Ok(Some(Cardinality { min, max }))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Connective {
    And,
    Or,
    Minus,
}

impl Connective {
    fn word(self) -> &'static str {
        match self {
            Connective::And => "AND",
            Connective::Or => "OR",
            Connective::Minus => "MINUS",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn parses_hierarchy_operators_terms_and_compounds() {
        let expression = parse("<<! 404684003 |Clinical finding (finding)|").unwrap();
        let Expression::Sub(sub) = expression else {
            panic!("{expression:?}")
        };
        assert_eq!(sub.operator, Some(HierarchyOperator::ChildOrSelfOf));
        assert_eq!(
            sub.focus,
            Focus::Concept {
                id: "404684003".into(),
                term: Some("Clinical finding (finding)".into())
            }
        );
        for (text, operator) in [
            ("<73211009", HierarchyOperator::DescendantOf),
            ("<< 73211009", HierarchyOperator::DescendantOrSelfOf),
            ("<!73211009", HierarchyOperator::ChildOf),
            (">73211009", HierarchyOperator::AncestorOf),
            (">>73211009", HierarchyOperator::AncestorOrSelfOf),
            (">! 73211009", HierarchyOperator::ParentOf),
            (">>!73211009", HierarchyOperator::ParentOrSelfOf),
        ] {
            let Ok(Expression::Sub(sub)) = parse(text) else {
                panic!("{text}")
            };
            assert_eq!(sub.operator, Some(operator), "{text}");
            assert_eq!(
                operator.symbol(),
                text.trim_end_matches(|c: char| c.is_ascii_digit()).trim()
            );
        }
        assert!(
            matches!(parse("<< 1234567 and << 7654321").unwrap(), Expression::And(v) if v.len() == 2)
        );
        assert!(
            matches!(parse("1234567, 7654321 , 9876543").unwrap(), Expression::And(v) if v.len() == 3)
        );
        assert!(
            matches!(parse("1234567 OR 7654321 OR *").unwrap(), Expression::Or(v) if v.len() == 3)
        );
        assert!(matches!(
            parse("<<1234567 MINUS (<1234567 OR 7654321)").unwrap(),
            Expression::Minus(..)
        ));
        assert!(
            matches!(parse("^ 700043003 /* a refset */").unwrap(), Expression::Sub(s) if s.member_of)
        );
    }

    #[test]
    fn parses_refinements() {
        let expression = parse(
            "< 19829001 |Disorder of lung| : 116676008 |Associated morphology| = << 79654002",
        )
        .unwrap();
        let Expression::Refined(_, Refinement::Attribute(attribute)) = expression else {
            panic!("{expression:?}")
        };
        assert!(!attribute.negated && !attribute.reverse);
        assert_eq!(
            attribute.value.operator,
            Some(HierarchyOperator::DescendantOrSelfOf)
        );
        let grouped = parse(
            "< 404684003 : [1..3] { 363698007 = << 39057004, 116676008 != << 415582006 } OR \
             R 363698007 = *",
        )
        .unwrap();
        let Expression::Refined(_, Refinement::Or(parts)) = grouped else {
            panic!("{grouped:?}")
        };
        assert!(matches!(
            &parts[0],
            Refinement::Group {
                cardinality: Some(Cardinality {
                    min: 1,
                    max: Some(3)
                }),
                ..
            }
        ));
        assert!(matches!(&parts[1], Refinement::Attribute(a) if a.reverse));
        assert!(parse("<404684003 : (363698007 = 39057004 AND 116676008 = 415582006)").is_ok());
        assert!(parse("<404684003 : [0..*] (<< 363698007) = 39057004").is_ok());
    }

    #[test]
    fn unsupported_features_are_named() {
        for (text, feature) in [
            ("< 404684003 : 363698007 = #5", CONCRETE_VALUES),
            ("< 404684003 : 363698007 >= #5", CONCRETE_VALUES),
            ("< 404684003 : 363698007 < #5", CONCRETE_VALUES),
            ("< 404684003 : 363698007 = \"left\"", CONCRETE_VALUES),
            ("^ [referencedComponentId] 700043003", MEMBER_FIELDS),
            ("< 404684003 {{ term = \"heart\" }}", FILTERS),
            ("< 404684003 . 363698007", DOTTED_ATTRIBUTES),
            ("(< 404684003).363698007", DOTTED_ATTRIBUTES),
        ] {
            let error = parse(text).unwrap_err();
            assert!(
                matches!(&error, Error::EclNotSupported { feature: found, .. } if *found == feature),
                "{text}: {error}"
            );
            assert_eq!(
                error.to_string(),
                format!("ECL '{text}' cannot be evaluated: {feature}")
            );
        }
    }

    #[test]
    fn errors_say_where_and_what_was_expected() {
        assert_eq!(
            message("<< 73211009 AND"),
            "invalid ECL '<< 73211009 AND' at character 16: expected a concept id, '*', '^' or \
             '(' after 'AND', found the end"
        );
        assert_eq!(
            message("<< 7321"),
            "invalid ECL '<< 7321' at character 4: '7321' is not a concept id (an SCTID has 6 to \
             18 digits)"
        );
        assert_eq!(
            message("<< 73211009 AND < 404684003 OR 64572001"),
            "invalid ECL '<< 73211009 AND < 404684003 OR 64572001' at character 29: 'OR' after \
             'AND' needs parentheses to say which comes first"
        );
        assert_eq!(
            message("<< 73211009 MINUS 46635009 MINUS 44054006"),
            "invalid ECL '<< 73211009 MINUS 46635009 MINUS 44054006' at character 28: 'MINUS' \
             after 'MINUS' needs parentheses to say which comes first"
        );
        assert_eq!(
            message("(<< 73211009"),
            "invalid ECL '(<< 73211009' at character 13: expected ')' to close '(', found the end"
        );
        assert_eq!(
            message("73211009 |Diabetes"),
            "invalid ECL '73211009 |Diabetes' at character 10: the term's '|' is not closed"
        );
        assert_eq!(
            message("< 404684003 : 363698007 39057004"),
            "invalid ECL '< 404684003 : 363698007 39057004' at character 25: expected '=' or '!=' \
             after the attribute name, found '39057004'"
        );
        assert_eq!(
            message("< 404684003 : [3..] {363698007 = *}"),
            "invalid ECL '< 404684003 : [3..] {363698007 = *}' at character 19: expected a \
             number or '*' in the cardinality, found ']'"
        );
        assert_eq!(
            message("< 404684003 : {363698007 = *"),
            "invalid ECL '< 404684003 : {363698007 = *' at character 29: expected '}' to close \
             the attribute group, found the end"
        );
        assert_eq!(
            message("< 404684003 : 363698007 = << 39057004 MINUS 116676008 = *"),
            "invalid ECL '< 404684003 : 363698007 = << 39057004 MINUS 116676008 = *' at \
             character 39: expected AND, OR or the end of the refinement, found 'MINUS'"
        );
        assert_eq!(
            message("^ << 723264001"),
            "invalid ECL '^ << 723264001' at character 3: expected a concept id, '*' or '(' after \
             '^' (a hierarchy operator on the reference set needs parentheses: '^ (<< id)'), \
             found '<<'"
        );
        assert_eq!(
            message("< 404684003 : [3..1] {363698007 = *}"),
            "invalid ECL '< 404684003 : [3..1] {363698007 = *}' at character 19: the \
             cardinality's maximum 1 is below its minimum 3"
        );
        assert_eq!(
            message("<< 73211009 foo"),
            "invalid ECL '<< 73211009 foo' at character 13: expected AND, OR, MINUS, ':' or the \
             end, found 'foo'"
        );
        assert_eq!(
            message("<< diabetes"),
            "invalid ECL '<< diabetes' at character 4: expected a concept id, '*' or '(', found \
             'diabetes'"
        );
        assert_eq!(
            message(""),
            "invalid ECL '' at character 1: expected a concept id, '*', '^' or '(', found the end"
        );
    }
}
