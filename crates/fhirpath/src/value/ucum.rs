//! Just enough UCUM to convert between commensurable units: a parser for unit expressions
//! (prefixes, exponents, `.`, `/`, parentheses, `10*n` factors, `{annotations}`) over a table of
//! common atoms. Units it does not know are compared only by their exact text.

use rust_decimal::Decimal;

/// Number of base dimensions tracked: m, g, s, mol, K, A, cd, and one for arbitrary units
/// (`[iU]`), which only convert among themselves.
const DIMENSIONS: usize = 8;

/// A unit reduced to a factor times a product of base units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reduced {
    pub(crate) factor: Decimal,
    pub(crate) dimensions: [i8; DIMENSIONS],
}

impl Reduced {
    const ONE: Reduced = Reduced {
        factor: Decimal::ONE,
        dimensions: [0; DIMENSIONS],
    };

    fn multiply(self, other: Reduced) -> Option<Reduced> {
        let mut dimensions = self.dimensions;
        for (mine, theirs) in dimensions.iter_mut().zip(other.dimensions) {
            *mine = mine.checked_add(theirs)?;
        }
        Some(Reduced {
            factor: self.factor.checked_mul(other.factor)?,
            dimensions,
        })
    }

    fn power(self, exponent: i8) -> Option<Reduced> {
        let mut result = Reduced::ONE;
        let base = if exponent < 0 { self.invert()? } else { self };
        for _ in 0..exponent.unsigned_abs() {
            result = result.multiply(base)?;
        }
        Some(result)
    }

    fn invert(self) -> Option<Reduced> {
        let mut dimensions = self.dimensions;
        for value in &mut dimensions {
            *value = value.checked_neg()?;
        }
        Some(Reduced {
            factor: Decimal::ONE.checked_div(self.factor)?,
            dimensions,
        })
    }
}

fn decimal(text: &str) -> Decimal {
    text.parse().unwrap_or(Decimal::ONE)
}

/// `(symbol, factor, dimension exponents, takes metric prefixes)`.
fn atom(symbol: &str) -> Option<(Reduced, bool)> {
    let base = |index: usize| {
        let mut dimensions = [0; DIMENSIONS];
        if let Some(slot) = dimensions.get_mut(index) {
            *slot = 1;
        }
        Reduced {
            factor: Decimal::ONE,
            dimensions,
        }
    };
    let scaled = |factor: &str, unit: Reduced| Reduced {
        factor: decimal(factor) * unit.factor,
        dimensions: unit.dimensions,
    };
    let metre = base(0);
    let gram = base(1);
    let second = base(2);
    let litre = scaled("0.001", metre.power(3)?);
    let (unit, metric) = match symbol {
        "1" => (Reduced::ONE, false),
        "%" => (scaled("0.01", Reduced::ONE), false),
        "m" => (metre, true),
        "g" => (gram, true),
        "s" => (second, true),
        "mol" => (base(3), true),
        "K" => (base(4), true),
        "A" => (base(5), true),
        "cd" => (base(6), true),
        "[iU]" | "[IU]" => (base(7), true),
        "L" | "l" => (litre, true),
        "eq" => (base(3), true),
        "U" => (
            scaled("0.000001", base(3).multiply(second.invert()?)?),
            true,
        ),
        "Pa" => (
            scaled(
                "1000",
                gram.multiply(metre.invert()?)?
                    .multiply(second.power(-2)?)?,
            ),
            true,
        ),
        "mm[Hg]" => (
            scaled(
                "133322.387415",
                gram.multiply(metre.invert()?)?
                    .multiply(second.power(-2)?)?,
            ),
            false,
        ),
        "min" => (scaled("60", second), false),
        "h" => (scaled("3600", second), false),
        "d" => (scaled("86400", second), false),
        "wk" => (scaled("604800", second), false),
        "mo" => (scaled("2629800", second), false),
        "a" => (scaled("31557600", second), false),
        "[lb_av]" => (scaled("453.59237", gram), false),
        "[oz_av]" => (scaled("28.349523125", gram), false),
        "[in_i]" => (scaled("0.0254", metre), false),
        "[ft_i]" => (scaled("0.3048", metre), false),
        "[yd_i]" => (scaled("0.9144", metre), false),
        "[mi_i]" => (scaled("1609.344", metre), false),
        "t" => (scaled("1000000", gram), true),
        _ => return None,
    };
    Some((unit, metric))
}

const PREFIXES: &[(&str, &str)] = &[
    ("da", "10"),
    ("Y", "1000000000000000000000000"),
    ("Z", "1000000000000000000000"),
    ("E", "1000000000000000000"),
    ("P", "1000000000000000"),
    ("T", "1000000000000"),
    ("G", "1000000000"),
    ("M", "1000000"),
    ("k", "1000"),
    ("h", "100"),
    ("d", "0.1"),
    ("c", "0.01"),
    ("m", "0.001"),
    ("u", "0.000001"),
    ("n", "0.000000001"),
    ("p", "0.000000000001"),
    ("f", "0.000000000000001"),
];

fn simple_unit(symbol: &str) -> Option<Reduced> {
    if let Some((unit, _)) = atom(symbol) {
        return Some(unit);
    }
    for (prefix, factor) in PREFIXES {
        if let Some(rest) = symbol.strip_prefix(prefix)
            && let Some((unit, true)) = atom(rest)
        {
            return Some(Reduced {
                factor: decimal(factor) * unit.factor,
                dimensions: unit.dimensions,
            });
        }
    }
    None
}

