//! Why a call to the agent failed, in the classes a script tells apart by exit code (and by
//! `kind` in `status --json`): the agent is not there, the caller may not ask, the agent did
//! not answer in time, it is busy, or it refused. Also how such an error is reported.

use std::fmt;
use std::process::ExitCode;
use std::time::Duration;

use haagent::control::BUS_NAME;
use haagent::control::access::Need;
use zbus::fdo;

/// The agent cannot be reached: not running, or no system bus.
pub const EXIT_UNREACHABLE: u8 = 3;
/// The caller may not make this call.
pub const EXIT_DENIED: u8 = 4;
/// The agent holds its bus name but did not answer within the call timeout.
pub const EXIT_TIMEOUT: u8 = 5;
/// The agent's request queue is full.
pub const EXIT_BUSY: u8 = 6;

/// A failed call to the agent.
#[derive(Debug)]
pub enum Failure {
    /// Not running, or no system bus.
    Unreachable(String),
    /// Refused for who the caller is.
    Denied(String),
    /// No answer in time.
    Timeout(String),
    /// Too many requests waiting.
    Busy(String),
    /// The agent said no (an unknown name, an invalid manifest on reload).
    Refused(String),
}

impl Failure {
    /// The exit code.
    pub fn code(&self) -> u8 {
        match self {
            Failure::Unreachable(_) => EXIT_UNREACHABLE,
            Failure::Denied(_) => EXIT_DENIED,
            Failure::Timeout(_) => EXIT_TIMEOUT,
            Failure::Busy(_) => EXIT_BUSY,
            Failure::Refused(_) => 1,
        }
    }

