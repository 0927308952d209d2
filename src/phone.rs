//! Mainland China mobile numbers: what a grid member's, a team leader's or the county office's
//! SMS number must look like, normalised to E.164 (`+8613812345678`).
//!
//! The layer loader (`aoi`) checks the phones of its grid and team layers with [`mobile`] when a
//! layer is loaded, and `NotifyConfig::check` the county office's; the SMS providers take the
//! normalised number ([`national`] for Alibaba's 11 digits). Landlines and numbers outside the
//! mainland get no SMS, so they are refused here rather than by the provider after a send.

/// `raw` as `+86` and its 11 digits, or why it is not a mainland mobile number. Takes the number
/// as people write it: with or without `+86`, `86` or `0086` in front, spaces, dashes, dots and
/// brackets between the digits (`138 1234 5678`, `+86-138-1234-5678`, `(86)13812345678`). The
/// number itself must be 11 digits starting `13`–`19`.
pub fn mobile(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err("no number".into());
    }
    let mut digits = String::with_capacity(trimmed.len());
    for (i, c) in trimmed.chars().enumerate() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' | '\u{3000}' => {}
            '+' if i == 0 => {}
            _ => return Err(format!("`{trimmed}`: `{c}` is not part of a phone number")),
        }
    }
    let national =
        ["0086", "86"].iter().find_map(|p| digits.strip_prefix(p).filter(|rest| rest.len() == 11)).unwrap_or(&digits);
    if trimmed.starts_with('+') && national.len() == digits.len() {
        return Err(format!("`{trimmed}`: not a +86 (mainland China) number"));
    }
    let bytes = national.as_bytes();
    if bytes.first() == Some(&b'0') {
        return Err(format!("`{trimmed}`: a landline (area code 0…) gets no SMS; give a mobile number"));
    }
    if bytes.len() != 11 {
        return Err(format!("`{trimmed}`: a mainland mobile number has 11 digits, this has {}", bytes.len()));
    }
    if bytes[0] != b'1' || !(b'3'..=b'9').contains(&bytes[1]) {
        return Err(format!("`{trimmed}`: a mainland mobile number starts 13–19"));
    }
    Ok(format!("+86{national}"))
}

/// The 11 national digits of a number [`mobile`] accepts (what Alibaba Cloud SMS takes).
pub fn national(raw: &str) -> Result<String, String> {
    mobile(raw).map(|e164| e164["+86".len()..].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r21_mobile_numbers_are_normalised_whatever_their_prefix_and_separators() {
        for raw in [
            "13812345678",
            "+8613812345678",
            "8613812345678",
            "008613812345678",
            "138 1234 5678",
            "+86-138-1234-5678",
            "(86) 138.1234.5678",
            " 19912345678 ",
        ] {
            let want = if raw.contains("199") { "+8619912345678" } else { "+8613812345678" };
            assert_eq!(mobile(raw).as_deref(), Ok(want), "{raw}");
        }
        assert_eq!(national("+86 138 1234 5678").as_deref(), Ok("13812345678"));
    }

    #[test]
    fn r21_landlines_short_numbers_and_foreign_numbers_are_refused_with_the_reason() {
        let why = |raw: &str| mobile(raw).unwrap_err();
        assert!(why("0311-12345678").contains("landline"), "{}", why("0311-12345678"));
        assert!(why("0318-000-0001").contains("landline"));
        assert!(why("12812345678").contains("starts 13–19"));
        assert!(why("1381234567").contains("11 digits, this has 10"));
        assert!(why("+14155550100").contains("not a +86"), "{}", why("+14155550100"));
        assert!(why("138-1234-567x").contains("`x`"));
        assert!(why("").contains("no number"));
        assert!(why("138+12345678").contains("`+`"), "a + only in front");
    }
}
