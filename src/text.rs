//! Bounded quoting of outside text in messages: a header, a cell or a file name quoted in an
//! error is cut to a few hundred bytes, so a 200 MB header line never becomes a 200 MB log line,
//! quarantine note or store row.

/// Longest quoted input in a message, bytes.
pub const QUOTE_MAX: usize = 200;

/// Longest whole error message kept (stderr, `.error.txt`, the store), bytes.
pub const MESSAGE_MAX: usize = 4096;

/// `s` cut to at most `max` bytes at a character boundary, with the length of what was left
/// out; unchanged when short enough.
pub fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} more bytes)", &s[..end], s.len() - end)
}

/// `s` cut to [`QUOTE_MAX`]: for a piece of input quoted in a message.
pub fn quote(s: &str) -> String {
    clip(s, QUOTE_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r6_long_text_is_cut_at_a_character_boundary_and_says_how_much() {
        assert_eq!(clip("abc", 5), "abc");
        let long = "时".repeat(100); // 3 bytes each
        let c = clip(&long, 10);
        assert!(c.starts_with("时时时…"), "{c}");
        assert!(c.ends_with("(291 more bytes)"), "{c}");
    }
}
