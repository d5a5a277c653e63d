//! Durations as operators write them (`200ms`, `2s`, `1.5s`, `1m30s`) and as we print them back.
//!
//! Every step is checked arithmetic on whole milliseconds, so no text can overflow or panic;
//! what is too large for any field is refused here, and each field's own bounds are checked by
//! the validator (see [`super::limits::DURATIONS`]).

use std::time::Duration;

use crate::text::clip;

/// Why a text is not a duration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Nothing was written.
    #[error("empty duration")]
    Empty,
    /// Not made of number-unit pairs.
    #[error("`{0}` is not a duration")]
    NotADuration(String),
    /// A number without a unit.
    #[error("`{0}` has no unit")]
    NoUnit(String),
    /// A unit we do not know.
    #[error("`{0}` is not a duration unit")]
    BadUnit(String),
    /// A fraction finer than a millisecond.
    #[error("`{0}` is not a whole number of milliseconds")]
    TooPrecise(String),
    /// More than any field allows, or more than fits in the arithmetic.
    #[error("`{0}` is too large")]
    TooLarge(String),
}

/// The largest duration the parser accepts at all: far above every field's own maximum, far
/// below anything that could overflow later arithmetic on it.
pub const PARSE_MAX: Duration = Duration::from_secs(365 * 24 * 3600);

/// Parses `200ms`, `2s`, `1m`, `1h`, a decimal such as `1.5s` (1500ms), or a sum such as
/// `1m30s`. A bare number is refused: the unit is what makes `interval: 500` unambiguous.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    let too_large = || DurationError::TooLarge(clip(text));
    let mut total_ms: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let (ms, after) = part(rest, text)?;
        total_ms = total_ms.checked_add(ms).ok_or_else(too_large)?;
        rest = after;
    }
    let total = Duration::from_millis(total_ms);
    if total > PARSE_MAX {
        return Err(too_large());
    }
    Ok(total)
}

/// One number-unit pair at the start of `rest`: its milliseconds and what follows it.
fn part<'a>(rest: &'a str, text: &str) -> Result<(u64, &'a str), DurationError> {
    let whole_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    if whole_len == 0 {
        return Err(DurationError::NotADuration(clip(text)));
    }
    let (whole, mut rest) = rest.split_at(whole_len);
    let mut fraction = "";
    if let Some(after_point) = rest.strip_prefix('.') {
        let len = after_point.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 {
            return Err(DurationError::NotADuration(clip(text)));
        }
        (fraction, rest) = after_point.split_at(len);
    }
    let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
    let (unit, rest) = rest.split_at(unit_len);
    let unit_ms: u64 = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "" => return Err(DurationError::NoUnit(clip(text))),
        other => return Err(DurationError::BadUnit(clip(other))),
    };
    Ok((millis(whole, fraction, unit_ms, text)?, rest))
}

/// `whole.fraction` units in milliseconds, refusing overflow and fractions of a millisecond.
fn millis(whole: &str, fraction: &str, unit_ms: u64, text: &str) -> Result<u64, DurationError> {
    let too_large = || DurationError::TooLarge(clip(text));
    let whole: u64 = whole.parse().map_err(|_| too_large())?;
    let mut ms = whole.checked_mul(unit_ms).ok_or_else(too_large)?;
    let fraction = fraction.trim_end_matches('0');
    if !fraction.is_empty() {
        // 3,600,000 ms in an hour: a fraction with more than 7 digits cannot be whole ms.
        if fraction.len() > 7 {
            return Err(DurationError::TooPrecise(clip(text)));
        }
        let digits: u64 = fraction.parse().map_err(|_| too_large())?;
        let scale = 10u64.pow(fraction.len() as u32);
        let scaled = digits.checked_mul(unit_ms).ok_or_else(too_large)?;
        if !scaled.is_multiple_of(scale) {
            return Err(DurationError::TooPrecise(clip(text)));
        }
        ms = ms.checked_add(scaled / scale).ok_or_else(too_large)?;
    }
    Ok(ms)
}

/// Prints a duration in the largest unit that keeps it exact: `500ms`, `3s`, `2m`, `1500ms`.
pub fn format(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        format!("{}ms", ms)
    } else if ms.is_multiple_of(3_600_000) {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_sums() {
        assert_eq!(parse("200ms"), Ok(Duration::from_millis(200)));
        assert_eq!(parse("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1s500ms"), Ok(Duration::from_millis(1500)));
    }

    #[test]
    fn decimals_are_exact_milliseconds() {
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("0.25s"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("0.001s"), Ok(Duration::from_millis(1)));
        assert_eq!(parse("2.50000000000s"), Ok(Duration::from_millis(2500)));
        assert_eq!(
            parse("0.0000001h"),
            Err(DurationError::TooPrecise("0.0000001h".into()))
        );
        assert_eq!(
            parse("1.5ms"),
            Err(DurationError::TooPrecise("1.5ms".into()))
        );
        assert_eq!(
            parse("0.0001s"),
            Err(DurationError::TooPrecise("0.0001s".into()))
        );
        assert!(matches!(parse("1.s"), Err(DurationError::NotADuration(_))));
        assert!(matches!(parse(".5s"), Err(DurationError::NotADuration(_))));
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        assert_eq!(parse("500"), Err(DurationError::NoUnit("500".into())));
        assert!(parse("5 sec").is_err());
        assert_eq!(parse("2d"), Err(DurationError::BadUnit("d".into())));
        assert_eq!(parse(""), Err(DurationError::Empty));
        assert!(parse("ms").is_err());
        assert!(parse("-1s").is_err());
    }

    #[test]
    fn huge_numbers_are_refused_without_overflow() {
        for text in [
            "99999999999999999999s",
            "18446744073709551615s",
            "18446744073709551615ms",
            "18446744073709551615h",
            "9223372036854775807ms9223372036854775807ms1ms",
            "5124095576030431h",
            "366d",
        ] {
            let e = parse(text).unwrap_err();
            assert!(
                matches!(e, DurationError::TooLarge(_) | DurationError::BadUnit(_)),
                "{text}: {e}"
            );
        }
        assert_eq!(parse("8760h"), Ok(PARSE_MAX));
        assert!(matches!(parse("8761h"), Err(DurationError::TooLarge(_))));
    }

    #[test]
    fn messages_quote_at_most_a_clipped_value() {
        let long = format!("{}x", "1".repeat(10_000));
        let message = parse(&long).unwrap_err().to_string();
        assert!(message.chars().count() < 80, "{message}");
    }

    #[test]
    fn formats_in_the_largest_exact_unit() {
        assert_eq!(format(Duration::from_millis(500)), "500ms");
        assert_eq!(format(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format(Duration::from_secs(3)), "3s");
        assert_eq!(format(Duration::from_secs(120)), "2m");
        assert_eq!(format(Duration::ZERO), "0ms");
    }
}
