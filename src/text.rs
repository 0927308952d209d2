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

/// An error and its causes as one line, `outer: cause: root`, leaving out a cause that only
/// repeats the one before it (SQLite's "file is not a database" comes back as "Error code 26:
/// file is not a database"): each thing is said once.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        match parts.last_mut() {
            // a cause the message before it already says: nothing new
            Some(prev) if prev.contains(&text) => {}
            // a cause that says the message before it and more: keep the fuller one
            Some(prev) if text.contains(prev.as_str()) => *prev = text,
            _ if text.is_empty() => {}
            _ => parts.push(text),
        }
        next = e.source();
    }
    parts.join(": ")
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

    #[test]
    fn r6_a_cause_that_repeats_the_one_before_is_said_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("file is not a database")]
        struct Inner;
        #[derive(Debug, thiserror::Error)]
        #[error("Error code 26: file is not a database")]
        struct Wrapped(#[source] Inner);
        #[derive(Debug, thiserror::Error)]
        #[error("ticket store x.sqlite")]
        struct Outer(#[source] Wrapped);
        assert_eq!(error_chain(&Outer(Wrapped(Inner))), "ticket store x.sqlite: Error code 26: file is not a database");
    }
}
