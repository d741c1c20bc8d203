//! Numbers and dates as the Java tools print them, so output parsed by
//! scripts written for Kafka's tools parses here too: `%.Nf` with Java's
//! `NaN`/`Infinity`, and `java.text.SimpleDateFormat` patterns; and dates as
//! they read them (`Utils.getDateTime`, for `--to-datetime`).

use crate::cli::Failure;

/// `String.format("%.{prec}f", v)`: fixed decimals; Java spells the
/// special values `NaN`, `Infinity` and `-Infinity`.
pub fn fixed(v: f64, prec: usize) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "Infinity".to_string() } else { "-Infinity".to_string() }
    } else {
        format!("{v:.prec$}")
    }
}

/// One piece of a date pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Field(char, usize),
}

/// A `SimpleDateFormat` pattern, printed in UTC (the tools here carry no
/// time-zone database).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateFormat {
    pieces: Vec<Piece>,
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = ["Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday", "Wednesday"];

impl DateFormat {
    /// Compiles `pattern`; letters Java knows but this does not (week
    /// numbers, era, …) are an error rather than silently wrong output.
    pub fn new(pattern: &str) -> Result<DateFormat, Failure> {
        let mut pieces = Vec::new();
        let chars: Vec<char> = pattern.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' {
                // 'text' is literal; '' is a quote.
                if chars.get(i + 1) == Some(&'\'') {
                    pieces.push(Piece::Text("'".into()));
                    i += 2;
                    continue;
                }
                let mut text = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(Failure::usage(format!("Unterminated quote in date format {pattern:?}"))),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            text.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            text.push(ch);
                            i += 1;
                        }
                    }
                }
                pieces.push(Piece::Text(text));
            } else if c.is_ascii_alphabetic() {
                let n = chars[i..].iter().take_while(|&&x| x == c).count();
                if !"yMdHhKkmsSEaDzZX".contains(c) {
                    return Err(Failure::usage(format!(
                        "Unsupported date format letter '{c}' in {pattern:?} (supported: y M d H h K k m s S E a D z Z X)"
                    )));
                }
                pieces.push(Piece::Field(c, n));
                i += n;
            } else {
                pieces.push(Piece::Text(c.to_string()));
                i += 1;
            }
        }
        Ok(DateFormat { pieces })
    }

    /// Formats a time in milliseconds since the epoch.
    pub fn format(&self, epoch_ms: i64) -> String {
        let days = epoch_ms.div_euclid(86_400_000);
        let ms_of_day = epoch_ms.rem_euclid(86_400_000);
        let (year, month, day) = civil_from_days(days);
        let (hour, minute, second, milli) =
            (ms_of_day / 3_600_000, ms_of_day / 60_000 % 60, ms_of_day / 1000 % 60, ms_of_day % 1000);
        let day_of_year = days - days_from_civil(year, 1, 1) + 1;
        let weekday = DAYS[days.rem_euclid(7) as usize];
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Field(c, n) => {
                    let n = *n;
                    let num = |v: i64| format!("{v:0n$}");
                    let s = match c {
                        'y' if n == 2 => format!("{:02}", year.rem_euclid(100)),
                        'y' => num(year),
                        'M' if n >= 4 => MONTHS[(month - 1) as usize].to_string(),
                        'M' if n == 3 => MONTHS[(month - 1) as usize][..3].to_string(),
                        'M' => num(month),
                        'd' => num(day),
                        'D' => num(day_of_year),
                        'H' => num(hour),
                        'k' => num(if hour == 0 { 24 } else { hour }),
                        'K' => num(hour % 12),
                        'h' => num(if hour % 12 == 0 { 12 } else { hour % 12 }),
                        'm' => num(minute),
                        's' => num(second),
                        'S' => num(milli),
                        'E' if n >= 4 => weekday.to_string(),
                        'E' => weekday[..3].to_string(),
                        'a' => (if hour < 12 { "AM" } else { "PM" }).to_string(),
                        'z' => "UTC".to_string(),
                        'Z' => "+0000".to_string(),
                        _ => "Z".to_string(),
                    };
                    out.push_str(&s);
                }
            }
        }
        out
    }
}

/// Year, month (1-12) and day of the proleptic Gregorian calendar for a
/// count of days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Days since 1970-01-01 of a civil date (the inverse of [`civil_from_days`]).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Kafka's `Utils.getDateTime`, which `kafka-consumer-groups
/// --to-datetime` uses: `yyyy-MM-ddTHH:mm:ss.SSS` with an optional zone
/// (`Z`, `+hh:mm`, `+hhmm` or `+hh`; UTC when none is given), parsed
/// strictly (no 31st of February). Returns milliseconds since the epoch,
/// or the text Kafka's error names the failure with.
pub fn parse_datetime(text: &str) -> Result<i64, String> {
    // Java's `split("T")` drops trailing empty parts: "2024-01-01T" has one.
    let parts: Vec<&str> = text.trim_end_matches('T').split('T').collect();
    if parts.len() < 2 {
        return Err("Error parsing timestamp. It does not contain a 'T' according to ISO8601 format".to_string());
    }
    let mut full = text.to_string();
    if !parts[1].contains(['+', '-', 'Z']) {
        full.push('Z');
    }
    parse_iso_millis(&full).ok_or_else(|| format!("Unparseable date: \"{full}\""))
}

