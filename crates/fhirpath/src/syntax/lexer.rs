//! Splits expression text into [`Token`]s, skipping whitespace and comments.

use crate::error::{Error, Result};
use crate::syntax::ast::Span;

/// One token with its span (character offsets).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) kind: TokenKind,
    pub(crate) span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenKind {
    /// A plain identifier or keyword (`and`, `div`, `true` are identifiers here; the parser
    /// decides by position).
    Identifier(String),
    /// A backtick-delimited identifier, escapes resolved.
    DelimitedIdentifier(String),
    String(String),
    /// An integer literal's digits.
    Integer(String),
    Decimal(String),
    /// `@` literal text without the `@`.
    Date(String),
    DateTime(String),
    /// Without `@T`.
    Time(String),
    /// `$this`, `$index`, `$total` (name without `$`).
    Special(String),
    /// `%name`, `` %`name` `` or `%'name'` (without `%`).
    Variable(String),
    Symbol(&'static str),
    End,
}

const SYMBOLS: &[&str] = &[
    "<=", ">=", "!=", "!~", "(", ")", "[", "]", "{", "}", ".", ",", "+", "-", "*", "/", "&", "|",
    "<", ">", "=", "~",
];

/// Splits `text` into tokens, ending with [`TokenKind::End`].
pub(crate) fn tokenize(text: &str) -> Result<Vec<Token>> {
    let chars: Vec<char> = text.chars().collect();
    let mut lexer = Lexer {
        chars: &chars,
        position: 0,
    };
    let mut tokens = Vec::new();
    loop {
        lexer.skip_trivia()?;
        let start = lexer.position;
        let Some(&c) = chars.get(start) else {
            tokens.push(Token {
                kind: TokenKind::End,
                span: Span { start, end: start },
            });
            return Ok(tokens);
        };
        let kind = lexer.token(c)?;
        tokens.push(Token {
            kind,
            span: Span {
                start,
                end: lexer.position,
            },
        });
    }
}

struct Lexer<'t> {
    chars: &'t [char],
    position: usize,
}

