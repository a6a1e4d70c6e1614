//! Text from callers and vendors made fit for error messages and logs: one line, no control
//! characters, bounded in length.

/// At most `max_chars` characters of `s` (then `…`), control characters turned into spaces,
/// surrounding white space trimmed.
pub fn excerpt(s: &str, max_chars: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max_chars)
        .collect();
    if s.chars().nth(max_chars).is_some() {
        out.push('…');
    }
    out.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::excerpt;

    #[test]
    fn excerpts() {
        assert_eq!(excerpt("plain", 64), "plain");
        assert_eq!(excerpt("a\nb\u{0}c", 64), "a b c");
        assert_eq!(excerpt("abcdef", 3), "abc…");
        assert_eq!(excerpt("abc", 3), "abc");
        assert_eq!(excerpt("  x  ", 64), "x");
        assert_eq!(excerpt("ééé", 2), "éé…");
    }
}
