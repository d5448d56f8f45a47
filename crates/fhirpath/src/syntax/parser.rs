//! A Pratt parser from tokens to an [`Expression`] tree.

use crate::error::{Error, Result};
use crate::syntax::ast::{
    BinaryOperator, Expression, ExpressionKind, Literal, POLARITY_PRECEDENCE, Span,
    TYPE_OPERATOR_PRECEDENCE, TypeSpecifier,
};
use crate::syntax::lexer::{Token, TokenKind, tokenize};

/// Deepest syntax tree accepted. Evaluation recurses once per level, so this bounds the stack
/// an expression can use; real expressions (the R4 search parameters included) stay under 64.
pub const MAX_DEPTH: usize = 100;

/// The calendar duration words that may follow a number to make a quantity.
pub(crate) const CALENDAR_WORDS: &[&str] = &[
    "year",
    "years",
    "month",
    "months",
    "week",
    "weeks",
    "day",
    "days",
    "hour",
    "hours",
    "minute",
    "minutes",
    "second",
    "seconds",
    "millisecond",
    "milliseconds",
];

/// Parses FHIRPath text into a syntax tree.
///
/// # Errors
///
/// [`Error::Syntax`] with the character position of the first problem, including trees nested
/// deeper than [`MAX_DEPTH`].
pub fn parse(text: &str) -> Result<Expression> {
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        tokens: &tokens,
        position: 0,
    };
    let (expression, _) = parser.expression(0, 0)?;
    let token = parser.peek();
    if token.kind != TokenKind::End {
        return Err(Error::Syntax {
            position: token.span.start,
            message: format!("unexpected {}", describe(&token.kind)),
        });
    }
    Ok(expression)
}

struct Parser<'t> {
    tokens: &'t [Token],
    position: usize,
}

fn describe(kind: &TokenKind) -> String {
    match kind {
        TokenKind::Identifier(name) => format!("'{name}'"),
        TokenKind::DelimitedIdentifier(name) => format!("'`{name}`'"),
        TokenKind::String(text) => format!("string '{text}'"),
        TokenKind::Integer(text) | TokenKind::Decimal(text) => format!("number {text}"),
        TokenKind::Date(text) | TokenKind::DateTime(text) => format!("'@{text}'"),
        TokenKind::Time(text) => format!("'@T{text}'"),
        TokenKind::Special(name) => format!("'${name}'"),
        TokenKind::Variable(name) => format!("'%{name}'"),
        TokenKind::Symbol(symbol) => format!("'{symbol}'"),
        TokenKind::End => "end of expression".to_owned(),
    }
}

