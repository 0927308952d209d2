//! Phone numbers in the district's layers: a grid member's (`villages.phone`) is a mainland
//! mobile number, since SMS reaches it; a township team's (`townships.phone`) may also be an
//! office landline. Checked and written one way when a layer is read, so that tickets and the
//! senders see `13912345678` or `0318-1234567`, never `+86 139-1234-5678`.
//!
//! Owns the rules only; what a wrong number does to a load is [`super::layers`]' decision (the
//! feature is kept without its phone, and the number is named as a warning).
//!
//! A mobile number is `crate::phone`'s rule (the one the SMS senders and the notification config
//! use), written here as its 11 national digits.

/// The mainland mobile number in `raw`, as 11 digits: `1[3-9]` and nine more, optionally after
/// `+86`, `86` or `0086`; spaces, dashes, dots and brackets between digits are ignored.
pub fn mobile(raw: &str) -> Result<String, String> {
    // one rule for the whole crate: what the SMS senders accept (`crate::phone`)
    crate::phone::national(raw)
}

/// A mobile number as [`mobile`], or a landline: a trunk `0`, the area code (two digits after the
/// 0 for 010 and 020–029, three for the others) and a local number of 7 or 8 digits, written
/// `0318-1234567`; `+86` then the area code without its 0 is accepted too.
pub fn mobile_or_landline(raw: &str) -> Result<String, String> {
    if let Ok(m) = mobile(raw) {
        return Ok(m);
    }
    let digits = digits_of(raw)?;
    // after the country code, the area code comes without its trunk 0
    let n = match ["0086", "86"].iter().find_map(|p| digits.strip_prefix(p)) {
        Some(d) if !d.starts_with('0') => format!("0{d}"),
        _ => digits,
    };
    let area = if n.starts_with("010") || n.starts_with("02") { 3 } else { 4 };
    let local = n.len().saturating_sub(area);
    let area_ok = n.starts_with('0') && !n.starts_with("00") && (n.starts_with("010") || !n.starts_with("01"));
    if area_ok && (7..=8).contains(&local) {
        return Ok(format!("{}-{}", &n[..area], &n[area..]));
    }
    Err(format!(
        "`{}` is neither a mainland mobile number (11 digits starting 13–19) nor a landline (0, area code, \
         7–8 digits: 0318-1234567)",
        crate::text::clip(raw, 40)
    ))
}

/// The digits of `raw`, refusing letters and other signs (a `+` only in front).
fn digits_of(raw: &str) -> Result<String, String> {
    let s = raw.trim();
    let body = s.strip_prefix('+').unwrap_or(s);
    if let Some(c) = body.chars().find(|c| !(c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')'))) {
        return Err(format!("`{}` holds `{c}`: only digits, spaces and dashes", crate::text::clip(raw, 40)));
    }
    Ok(body.chars().filter(char::is_ascii_digit).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r21_mobile_numbers_are_accepted_in_their_usual_spellings_and_written_as_11_digits() {
        for raw in [
            "13912345678",
            "139 1234 5678",
            "139-1234-5678",
            "+86 139 1234 5678",
            "8613912345678",
            "0086-139-1234-5678",
            " +86(139)12345678 ",
        ] {
            assert_eq!(mobile(raw).as_deref(), Ok("13912345678"), "{raw}");
        }
        assert_eq!(mobile("19900000001").as_deref(), Ok("19900000001"));
    }

    #[test]
    fn r21_wrong_mobile_numbers_are_refused_with_the_number() {
        for raw in [
            "1391234567",
            "139123456789",
            "12912345678",
            "23912345678",
            "1391234567x",
            "+8612912345678",
            "",
            "phone",
            "0318-1234567",
            "++8613912345678",
        ] {
            let e = mobile(raw).unwrap_err();
            // the number is named (an empty one has nothing to name: said so)
            assert!(e.contains(&format!("`{}", raw.trim())) || (raw.is_empty() && e == "no number"), "{raw}: {e}");
        }
    }

    #[test]
    fn r21_landlines_pass_where_an_office_may_have_one() {
        assert_eq!(mobile_or_landline("0318-000-0001").as_deref(), Ok("0318-0000001"));
        assert_eq!(mobile_or_landline("010 12345678").as_deref(), Ok("010-12345678"));
        assert_eq!(mobile_or_landline("+86 10 12345678").as_deref(), Ok("010-12345678"));
        assert_eq!(mobile_or_landline("(0311)8765432").as_deref(), Ok("0311-8765432"));
        assert_eq!(mobile_or_landline("+86 139 1234 5678").as_deref(), Ok("13912345678"));
        for raw in ["0318-12345", "0318-123456789", "318-1234567", "+86 1391234567", "013-91234567", "12345678", "0086"]
        {
            assert!(mobile_or_landline(raw).is_err(), "{raw}");
        }
    }
}
