//! The five (or six) delimiters a message declares in MSH-1 and MSH-2.

/// Separators and the escape character, as declared by the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delimiters {
    /// MSH-1, normally `|`.
    pub field: char,
    /// Normally `^`.
    pub component: char,
    /// Normally `~`.
    pub repetition: char,
    /// Normally `\`; `None` when the message declares no escape character.
    pub escape: Option<char>,
    /// Normally `&`.
    pub subcomponent: char,
    /// v2.7's truncation character (`#`), when declared.
    pub truncation: Option<char>,
}

impl Default for Delimiters {
    fn default() -> Self {
        Delimiters {
            field: '|',
            component: '^',
            repetition: '~',
            escape: Some('\\'),
            subcomponent: '&',
            truncation: None,
        }
    }
}

impl Delimiters {
    /// Reads MSH-1 and MSH-2 from the start of a message (`MSH|^~\&|…`). `None` when they are
    /// missing, repeated, alphanumeric or otherwise unusable.
    pub fn from_header(header: &str) -> Option<(Delimiters, usize)> {
        let mut chars = header.strip_prefix("MSH")?.char_indices();
        let (_, field) = chars.next()?;
        // At most five encoding characters; no allocation, since every message parses this.
        let mut encoding = ['\0'; 5];
        let mut count = 0;
        let mut end = None;
        for (at, c) in chars {
            if c == field || c == '\r' || c == '\n' {
                end = Some(at + 3);
                break;
            }
            if count == encoding.len() {
                return None;
            }
            encoding[count] = c;
            count += 1;
        }
        let end = end.unwrap_or(header.len());
        let usable = |c: char| !c.is_alphanumeric() && !c.is_whitespace();
        if !usable(field) || count < 3 {
            return None;
        }
        let component = encoding[0];
        let repetition = encoding[1];
        let (escape, subcomponent) = match count {
            3 => (None, encoding[2]),
            _ => (Some(encoding[2]), encoding[3]),
        };
        let truncation = (count == 5).then_some(encoding[4]);
        let all = [field, component, repetition, subcomponent];
        let declared = all.iter().copied().chain(escape).chain(truncation);
        let mut seen = ['\0'; 6];
        for (n, c) in declared.enumerate() {
            if !usable(c) || seen[..n].contains(&c) {
                return None;
            }
            seen[n] = c;
        }
        Some((
            Delimiters {
                field,
                component,
                repetition,
                escape,
                subcomponent,
                truncation,
            },
            end,
        ))
    }

    /// MSH-2 as written from these delimiters.
    pub fn encoding_characters(&self) -> String {
        let mut text = String::new();
        text.push(self.component);
        text.push(self.repetition);
        text.extend(self.escape);
        text.push(self.subcomponent);
        text.extend(self.truncation);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_and_unusual_delimiters() {
        let (standard, end) = Delimiters::from_header("MSH|^~\\&|A").unwrap();
        assert_eq!(standard, Delimiters::default());
        assert_eq!(end, 8);
        let (odd, _) = Delimiters::from_header("MSH*:@!%*X").unwrap();
        assert_eq!(
            (
                odd.field,
                odd.component,
                odd.repetition,
                odd.escape,
                odd.subcomponent
            ),
            ('*', ':', '@', Some('!'), '%')
        );
        let (v27, _) = Delimiters::from_header("MSH|^~\\&#|A").unwrap();
        assert_eq!(v27.truncation, Some('#'));
        assert_eq!(v27.encoding_characters(), "^~\\&#");
        assert!(Delimiters::from_header("MSH|^~|A").is_none());
        assert!(Delimiters::from_header("MSH|^^\\&|A").is_none());
        assert!(Delimiters::from_header("MSHa^~\\&aX").is_none());
        assert!(Delimiters::from_header("PID|^~\\&|").is_none());
    }
}