fn binary_operator(kind: &TokenKind) -> Option<BinaryOperator> {
    Some(match kind {
        TokenKind::Symbol(symbol) => match *symbol {
            "*" => BinaryOperator::Multiply,
            "/" => BinaryOperator::Divide,
            "+" => BinaryOperator::Add,
            "-" => BinaryOperator::Subtract,
            "&" => BinaryOperator::Concatenate,
            "|" => BinaryOperator::Union,
            "<" => BinaryOperator::LessThan,
            "<=" => BinaryOperator::LessOrEqual,
            ">" => BinaryOperator::GreaterThan,
            ">=" => BinaryOperator::GreaterOrEqual,
            "=" => BinaryOperator::Equal,
            "!=" => BinaryOperator::NotEqual,
            "~" => BinaryOperator::Equivalent,
            "!~" => BinaryOperator::NotEquivalent,
            _ => return None,
        },
        TokenKind::Identifier(name) => match name.as_str() {
            "div" => BinaryOperator::Div,
            "mod" => BinaryOperator::Mod,
            "in" => BinaryOperator::In,
            "contains" => BinaryOperator::Contains,
            "and" => BinaryOperator::And,
            "or" => BinaryOperator::Or,
            "xor" => BinaryOperator::Xor,
            "implies" => BinaryOperator::Implies,
            _ => return None,
        },
        _ => return None,
    })
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        // `tokenize` always ends the list with `End`, and `advance` never moves past it.
        let last = self.tokens.len().saturating_sub(1);
        &self.tokens[self.position.min(last)]
    }

    fn peek_at(&self, ahead: usize) -> Option<&Token> {
        self.tokens.get(self.position + ahead)
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if token.kind != TokenKind::End {
            self.position += 1;
        }
        token
    }

    fn error_here(&self, message: impl Into<String>) -> Error {
        Error::Syntax {
            position: self.peek().span.start,
            message: message.into(),
        }
    }

    fn expect_symbol(&mut self, symbol: &str) -> Result<Token> {
        if self.peek().kind == TokenKind::Symbol(symbol_static(symbol)) {
            Ok(self.advance())
        } else {
            Err(self.error_here(format!(
                "expected '{symbol}', found {}",
                describe(&self.peek().kind)
            )))
        }
    }

    fn check_depth(&self, depth: usize, start: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(Error::Syntax {
                position: start,
                message: format!("expression nested deeper than {MAX_DEPTH} levels"),
            });
        }
        Ok(())
    }

    /// Parses an expression whose operators all bind at least as tight as `min_precedence`.
    /// Returns the tree and its depth.
    fn expression(&mut self, min_precedence: u8, depth: usize) -> Result<(Expression, usize)> {
        let start = self.peek().span.start;
        self.check_depth(depth, start)?;
        let (mut left, mut left_depth) = self.prefix(depth)?;
        loop {
            let token = self.peek().clone();
            let end_of = |expression: &Expression| expression.span.end;
            if token.kind == TokenKind::Symbol(".") {
                self.advance();
                let (member, member_depth) = self.member(depth)?;
                left_depth = left_depth.max(member_depth) + 1;
                self.check_depth(left_depth, start)?;
                let span = Span {
                    start,
                    end: end_of(&member),
                };
                left = Expression {
                    kind: ExpressionKind::Invocation {
                        target: Box::new(left),
                        member: Box::new(member),
                    },
                    span,
                };
                continue;
            }
            if token.kind == TokenKind::Symbol("[") {
                self.advance();
                let (index, index_depth) = self.expression(0, depth + 1)?;
                let close = self.expect_symbol("]")?;
                left_depth = left_depth.max(index_depth) + 1;
                self.check_depth(left_depth, start)?;
                left = Expression {
                    kind: ExpressionKind::Indexer {
                        target: Box::new(left),
                        index: Box::new(index),
                    },
                    span: Span {
                        start,
                        end: close.span.end,
                    },
                };
                continue;
            }
            let is_type_operator =
                matches!(&token.kind, TokenKind::Identifier(name) if name == "is" || name == "as");
            if is_type_operator {
                if TYPE_OPERATOR_PRECEDENCE < min_precedence {
                    break;
                }
                self.advance();
                let type_name = self.type_specifier()?;
                left_depth += 1;
                self.check_depth(left_depth, start)?;
                let end = self.tokens[self.position.saturating_sub(1)].span.end;
                left = Expression {
                    kind: ExpressionKind::TypeOperation {
                        is_cast: matches!(&token.kind, TokenKind::Identifier(name) if name == "as"),
                        operand: Box::new(left),
                        type_name,
                    },
                    span: Span { start, end },
                };
                continue;
            }
            let Some(operator) = binary_operator(&token.kind) else {
                break;
            };
            let precedence = operator.precedence();
            if precedence < min_precedence {
                break;
            }
            self.advance();
            let (right, right_depth) = self.expression(precedence + 1, depth + 1)?;
            left_depth = left_depth.max(right_depth) + 1;
            self.check_depth(left_depth, start)?;
            let span = Span {
                start,
                end: right.span.end,
            };
            left = Expression {
                kind: ExpressionKind::Binary {
                    operator,
                    left: Box::new(left),
                    right: Box::new(right),
                },
                span,
            };
        }
        Ok((left, left_depth))
    }

    fn type_specifier(&mut self) -> Result<TypeSpecifier> {
        let first = self.identifier_name()?;
        if self.peek().kind == TokenKind::Symbol(".")
            && self.peek_at(1).is_some_and(|token| {
                matches!(
                    token.kind,
                    TokenKind::Identifier(_) | TokenKind::DelimitedIdentifier(_)
                )
            })
            && self
                .peek_at(2)
                .is_none_or(|token| token.kind != TokenKind::Symbol("("))
        {
            self.advance();
            let name = self.identifier_name()?;
            return Ok(TypeSpecifier {
                namespace: Some(first),
                name,
            });
        }
        Ok(TypeSpecifier {
            namespace: None,
            name: first,
        })
    }

    fn identifier_name(&mut self) -> Result<String> {
        match self.peek().kind.clone() {
            TokenKind::Identifier(name) | TokenKind::DelimitedIdentifier(name) => {
                self.advance();
                Ok(name)
            }
            other => {
                Err(self.error_here(format!("expected a type name, found {}", describe(&other))))
            }
        }
    }

    /// An identifier or function call after `.`.
    fn member(&mut self, nesting: usize) -> Result<(Expression, usize)> {
        let token = self.peek().clone();
        match token.kind {
            TokenKind::Identifier(name) | TokenKind::DelimitedIdentifier(name) => {
                self.advance();
                if self.peek().kind == TokenKind::Symbol("(") {
                    self.function_call(name, token.span.start, nesting)
                } else {
                    Ok((
                        Expression {
                            kind: ExpressionKind::Identifier(name),
                            span: token.span,
                        },
                        1,
                    ))
                }
            }
            other => Err(self.error_here(format!(
                "expected a name after '.', found {}",
                describe(&other)
            ))),
        }
    }

    /// Parses `(arguments)` after a function name; `nesting` is the parser's recursion depth.
    fn function_call(
        &mut self,
        name: String,
        start: usize,
        nesting: usize,
    ) -> Result<(Expression, usize)> {
        self.expect_symbol("(")?;
        let mut arguments = Vec::new();
        let mut depth = 1;
        if self.peek().kind != TokenKind::Symbol(")") {
            loop {
                let (argument, argument_depth) = self.expression(0, nesting + 1)?;
                depth = depth.max(argument_depth + 1);
                arguments.push(argument);
                if self.peek().kind == TokenKind::Symbol(",") {
                    self.advance();
                } else {
                    break;
                }
            }
        }
        let close = self.expect_symbol(")")?;
        Ok((
            Expression {
                kind: ExpressionKind::Function { name, arguments },
                span: Span {
                    start,
                    end: close.span.end,
                },
            },
            depth,
        ))
    }

    fn prefix(&mut self, depth: usize) -> Result<(Expression, usize)> {
        let token = self.advance();
        let span = token.span;
        let literal = |literal: Literal| {
            Ok((
                Expression {
                    kind: ExpressionKind::Literal(literal),
                    span,
                },
                1,
            ))
        };
        match token.kind {
            TokenKind::Integer(text) | TokenKind::Decimal(text) => {
                let is_integer = text.chars().all(|c| c.is_ascii_digit());
                self.number_or_quantity(text, is_integer, span)
            }
            TokenKind::String(text) => literal(Literal::String(text)),
            TokenKind::Date(text) => literal(Literal::Date(text)),
            TokenKind::DateTime(text) => literal(Literal::DateTime(text)),
            TokenKind::Time(text) => literal(Literal::Time(text)),
            TokenKind::Special(name) => Ok((
                Expression {
                    kind: match name.as_str() {
                        "this" => ExpressionKind::This,
                        "index" => ExpressionKind::Index,
                        _ => ExpressionKind::Total,
                    },
                    span,
                },
                1,
            )),
            TokenKind::Variable(name) => Ok((
                Expression {
                    kind: ExpressionKind::Variable(name),
                    span,
                },
                1,
            )),
            TokenKind::Identifier(name) if name == "true" || name == "false" => {
                literal(Literal::Boolean(name == "true"))
            }
            TokenKind::Identifier(name) | TokenKind::DelimitedIdentifier(name) => {
                if self.peek().kind == TokenKind::Symbol("(") {
                    self.function_call(name, span.start, depth)
                } else {
                    Ok((
                        Expression {
                            kind: ExpressionKind::Identifier(name),
                            span,
                        },
                        1,
                    ))
                }
            }
            TokenKind::Symbol("{") => {
                let close = self.expect_symbol("}")?;
                Ok((
                    Expression {
                        kind: ExpressionKind::Literal(Literal::Empty),
                        span: Span {
                            start: span.start,
                            end: close.span.end,
                        },
                    },
                    1,
                ))
            }
            TokenKind::Symbol("(") => {
                let (inner, inner_depth) = self.expression(0, depth + 1)?;
                self.expect_symbol(")")?;
                Ok((inner, inner_depth))
            }
            TokenKind::Symbol(sign @ ("+" | "-")) => {
                let (operand, operand_depth) = self.expression(POLARITY_PRECEDENCE, depth + 1)?;
                let end = operand.span.end;
                Ok((
                    Expression {
                        kind: ExpressionKind::Polarity {
                            negate: sign == "-",
                            operand: Box::new(operand),
                        },
                        span: Span {
                            start: span.start,
                            end,
                        },
                    },
                    operand_depth + 1,
                ))
            }
            other => Err(Error::Syntax {
                position: span.start,
                message: format!("unexpected {}", describe(&other)),
            }),
        }
    }

    fn number_or_quantity(
        &mut self,
        text: String,
        is_integer: bool,
        span: Span,
    ) -> Result<(Expression, usize)> {
        let next = self.peek().clone();
        let unit = match &next.kind {
            TokenKind::String(unit) => Some((unit.clone(), false)),
            TokenKind::Identifier(word) if CALENDAR_WORDS.contains(&word.as_str()) => {
                Some((word.clone(), true))
            }
            _ => None,
        };
        let (kind, end) = match unit {
            Some((unit, is_calendar_word)) => {
                self.advance();
                (
                    Literal::Quantity {
                        value: text,
                        unit,
                        is_calendar_word,
                    },
                    next.span.end,
                )
            }
            None if is_integer => (Literal::Integer(text), span.end),
            None => (Literal::Decimal(text), span.end),
        };
        Ok((
            Expression {
                kind: ExpressionKind::Literal(kind),
                span: Span {
                    start: span.start,
                    end,
                },
            },
            1,
        ))
    }
}

/// Maps a symbol to the `'static` text the lexer uses, so tokens compare by value.
fn symbol_static(symbol: &str) -> &'static str {
    const CLOSERS: &[&str] = &["(", ")", "[", "]", "{", "}", ","];
    CLOSERS
        .iter()
        .find(|candidate| **candidate == symbol)
        .copied()
        .unwrap_or("")
}