/// Reduces a UCUM unit expression; `None` for syntax or atoms this table lacks.
pub(crate) fn reduce(unit: &str) -> Option<Reduced> {
    let mut parser = UnitParser {
        text: unit.as_bytes(),
        position: 0,
        depth: 0,
    };
    let result = parser.term()?;
    (parser.position == parser.text.len()).then_some(result)
}

struct UnitParser<'t> {
    text: &'t [u8],
    position: usize,
    depth: usize,
}

impl UnitParser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.position).copied()
    }

    fn term(&mut self) -> Option<Reduced> {
        self.depth += 1;
        if self.depth > 16 {
            return None;
        }
        let mut result = if self.peek() == Some(b'/') {
            self.position += 1;
            self.component()?.invert()?
        } else {
            self.component()?
        };
        loop {
            match self.peek() {
                Some(b'.') => {
                    self.position += 1;
                    result = result.multiply(self.component()?)?;
                }
                Some(b'/') => {
                    self.position += 1;
                    result = result.multiply(self.component()?.invert()?)?;
                }
                _ => break,
            }
        }
        self.depth -= 1;
        Some(result)
    }

    fn annotation(&mut self) -> Option<()> {
        while self.peek()? != b'}' {
            self.position += 1;
        }
        self.position += 1;
        Some(())
    }

    fn component(&mut self) -> Option<Reduced> {
        match self.peek()? {
            b'(' => {
                self.position += 1;
                let inner = self.term()?;
                if self.peek()? != b')' {
                    return None;
                }
                self.position += 1;
                Some(inner)
            }
            b'{' => {
                self.position += 1;
                self.annotation()?;
                Some(Reduced::ONE)
            }
            _ => {
                let unit = self.simple_with_exponent()?;
                if self.peek() == Some(b'{') {
                    self.position += 1;
                    self.annotation()?;
                }
                Some(unit)
            }
        }
    }

    fn simple_with_exponent(&mut self) -> Option<Reduced> {
        let start = self.position;
        // `10*3` and `10^3` factors.
        if self
            .text
            .get(start..start + 3)
            .is_some_and(|t| t == b"10*" || t == b"10^")
        {
            self.position += 3;
            let exponent = self.exponent()?;
            let mut factor = Decimal::ONE;
            for _ in 0..exponent.unsigned_abs() {
                factor = if exponent < 0 {
                    factor.checked_div(Decimal::TEN)?
                } else {
                    factor.checked_mul(Decimal::TEN)?
                };
            }
            return Some(Reduced {
                factor,
                dimensions: [0; DIMENSIONS],
            });
        }
        let mut in_brackets = false;
        while let Some(byte) = self.peek() {
            match byte {
                b'[' => in_brackets = true,
                b']' => in_brackets = false,
                b'.' | b'/' | b'(' | b')' | b'{' if !in_brackets => break,
                b'0'..=b'9' | b'+' | b'-' if !in_brackets && self.position > start => {
                    // Digits after letters are an exponent, except a bare number ("1").
                    break;
                }
                _ => {}
            }
            self.position += 1;
        }
        let symbol = std::str::from_utf8(self.text.get(start..self.position)?).ok()?;
        if symbol.is_empty() {
            return None;
        }
        let unit = if symbol.bytes().all(|b| b.is_ascii_digit()) {
            Reduced {
                factor: symbol.parse().ok()?,
                dimensions: [0; DIMENSIONS],
            }
        } else {
            simple_unit(symbol)?
        };
        if self
            .peek()
            .is_some_and(|b| b.is_ascii_digit() || b == b'+' || b == b'-')
        {
            let exponent = self.exponent()?;
            return unit.power(exponent);
        }
        Some(unit)
    }

    fn exponent(&mut self) -> Option<i8> {
        let start = self.position;
        if matches!(self.peek(), Some(b'+' | b'-')) {
            self.position += 1;
        }
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.position += 1;
        }
        std::str::from_utf8(self.text.get(start..self.position)?)
            .ok()?
            .parse()
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn factor(unit: &str) -> Option<String> {
        reduce(unit).map(|reduced| reduced.factor.normalize().to_string())
    }

    #[test]
    fn reduces_common_units() {
        assert_eq!(factor("mg"), Some("0.001".to_owned()));
        assert_eq!(factor("kg"), Some("1000".to_owned()));
        assert_eq!(factor("mL"), Some("0.000001".to_owned()));
        assert_eq!(factor("wk"), Some("604800".to_owned()));
        assert_eq!(factor("cm2"), Some("0.0001".to_owned()));
        assert_eq!(factor("10*3/uL"), Some("1000000000000".to_owned()));
        assert_eq!(
            factor("/min"),
            reduce("min")
                .and_then(|m| m.invert())
                .map(|r| r.factor.normalize().to_string())
        );
        assert!(factor("mmol/L").is_some());
        assert_ne!(
            reduce("mmol/L").map(|r| r.dimensions),
            reduce("mg/dL").map(|r| r.dimensions)
        );
        assert!(factor("{beats}/min").is_some());
        assert_eq!(factor("foo"), None);
    }
}
