//! Time conventions: inputs carry UTC; tickets and daily reports use Beijing time (UTC+08:00).
//! A 17:30 UTC night pass therefore belongs to the next Beijing reporting day.

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};

/// Beijing time, UTC+08:00 (China has no daylight saving time).
pub fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset")
}

/// The Beijing calendar day a UTC instant is reported on.
pub fn reporting_day(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&beijing()).date_naive()
}

/// The last second of the Beijing reporting day of `at`, as UTC: the "same day" deadline.
pub fn end_of_reporting_day(at: DateTime<Utc>) -> DateTime<Utc> {
    let day = reporting_day(at);
    let end = day.and_hms_opt(23, 59, 59).expect("23:59:59 exists");
    beijing().from_local_datetime(&end).single().expect("fixed offsets are unambiguous").with_timezone(&Utc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn night_pass_after_1600_utc_belongs_to_next_beijing_day() {
        let at = Utc.with_ymd_and_hms(2026, 6, 10, 17, 30, 0).unwrap();
        assert_eq!(reporting_day(at), NaiveDate::from_ymd_opt(2026, 6, 11).unwrap());
        let morning = Utc.with_ymd_and_hms(2026, 6, 10, 5, 30, 0).unwrap();
        assert_eq!(reporting_day(morning), NaiveDate::from_ymd_opt(2026, 6, 10).unwrap());
    }

    #[test]
    fn same_day_deadline_is_beijing_midnight() {
        let at = Utc.with_ymd_and_hms(2026, 6, 10, 5, 30, 0).unwrap();
        assert_eq!(end_of_reporting_day(at), Utc.with_ymd_and_hms(2026, 6, 10, 15, 59, 59).unwrap());
    }
}
