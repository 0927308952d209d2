//! Time conventions: inputs carry UTC; tickets and daily reports use Beijing time (UTC+08:00).
//! A 17:30 UTC night pass therefore belongs to the next Beijing reporting day. Also the sun's
//! position, which decides day or night for the fire test and the persistence mask.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone, Timelike, Utc};

/// Beijing time, UTC+08:00 (China has no daylight saving time).
pub fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset")
}

/// The Beijing calendar day a UTC instant is reported on.
pub fn reporting_day(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&beijing()).date_naive()
}

/// The instant Beijing day `day` begins.
pub fn beijing_midnight(day: NaiveDate) -> DateTime<Utc> {
    beijing()
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight exists"))
        .single()
        .expect("fixed offsets are unambiguous")
        .with_timezone(&Utc)
}

/// The first `cutoff` (Beijing time of day) at or after `at`: 17:00 the same Beijing day for a
/// point seen before then, 17:00 the next day for one seen after.
pub fn next_cutoff(at: DateTime<Utc>, cutoff: chrono::NaiveTime) -> DateTime<Utc> {
    let day = reporting_day(at);
    let due = |d: NaiveDate| {
        beijing()
            .from_local_datetime(&d.and_time(cutoff))
            .single()
            .expect("fixed offsets are unambiguous")
            .with_timezone(&Utc)
    };
    let today = due(day);
    if at <= today {
        today
    } else {
        due(day.succ_opt().expect("not the end of time"))
    }
}

/// The earliest observation time firepoint accepts: no satellite or camera input is older.
pub const EARLIEST: &str = "2000-01-01T00:00:00Z";

/// Checks that an input's time is plausible: from [`EARLIEST`] to one day after `now`. A time
/// outside that window is a bad row or a bad input (a typo, a clock reset, a year 9999 fill
/// value); it is never stored, so every stored time reads back.
pub fn check_plausible(at: DateTime<Utc>, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let earliest = DateTime::parse_from_rfc3339(EARLIEST).expect("constant parses").with_timezone(&Utc);
    let latest = now + chrono::Duration::days(1);
    if at < earliest || at > latest {
        return Err(format!(
            "time {} is outside the plausible window {} .. {} (now + 1 day)",
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            &EARLIEST[..10],
            latest.format("%Y-%m-%d %H:%MZ")
        ));
    }
    Ok(at)
}

/// [`check_plausible`] against the clock.
pub fn plausible(at: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    check_plausible(at, Utc::now())
}

/// Solar zenith and azimuth (degrees; azimuth clockwise from north) at a place and time.
pub fn sun_position(at: DateTime<Utc>, lon: f64, lat: f64) -> (f64, f64) {
    let day = at.ordinal() as f64;
    let hour = at.hour() as f64 + at.minute() as f64 / 60.0 + at.second() as f64 / 3600.0;
    let g = 2.0 * std::f64::consts::PI / 365.0 * (day - 1.0 + (hour - 12.0) / 24.0);
    let decl = 0.006918 - 0.399912 * g.cos() + 0.070257 * g.sin() - 0.006758 * (2.0 * g).cos()
        + 0.000907 * (2.0 * g).sin()
        - 0.002697 * (3.0 * g).cos()
        + 0.00148 * (3.0 * g).sin();
    let eqtime = 229.18
        * (0.000075 + 0.001868 * g.cos()
            - 0.032077 * g.sin()
            - 0.014615 * (2.0 * g).cos()
            - 0.040849 * (2.0 * g).sin());
    let ha = ((hour * 60.0 + eqtime + 4.0 * lon) / 4.0 - 180.0).to_radians();
    let phi = lat.to_radians();
    let cos_z = (phi.sin() * decl.sin() + phi.cos() * decl.cos() * ha.cos()).clamp(-1.0, 1.0);
    let zen = cos_z.acos();
    // azimuth from the east/north components of the unit vector to the sun
    let east = -decl.cos() * ha.sin();
    let north = decl.sin() * phi.cos() - decl.cos() * phi.sin() * ha.cos();
    (zen.to_degrees(), east.atan2(north).to_degrees().rem_euclid(360.0))
}

/// Solar zenith angle, degrees (NOAA's low-precision formulae; ±0.5°, ample for day/night).
pub fn solar_zenith_deg(at: DateTime<Utc>, lon: f64, lat: f64) -> f64 {
    sun_position(at, lon, lat).0
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
    fn r6_times_before_2000_or_after_tomorrow_are_refused() {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
        assert!(check_plausible(now, now).is_ok());
        assert!(check_plausible(Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap(), now).is_ok());
        assert!(check_plausible(Utc.with_ymd_and_hms(1999, 12, 31, 23, 59, 0).unwrap(), now).is_err());
        assert!(check_plausible(now + chrono::Duration::hours(25), now).is_err());
        let far = Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 0).unwrap();
        assert!(check_plausible(far, now).unwrap_err().contains("9999-12-31"));
    }

    #[test]
    fn sun_is_up_at_beijing_noon_and_down_at_midnight() {
        // 04:00 UTC is 12:00 Beijing
        let noon = Utc.with_ymd_and_hms(2026, 6, 10, 4, 0, 0).unwrap();
        assert!(solar_zenith_deg(noon, 115.7, 37.6) < 20.0);
        let midnight = Utc.with_ymd_and_hms(2026, 6, 10, 16, 0, 0).unwrap();
        assert!(solar_zenith_deg(midnight, 115.7, 37.6) > 100.0);
    }

    #[test]
    fn the_satellite_cutoff_is_the_same_beijing_day_until_it_passes() {
        let five = chrono::NaiveTime::from_hms_opt(17, 0, 0).unwrap();
        // 23:30 UTC on the 9th is 07:30 Beijing on the 10th: due 17:00 on the 10th
        let at = Utc.with_ymd_and_hms(2026, 6, 9, 23, 30, 0).unwrap();
        assert_eq!(next_cutoff(at, five), Utc.with_ymd_and_hms(2026, 6, 10, 9, 0, 0).unwrap());
        let at = Utc.with_ymd_and_hms(2026, 6, 10, 9, 0, 1).unwrap();
        assert_eq!(next_cutoff(at, five), Utc.with_ymd_and_hms(2026, 6, 11, 9, 0, 0).unwrap());
    }
}
