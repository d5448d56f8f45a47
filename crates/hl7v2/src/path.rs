//! Terser-style paths: `SEG[(occurrence)]-field[(repetition)][-component[-subcomponent]]`,
//! all numbers 1-based: `PID-5-1`, `OBX(3)-5`, `PID-3(2)-1`, `PID-3(2)-4-2`.

/// A parsed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    /// Segment id.
    pub segment: String,
    /// Which segment of that name (1-based, counted through the whole message).
    pub occurrence: usize,
    /// Field number.
    pub field: usize,
    /// Field repetition (1-based).
    pub repetition: usize,
    /// Component (0 when not given: the first).
    pub component: usize,
    /// Sub-component (0 when not given: the first).
    pub subcomponent: usize,
}

impl Path {
    /// Parses a path; `None` when it is malformed.
    pub fn parse(text: &str) -> Option<Path> {
        let mut parts = text.trim().split('-');
        let (segment, occurrence) = indexed(parts.next()?)?;
        if segment.len() != 3 || !segment.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        let (field, repetition) = indexed(parts.next()?)?;
        let field: usize = field.parse().ok().filter(|n| *n > 0)?;
        let number = |part: Option<&str>| -> Option<usize> {
            match part {
                None => Some(0),
                Some(part) => part.parse().ok().filter(|n| *n > 0),
            }
        };
        let component = number(parts.next())?;
        let subcomponent = number(parts.next())?;
        if parts.next().is_some() {
            return None;
        }
        Some(Path {
            segment: segment.to_owned(),
            occurrence,
            field,
            repetition,
            component,
            subcomponent,
        })
    }
}

/// `NAME(3)` → (`NAME`, 3); `NAME` → (`NAME`, 1).
fn indexed(text: &str) -> Option<(&str, usize)> {
    match text.split_once('(') {
        None => Some((text, 1)),
        Some((name, rest)) => {
            let n: usize = rest.strip_suffix(')')?.parse().ok().filter(|n| *n > 0)?;
            Some((name, n))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let p = Path::parse("OBX(3)-5").unwrap();
        assert_eq!(
            (p.segment.as_str(), p.occurrence, p.field, p.repetition),
            ("OBX", 3, 5, 1)
        );
        let p = Path::parse("PID-3(2)-4-2").unwrap();
        assert_eq!(
            (p.field, p.repetition, p.component, p.subcomponent),
            (3, 2, 4, 2)
        );
        for bad in [
            "",
            "PID",
            "PID-0",
            "PID-x",
            "PI-1",
            "PID(0)-1",
            "PID-1-2-3-4",
            "PID-3(2-1",
        ] {
            assert!(Path::parse(bad).is_none(), "{bad}");
        }
    }
}
