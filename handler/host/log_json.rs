//! The JSON log line, written straight into the line's buffer.
//!
//! The same line as `tracing_subscriber`'s JSON format with the settings the handler used
//! (`.json().with_current_span(false)`) — `{"timestamp":…,"level":…,"fields":{…},"target":…}`,
//! then `"spans":[…]` when the event is inside spans — key for key and byte for byte (the test
//! below runs both on the same events). What differs is the path: that format serializes through
//! `serde_json` into an adaptor that turns every piece back into `str` (`from_utf8`) and writes it
//! through `fmt::Write`; escaping the dry-run plan (a JSON document in a string field) alone took
//! most of the logging's share of an event's CPU. Here strings are escaped in runs straight into
//! the line (`escape`, 8 bytes at a time where there is nothing to escape), and numbers are
//! written with `itoa`/`ryu` as `serde_json` writes them. Each thread keeps its line buffer
//! from line to line, and the time's text up to the second (`push_time`).

use std::fmt::{self, Write as _};

use crate::json_text::{escape, push_escaped};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The event format: one JSON object per line (see the module docs). Pair it with
/// [`JsonFields`] as the field formatter, so spans keep their fields as JSON.
pub struct JsonLines;

impl<S> FormatEvent<S, JsonFields> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, JsonFields>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        // The line is built in this thread's buffer, kept from line to line (a dry-run line is
        // over a kilobyte: a fresh `String` would be grown several times for each).
        let mut line = LINE.take();
        line.clear();
        line.push_str("{\"timestamp\":\"");
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        if !now.is_ok_and(|since_epoch| push_time(&mut line, since_epoch)) {
            SystemTime.format_time(&mut Writer::new(&mut line))?;
        }
        line.push_str("\",\"level\":\"");
        line.push_str(meta.level().as_str());
        line.push_str("\",\"fields\":{");
        let mut fields = Fields { line, first: true };
        event.record(&mut fields);
        let mut line = fields.line;
        line.push_str("},\"target\":");
        escape(&mut line, meta.target());
        let current = event.parent().and_then(|id| ctx.span(id)).or_else(|| ctx.lookup_current());
        if current.is_some() {
            line.push_str(",\"spans\":[");
            if let Some(leaf) = ctx.lookup_current() {
                for (i, span) in leaf.scope().from_root().enumerate() {
                    if i > 0 {
                        line.push(',');
                    }
                    let ext = span.extensions();
                    let recorded = ext.get::<FormattedFields<JsonFields>>().map(|f| f.fields.as_str()).unwrap_or("");
                    // JsonFields keeps a span's fields as one JSON object (or nothing yet).
                    let inner = recorded.strip_prefix('{').and_then(|r| r.strip_suffix('}')).unwrap_or("");
                    line.push('{');
                    line.push_str(inner);
                    line.push_str(if inner.is_empty() { "\"name\":" } else { ",\"name\":" });
                    escape(&mut line, span.metadata().name());
                    line.push('}');
                }
            }
            line.push(']');
        }
        line.push_str("}\n");
        let written = writer.write_str(&line);
        LINE.set(line);
        written
    }
}

thread_local! {
    /// Each thread's line buffer ([`JsonLines`]).
    static LINE: std::cell::Cell<String> = const { std::cell::Cell::new(String::new()) };
    /// The second a thread last wrote a time for, and its text up to the seconds ([`push_time`]).
    static SECOND: std::cell::RefCell<(u64, String)> = const { std::cell::RefCell::new((u64::MAX, String::new())) };
}

/// The time `since_epoch` after 1970 as tracing-subscriber's `SystemTime` writes it,
/// `2026-12-04T18:31:26.921114Z`: the text up to the seconds is kept from the thread's line
/// before while the second is the same, so only the microseconds are written for each line.
/// `false` (nothing written) for a time past jiff's last instant (9999-12-30T22:00:00Z): the
/// caller then has tracing-subscriber write it.
fn push_time(line: &mut String, since_epoch: std::time::Duration) -> bool {
    let seconds = since_epoch.as_secs();
    let known = SECOND.with_borrow_mut(|(second, text)| {
        if *second != seconds {
            // Years 1970–9999: four digits, as tracing-subscriber writes them.
            let Some(at) = i64::try_from(seconds).ok().and_then(|s| jiff::Timestamp::from_second(s).ok()) else { return false };
            text.clear();
            let _ = write!(text, "{}", at.strftime("%Y-%m-%dT%H:%M:%S"));
            *second = seconds;
        }
        line.push_str(text);
        true
    });
    if !known {
        return false;
    }
    let micros = since_epoch.subsec_micros();
    line.push('.');
    let mut digits = [b'0'; 6];
    let mut rest = micros;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    line.push_str(std::str::from_utf8(&digits).expect("ASCII digits"));
    line.push('Z');
    true
}

/// Writes an event's fields as the members of a JSON object.
struct Fields {
    line: String,
    first: bool,
}