fn syntax(position: usize, message: impl Into<String>) -> Error {
    Error::Syntax {
        position,
        message: message.into(),
    }
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.position + ahead).copied()
    }

    fn skip_trivia(&mut self) -> Result<()> {
        loop {
            match (self.peek(0), self.peek(1)) {
                (Some(c), _) if c.is_whitespace() => self.position += 1,
                (Some('/'), Some('/')) => {
                    while let Some(c) = self.peek(0) {
                        if c == '\n' {
                            break;
                        }
                        self.position += 1;
                    }
                }
                (Some('/'), Some('*')) => {
                    let start = self.position;
                    self.position += 2;
                    loop {
                        match (self.peek(0), self.peek(1)) {
                            (Some('*'), Some('/')) => {
                                self.position += 2;
                                break;
                            }
                            (Some(_), _) => self.position += 1,
                            (None, _) => return Err(syntax(start, "unterminated comment '/*'")),
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn token(&mut self, c: char) -> Result<TokenKind> {
        let start = self.position;
        if c.is_ascii_alphabetic() || c == '_' {
            return Ok(TokenKind::Identifier(self.plain_identifier()));
        }
        if c.is_ascii_digit() {
            return Ok(self.number());
        }
        match c {
            '\'' => {
                self.position += 1;
                return self.quoted('\'').map(TokenKind::String);
            }
            '`' => {
                self.position += 1;
                return self.quoted('`').map(TokenKind::DelimitedIdentifier);
            }
            '@' => {
                self.position += 1;
                return self.temporal(start);
            }
            '$' => {
                self.position += 1;
                let name = self.plain_identifier();
                return match name.as_str() {
                    "this" | "index" | "total" => Ok(TokenKind::Special(name)),
                    _ => Err(syntax(start, format!("unknown special variable '${name}'"))),
                };
            }
            '%' => {
                self.position += 1;
                return match self.peek(0) {
                    Some('`') => {
                        self.position += 1;
                        self.quoted('`').map(TokenKind::Variable)
                    }
                    Some('\'') => {
                        self.position += 1;
                        self.quoted('\'').map(TokenKind::Variable)
                    }
                    Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                        Ok(TokenKind::Variable(self.plain_identifier()))
                    }
                    _ => Err(syntax(start, "expected a variable name after '%'")),
                };
            }
            _ => {}
        }
        for symbol in SYMBOLS {
            let matches = symbol
                .chars()
                .enumerate()
                .all(|(offset, expected)| self.peek(offset) == Some(expected));
            if matches {
                self.position += symbol.chars().count();
                return Ok(TokenKind::Symbol(symbol));
            }
        }
        Err(syntax(start, format!("unexpected character '{c}'")))
    }

    fn plain_identifier(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek(0) {
            if c.is_ascii_alphanumeric() || c == '_' {
                name.push(c);
                self.position += 1;
            } else {
                break;
            }
        }
        name
    }

    fn digits(&mut self) -> String {
        let mut digits = String::new();
        while let Some(c) = self.peek(0).filter(char::is_ascii_digit) {
            digits.push(c);
            self.position += 1;
        }
        digits
    }

    fn number(&mut self) -> TokenKind {
        let mut text = self.digits();
        if self.peek(0) == Some('.') && self.peek(1).is_some_and(|c| c.is_ascii_digit()) {
            self.position += 1;
            text.push('.');
            text.push_str(&self.digits());
            return TokenKind::Decimal(text);
        }
        TokenKind::Integer(text)
    }

    /// Reads a quoted string or delimited identifier after its opening quote.
    fn quoted(&mut self, quote: char) -> Result<String> {
        let start = self.position.saturating_sub(1);
        let mut text = String::new();
        loop {
            let Some(c) = self.peek(0) else {
                return Err(syntax(start, format!("unterminated {quote}-quoted text")));
            };
            self.position += 1;
            if c == quote {
                return Ok(text);
            }
            if c != '\\' {
                text.push(c);
                continue;
            }
            let escape_position = self.position - 1;
            let Some(escaped) = self.peek(0) else {
                return Err(syntax(escape_position, "unterminated escape"));
            };
            self.position += 1;
            match escaped {
                '\'' | '"' | '`' | '\\' | '/' => text.push(escaped),
                'f' => text.push('\u{c}'),
                'n' => text.push('\n'),
                'r' => text.push('\r'),
                't' => text.push('\t'),
                'u' => {
                    let hex: String = (0..4).filter_map(|offset| self.peek(offset)).collect();
                    let code = (hex.len() == 4)
                        .then(|| u32::from_str_radix(&hex, 16).ok())
                        .flatten()
                        .and_then(char::from_u32)
                        .ok_or_else(|| {
                            syntax(escape_position, format!("invalid escape '\\u{hex}'"))
                        })?;
                    self.position += 4;
                    text.push(code);
                }
                other => {
                    return Err(syntax(
                        escape_position,
                        format!("invalid escape '\\{other}'"),
                    ));
                }
            }
        }
    }

    fn take_fixed_digits(&mut self, count: usize) -> Option<String> {
        let digits: String = (0..count).filter_map(|offset| self.peek(offset)).collect();
        if digits.len() == count && digits.chars().all(|c| c.is_ascii_digit()) {
            self.position += count;
            Some(digits)
        } else {
            None
        }
    }

    /// Reads `HH(:MM(:SS(.fff)?)?)?` into `text`.
    fn time_part(&mut self, text: &mut String, start: usize) -> Result<()> {
        let hour = self
            .take_fixed_digits(2)
            .ok_or_else(|| syntax(start, "expected an hour in a time literal"))?;
        text.push_str(&hour);
        if self.peek(0) == Some(':') && self.peek(1).is_some_and(|c| c.is_ascii_digit()) {
            self.position += 1;
            let minute = self
                .take_fixed_digits(2)
                .ok_or_else(|| syntax(start, "expected minutes in a time literal"))?;
            text.push(':');
            text.push_str(&minute);
            if self.peek(0) == Some(':') && self.peek(1).is_some_and(|c| c.is_ascii_digit()) {
                self.position += 1;
                let second = self
                    .take_fixed_digits(2)
                    .ok_or_else(|| syntax(start, "expected seconds in a time literal"))?;
                text.push(':');
                text.push_str(&second);
                if self.peek(0) == Some('.') && self.peek(1).is_some_and(|c| c.is_ascii_digit()) {
                    self.position += 1;
                    text.push('.');
                    text.push_str(&self.digits());
                }
            }
        }
        Ok(())
    }

    fn temporal(&mut self, start: usize) -> Result<TokenKind> {
        let mut text = String::new();
        if self.peek(0) == Some('T') {
            self.position += 1;
            self.time_part(&mut text, start)?;
            return Ok(TokenKind::Time(text));
        }
        let year = self
            .take_fixed_digits(4)
            .ok_or_else(|| syntax(start, "expected a four-digit year after '@'"))?;
        text.push_str(&year);
        for _ in 0..2 {
            if self.peek(0) == Some('-') && self.peek(1).is_some_and(|c| c.is_ascii_digit()) {
                self.position += 1;
                let part = self
                    .take_fixed_digits(2)
                    .ok_or_else(|| syntax(start, "expected two digits in a date literal"))?;
                text.push('-');
                text.push_str(&part);
            } else {
                break;
            }
        }
        if self.peek(0) != Some('T') {
            return Ok(TokenKind::Date(text));
        }
        self.position += 1;
        text.push('T');
        if self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
            self.time_part(&mut text, start)?;
            match self.peek(0) {
                Some('Z') => {
                    self.position += 1;
                    text.push('Z');
                }
                Some(sign @ ('+' | '-'))
                    if self.peek(1).is_some_and(|c| c.is_ascii_digit())
                        && self.peek(3) == Some(':') =>
                {
                    self.position += 1;
                    let hours = self
                        .take_fixed_digits(2)
                        .ok_or_else(|| syntax(start, "invalid time zone offset"))?;
                    self.position += 1;
                    let minutes = self
                        .take_fixed_digits(2)
                        .ok_or_else(|| syntax(start, "invalid time zone offset"))?;
                    text.push(sign);
                    text.push_str(&hours);
                    text.push(':');
                    text.push_str(&minutes);
                }
                _ => {}
            }
        }
        Ok(TokenKind::DateTime(text))
    }
}
