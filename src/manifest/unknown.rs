//! Unknown keys explained: the Heartbeat name a key stands for, the nearest known key, or the
//! keys allowed there.

use std::collections::HashMap;

use serde_json::Value;

use super::diag::Diagnostic;
use super::schema;
use super::tree::{Seg, YamlPath};
use crate::text::{Suggester, quoted_list};

/// Explains unknown keys: the Heartbeat name a key stands for, the nearest known key, or the
/// keys allowed there (looked up once per mapping, as a file may hold thousands of unknown keys).
pub(super) struct UnknownKeys<'s> {
    schema: &'s Value,
    suggester: Suggester,
    allowed: HashMap<YamlPath, (Vec<String>, String)>,
}

impl<'s> UnknownKeys<'s> {
    pub(super) fn new(schema: &'s Value) -> Self {
        Self {
            schema,
            suggester: Suggester::default(),
            allowed: HashMap::new(),
        }
    }

    /// The error for the unknown key at `path`.
    pub(super) fn explain(&mut self, path: YamlPath) -> Diagnostic {
        let mut parent = path.clone();
        let key = match parent.0.pop() {
            Some(Seg::Key(k)) => k,
            _ => String::new(),
        };
        let schema = self.schema;
        let (allowed, listed) = self.allowed.entry(parent).or_insert_with_key(|parent| {
            let keys = schema::keys_at(schema, parent);
            let listed = quoted_list(&keys);
            (keys, listed)
        });
        let hint = match (
            heartbeat_name(&key),
            self.suggester
                .closest(&key, allowed.iter().map(String::as_str)),
        ) {
            (Some(ours), _) => format!("Heartbeat's `{key}` is `{ours}` here"),
            (None, Some(near)) => format!("did you mean `{near}`?"),
            (None, None) => format!("keys allowed here: {listed}"),
        };
        Diagnostic::error(path, format!("unknown key `{key}`"))
            .at_key()
            .hint(hint)
    }
}

/// ha.cf / haresources words that operators coming from Heartbeat will type.
fn heartbeat_name(key: &str) -> Option<&'static str> {
    Some(match key {
        "keepalive" => "heartbeat.interval",
        "deadtime" => "heartbeat.dead_after",
        "warntime" => "heartbeat.warn_after",
        "initdead" => "heartbeat.initial_dead",
        "udpport" => "heartbeat.port",
        "bcast" | "mcast" | "ucast" => "heartbeat.links",
        "auto_failback" => "groups.NAME.failback",
        "node" => "nodes",
        "ping" | "ping_group" => "connectivity.ping",
        "stonith" | "stonith_host" => "fencing",
        "authkeys" => "auth.key_file",
        _ => return None,
    })
}