    /// The `kind` of the JSON error object.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Unreachable(_) => "unreachable",
            Failure::Denied(_) => "denied",
            Failure::Timeout(_) => "timeout",
            Failure::Busy(_) => "busy",
            Failure::Refused(_) => "refused",
        }
    }

    /// No answer to `call` within `limit`.
    pub fn timeout(call: &str, limit: Duration) -> Failure {
        Failure::Timeout(format!(
            "haagent did not answer within {} ({call}): it holds {BUS_NAME} but does not respond (frozen or overloaded?); `systemctl status haagent` and `journalctl -u haagent` show its state, --call-timeout sets the wait",
            seconds(limit)
        ))
    }

    /// The system bus itself cannot be reached.
    pub fn no_bus(e: &zbus::Error) -> Failure {
        Failure::Unreachable(format!(
            "cannot reach the system bus: {e}; is dbus running? (`systemctl status dbus`)"
        ))
    }

    /// A failed call of `call`, which needs `need`, classified by its D-Bus error.
    pub fn of_call(e: zbus::Error, call: &str, need: Need) -> Failure {
        let zbus::Error::FDO(fdo) = e else {
            return match e {
                zbus::Error::MethodError(_, Some(msg), _) => Failure::Refused(msg),
                zbus::Error::InputOutput(_) | zbus::Error::Connection(..) => Failure::no_bus(&e),
                other => Failure::Refused(other.to_string()),
            };
        };
        match *fdo {
            fdo::Error::AccessDenied(msg) => Failure::Denied(denied(&msg, call, need)),
            fdo::Error::ServiceUnknown(_) | fdo::Error::NameHasNoOwner(_) => {
                Failure::Unreachable(format!(
                    "haagent is not on the system bus ({BUS_NAME} has no owner); is it running? (`systemctl status haagent`)"
                ))
            }
            fdo::Error::NoReply(_) | fdo::Error::Timeout(_) | fdo::Error::TimedOut(_) => {
                Failure::Timeout(format!(
                    "haagent did not answer ({call}): it holds {BUS_NAME} but does not respond (frozen or overloaded?); `systemctl status haagent` shows its state"
                ))
            }
            fdo::Error::LimitsExceeded(msg) => Failure::Busy(format!("haagent is busy: {msg}")),
            fdo::Error::InvalidArgs(msg) | fdo::Error::Failed(msg) => Failure::Refused(msg),
            other => Failure::Refused(other.to_string()),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Unreachable(m)
            | Failure::Denied(m)
            | Failure::Timeout(m)
            | Failure::Busy(m)
            | Failure::Refused(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Failure {}

/// An AccessDenied in words: whose refusal (the agent's names the uid; the bus's names its
/// policy) and who may.
fn denied(msg: &str, call: &str, need: Need) -> String {
    let why = if msg.starts_with("uid ") {
        format!("haagent refuses: {msg}")
    } else {
        format!("the system bus's policy for {BUS_NAME} refuses this call ({call}) to this user")
    };
    let who = match need {
        Need::Read => "run as root or as a member of the haagent group",
        Need::Change => "run as root (members of the haagent group may only read the status)",
    };
    format!("not allowed: {why}; {who}")
}

fn seconds(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

/// Reports a failed agent command: the message on stderr, or (for `status --json`) a JSON
/// object `{"error", "kind"}` on stdout; the exit code is the failure's (1 for other errors).
pub fn report(e: &anyhow::Error, json: bool) -> ExitCode {
    if json {
        println!("{}", error_object(e));
    } else {
        eprintln!("haagentctl: {e:#}");
    }
    ExitCode::from(e.downcast_ref::<Failure>().map_or(1, Failure::code))
}

/// `{"error": MESSAGE, "kind": KIND}`, the kind `failed` for errors other than a [`Failure`].
fn error_object(e: &anyhow::Error) -> serde_json::Value {
    let kind = e.downcast_ref::<Failure>().map_or("failed", Failure::kind);
    serde_json::json!({ "error": format!("{e:#}"), "kind": kind })
}

/// Parses `--call-timeout`: seconds, fractions allowed, above 0 and at most an hour.
pub fn parse_call_timeout(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds (e.g. 5 or 0.5)"))?;
    if !(secs > 0.0 && secs <= 3600.0) {
        return Err(format!(
            "`{s}` is out of range: give more than 0 and at most 3600 seconds"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fdo_err(e: fdo::Error) -> zbus::Error {
        zbus::Error::FDO(Box::new(e))
    }

    #[test]
    fn the_agents_refusal_is_denied_with_exit_4_and_says_who_may() {
        let msg = "uid 1001 may not call Failover: changing the cluster needs root";
        let f = Failure::of_call(
            fdo_err(fdo::Error::AccessDenied(msg.into())),
            "Failover",
            Need::Change,
        );
        assert_eq!((f.code(), f.kind()), (EXIT_DENIED, "denied"));
        let text = f.to_string();
        assert!(
            text.starts_with("not allowed: haagent refuses: uid 1001"),
            "{text}"
        );
        assert!(
            text.contains("run as root (members of the haagent group"),
            "{text}"
        );
    }

    #[test]
    fn the_bus_policys_refusal_is_denied_too() {
        let msg = "Rejected send message, 2 matched rules; type=\"method_call\"";
        let f = Failure::of_call(
            fdo_err(fdo::Error::AccessDenied(msg.into())),
            "Status",
            Need::Read,
        );
        assert_eq!(f.code(), EXIT_DENIED);
        assert!(
            f.to_string().contains(
                "refuses this call (Status) to this user; run as root or as a member of the haagent group"
            ),
            "{f}"
        );
    }

    #[test]
    fn no_owner_is_unreachable_no_reply_a_timeout_a_full_queue_busy() {
        let cases = [
            (
                fdo::Error::ServiceUnknown("x".into()),
                EXIT_UNREACHABLE,
                "unreachable",
            ),
            (
                fdo::Error::NameHasNoOwner("x".into()),
                EXIT_UNREACHABLE,
                "unreachable",
            ),
            (fdo::Error::NoReply("x".into()), EXIT_TIMEOUT, "timeout"),
            (fdo::Error::LimitsExceeded("full".into()), EXIT_BUSY, "busy"),
            (
                fdo::Error::InvalidArgs("unknown group `x`".into()),
                1,
                "refused",
            ),
        ];
        for (e, code, kind) in cases {
            let f = Failure::of_call(fdo_err(e), "Status", Need::Read);
            assert_eq!((f.code(), f.kind()), (code, kind), "{f}");
        }
        let f = Failure::of_call(
            fdo_err(fdo::Error::InvalidArgs(
                "unknown group `x`; groups: `web`".into(),
            )),
            "Failover",
            Need::Change,
        );
        assert_eq!(f.to_string(), "unknown group `x`; groups: `web`");
    }

    #[test]
    fn a_timeout_names_the_call_and_the_limit() {
        let f = Failure::timeout("Status", Duration::from_millis(1500));
        assert_eq!(f.code(), EXIT_TIMEOUT);
        assert!(
            f.to_string()
                .contains("did not answer within 1.5s (Status)"),
            "{f}"
        );
    }

    #[test]
    fn call_timeouts_are_positive_seconds_up_to_an_hour() {
        assert_eq!(parse_call_timeout("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_call_timeout("0.25"), Ok(Duration::from_millis(250)));
        for bad in ["0", "-1", "3601", "NaN", "inf", "soon", ""] {
            assert!(parse_call_timeout(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn json_errors_carry_the_message_and_the_kind() {
        let e = anyhow::Error::new(Failure::Busy("haagent is busy".into()));
        assert_eq!(
            error_object(&e),
            serde_json::json!({ "error": "haagent is busy", "kind": "busy" })
        );
        let e = anyhow::anyhow!("the status is unreadable");
        assert_eq!(error_object(&e)["kind"], "failed");
    }
}