/// `yyyy-MM-dd'T'HH:mm:ss.SSS` then a zone, non-lenient as Kafka sets its
/// `SimpleDateFormat`: numbers of any width, each field in its range.
fn parse_iso_millis(s: &str) -> Option<i64> {
    let mut rest = s;
    let mut number = |after: Option<char>| -> Option<i64> {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 || digits > 9 {
            return None;
        }
        let n = rest[..digits].parse::<i64>().ok()?;
        rest = &rest[digits..];
        if let Some(sep) = after {
            rest = rest.strip_prefix(sep)?;
        }
        Some(n)
    };
    let (year, month, day) = (number(Some('-'))?, number(Some('-'))?, number(Some('T'))?);
    let (hour, minute, second, milli) = (number(Some(':'))?, number(Some(':'))?, number(Some('.'))?, number(None)?);
    let month_days = [31, if is_leap(year) { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let valid = (1..=12).contains(&month)
        && (1..=month_days[(month.clamp(1, 12) - 1) as usize]).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60
        && milli < 1000;
    if !valid {
        return None;
    }
    let offset_minutes = match rest {
        "Z" => 0,
        zone => {
            let (sign, hm) = match zone.split_at_checked(1)? {
                ("+", hm) => (1, hm),
                ("-", hm) => (-1, hm),
                _ => return None,
            };
            // hh, hhmm, or hh:mm with the colon exactly in the middle.
            let hm = match hm.as_bytes() {
                [a, b, b':', c, d] => String::from_utf8(vec![*a, *b, *c, *d]).ok()?,
                _ => hm.to_string(),
            };
            if !hm.bytes().all(|b| b.is_ascii_digit()) || !(hm.len() == 2 || hm.len() == 4) {
                return None;
            }
            let h: i64 = hm[..2].parse().ok()?;
            let m: i64 = if hm.len() == 4 { hm[2..].parse().ok()? } else { 0 };
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 60 + m)
        }
    };
    let local =
        days_from_civil(year, month, day) * 86_400_000 + hour * 3_600_000 + minute * 60_000 + second * 1000 + milli;
    Some(local - offset_minutes * 60_000)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Milliseconds since the epoch now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_matches_java() {
        assert_eq!(fixed(1.23456, 4), "1.2346");
        assert_eq!(fixed(f64::INFINITY, 4), "Infinity");
        assert_eq!(fixed(f64::NAN, 2), "NaN");
        assert_eq!(fixed(-f64::INFINITY, 1), "-Infinity");
    }

    #[test]
    fn datetimes_as_kafka_reads_them() {
        // 2024-02-29T13:05:09.007Z
        assert_eq!(parse_datetime("2024-02-29T13:05:09.007"), Ok(1_709_211_909_007));
        assert_eq!(parse_datetime("2024-02-29T13:05:09.007Z"), Ok(1_709_211_909_007));
        assert_eq!(parse_datetime("2024-02-29T15:05:09.007+02:00"), Ok(1_709_211_909_007));
        assert_eq!(parse_datetime("2024-02-29T08:35:09.007-0430"), Ok(1_709_211_909_007));
        assert_eq!(parse_datetime("2024-02-29T14:05:09.007+01"), Ok(1_709_211_909_007));
        assert_eq!(parse_datetime("1970-01-01T00:00:00.000"), Ok(0));
        assert!(parse_datetime("2024-02-29").unwrap_err().contains("does not contain a 'T'"));
        assert_eq!(
            parse_datetime("2023-02-29T00:00:00.000"),
            Err("Unparseable date: \"2023-02-29T00:00:00.000Z\"".into())
        );
        assert!(parse_datetime("2024-01-01T00:00:00").is_err(), "milliseconds are required");
        assert!(parse_datetime("2024-01-01T24:00:00.000").is_err());
        assert!(parse_datetime("2024-01-01T00:00:00.000+25:00").is_err());
    }

    #[test]
    fn kafka_default_date_format() {
        let f = DateFormat::new("yyyy-MM-dd HH:mm:ss:SSS").unwrap();
        // 2024-02-29T13:05:09.007Z
        assert_eq!(f.format(1_709_211_909_007), "2024-02-29 13:05:09:007");
        assert_eq!(f.format(0), "1970-01-01 00:00:00:000");
        let g = DateFormat::new("EEE, d MMM yy 'at' h:mm a (D) z").unwrap();
        assert_eq!(g.format(1_709_211_909_007), "Thu, 29 Feb 24 at 1:05 PM (60) UTC");
        assert!(DateFormat::new("ww").is_err());
        assert!(DateFormat::new("'open").is_err());
    }
}
