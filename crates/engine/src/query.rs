//! Query strings: splitting and decoding `a=1&b=2`.

/// Splits `a=1&b=2` into decoded pairs (`+` is a space, as in forms).
pub fn parse_query_string(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect()
}

fn decode(text: &str) -> String {
    let plus_as_space = text.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_as_space)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::parse_query_string;

    #[test]
    fn decodes_pairs() {
        assert_eq!(
            parse_query_string("identifier=urn:a%7Cx&name=M%C3%BCller+Jr&flag"),
            vec![
                ("identifier".to_owned(), "urn:a|x".to_owned()),
                ("name".to_owned(), "Müller Jr".to_owned()),
                ("flag".to_owned(), String::new()),
            ]
        );
    }
}