impl Fields {
    fn key(&mut self, field: &Field) {
        if !std::mem::take(&mut self.first) {
            self.line.push(',');
        }
        escape(&mut self.line, field.name());
        self.line.push(':');
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.key(field);
        escape(&mut self.line, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.key(field);
        // Escaped piece by piece as it is formatted (`{:?}` of a message is its text).
        self.line.push('"');
        let _ = write!(Escaping(&mut self.line), "{value:?}");
        self.line.push('"');
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        self.line.push_str(if value { "true" } else { "false" });
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        self.line.push_str(itoa::Buffer::new().format(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        self.line.push_str(itoa::Buffer::new().format(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.key(field);
        // As serde_json: finite numbers in their shortest form, NaN and infinities as null.
        if value.is_finite() {
            self.line.push_str(ryu::Buffer::new().format_finite(value));
        } else {
            self.line.push_str("null");
        }
    }
}

/// Formats into the line, escaping each piece as [`escape`] does (without the quotes).
struct Escaping<'a>(&'a mut String);

impl fmt::Write for Escaping<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        push_escaped(self.0, s);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn times_are_written_as_tracing_subscriber_writes_them_and_each_second_anew() {
        use std::time::Duration;
        let at = |secs: u64, nanos: u32| {
            let mut line = String::new();
            assert!(push_time(&mut line, Duration::new(secs, nanos)));
            line
        };
        let second = |text: &str| text.parse::<jiff::Timestamp>().unwrap().as_second() as u64;
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(at(second("2000-02-29T23:59:59Z"), 999_999_999), "2000-02-29T23:59:59.999999Z", "micros are cut, not rounded");
        // The next second, then the one before again: the kept text follows the second.
        assert_eq!(at(second("2000-03-01T00:00:00Z"), 5_000), "2000-03-01T00:00:00.000005Z");
        assert_eq!(at(second("2000-02-29T23:59:59Z"), 1_000), "2000-02-29T23:59:59.000001Z");
        assert_eq!(at(second("2026-12-04T18:31:26Z"), 921_114_000), "2026-12-04T18:31:26.921114Z");
        let last = jiff::Timestamp::MAX.as_second() as u64;
        assert_eq!(at(last, 0), "9999-12-30T22:00:00.000000Z");
        let mut line = String::new();
        assert!(!push_time(&mut line, Duration::from_secs(last + 1)), "past jiff's range");
        assert_eq!(line, "");

        // Against tracing-subscriber's own, now: the same text up to the seconds and the same
        // shape (a few tries, in case the second turns between the two).
        let now = || {
            let mut ours = String::new();
            push_time(&mut ours, std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap());
            let mut theirs = String::new();
            SystemTime.format_time(&mut Writer::new(&mut theirs)).unwrap();
            (ours, theirs)
        };
        let (ours, theirs) = (0..5).map(|_| now()).find(|(o, t)| o[..20] == t[..20]).expect("the same second in five tries");
        assert_eq!(ours.len(), theirs.len(), "{ours} / {theirs}");
        assert!(ours.ends_with('Z') && ours.as_bytes()[19] == b'.', "{ours}");
    }

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    impl Captured {
        fn lines(&self) -> Vec<String> {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap().lines().map(str::to_string).collect()
        }
    }

    /// The events the comparison logs: every kind of field, escapes, a message with arguments,
    /// events inside nested spans (with and without fields), and a `log` record.
    fn log_every_kind() {
        let plan = serde_json::json!({"action": "log", "summary": "a \"quoted\"\nline\t\u{1}", "n": 3}).to_string();
        tracing::info!(plan = plan.as_str(), "dry-run: planned");
        tracing::info!(route = "/aks-events", event_id = %"e-1", signals = 3u64, delta = -2i64, ratio = 0.25f64, nan = f64::NAN, ok = true, "event ingested");
        tracing::warn!(error = ?std::io::Error::other("disk \"full\""), "ledger {} failed after {} tries", "write", 3);
        tracing::error!(target: "aks_cadence::custom", "no fields but the message");
        tracing::info!(message = "a message given as a field", n = 1u64);
        let outer = tracing::info_span!("outer", cluster = "c\"1", n = 2u64);
        let _outer = outer.enter();
        tracing::info!("in one span");
        let inner = tracing::info_span!("inner");
        let _inner = inner.enter();
        tracing::info!(x = 1u64, "in two spans");
        drop(_inner);
        drop(_outer);
        tracing_log::log::logger().log(&tracing_log::log::Record::builder().args(format_args!("from the log crate")).level(tracing_log::log::Level::Warn).target("some_crate::module").module_path_static(Some("some_crate::module")).file_static(Some("src/lib.rs")).line(Some(7)).build());
    }

    /// The line without its timestamp (the two runs log at different times).
    fn untimed(line: &str) -> String {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        let stamp = v["timestamp"].as_str().unwrap_or_else(|| panic!("no timestamp: {line}"));
        assert_eq!(stamp.len(), "2026-12-04T12:42:29.224160Z".len(), "{stamp}");
        line.replacen(stamp, "T", 1)
    }

    #[test]
    fn lines_are_byte_for_byte_those_of_tracing_subscribers_json_format() {
        let _ = tracing_log::LogTracer::init();
        let theirs = Captured::default();
        let subscriber = tracing_subscriber::fmt().json().with_current_span(false).with_writer(theirs.clone()).finish();
        tracing::subscriber::with_default(subscriber, log_every_kind);
        let ours = Captured::default();
        let subscriber = tracing_subscriber::fmt().fmt_fields(JsonFields::new()).event_format(JsonLines).with_writer(ours.clone()).finish();
        tracing::subscriber::with_default(subscriber, log_every_kind);
        let (theirs, ours) = (theirs.lines(), ours.lines());
        assert_eq!(theirs.len(), 8, "{theirs:#?}");
        assert!(theirs.iter().any(|l| l.contains("\"spans\":[{\"cluster\"")), "the comparison covers spans: {theirs:#?}");
        assert!(theirs.iter().any(|l| l.contains("from the log crate")), "and log records: {theirs:#?}");
        for (theirs, ours) in theirs.iter().zip(&ours) {
            assert_eq!(untimed(ours), untimed(theirs));
        }
        assert_eq!(ours.len(), theirs.len());
    }
}
