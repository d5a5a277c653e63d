//! Fuzzes the key file parser: any text the reader hands over (at most 64 KiB of UTF-8) gives
//! keys or a list of errors, never a panic. A ring read back from its own key file is the
//! same ring; errors name a line of the file, are clipped, and quote no long word (a secret, maybe
//! in the wrong place).
//! Run: `fuzz/run 60 keyfile`.
#![no_main]

use std::fmt::Write as _;

use haagent::auth::{KeyRing, MIN_SECRET_BYTES};
use haagent::text::MAX_MESSAGE;
use libfuzzer_sys::fuzz_target;

/// What the reader takes at most (`fsguard::KEY_FILE`).
const CAP: usize = 64 << 10;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(&data[..data.len().min(CAP)]) else {
        return;
    };
    match KeyRing::parse(text) {
        Ok(ring) => {
            let keys = ring.keys();
            assert!(!keys.is_empty(), "a ring without keys");
            assert_eq!(ring.signing(), &keys[0]);
            let mut file = String::new();
            for (i, k) in keys.iter().enumerate() {
                assert!(k.id != 0, "key id 0");
                assert!(
                    keys[..i].iter().all(|o| o.id != k.id),
                    "key id {} twice",
                    k.id
                );
                assert!(k.secret.len() >= MIN_SECRET_BYTES, "a short secret");
                let hex: String = k.secret.iter().fold(String::new(), |mut s, b| {
                    let _ = write!(s, "{b:02x}");
                    s
                });
                let _ = writeln!(file, "{} {hex}", k.id);
            }
            assert_eq!(
                KeyRing::parse(&file).as_ref(),
                Ok(&ring),
                "read back differs"
            );
        }
        Err(errors) => {
            assert!(!errors.is_empty(), "an error without errors");
            let lines = text.lines().count();
            // Any long word may be a secret (in the wrong place, too): no message quotes one.
            let secrets: Vec<&str> = text
                .lines()
                .filter_map(|l| l.split('#').next())
                .flat_map(str::split_whitespace)
                .filter(|w| w.chars().count() >= 16)
                .collect();
            for e in &errors {
                assert!(e.line <= lines, "an error on line {} of {lines}", e.line);
                let message = e.to_string();
                assert!(
                    message.chars().count() <= MAX_MESSAGE,
                    "{} bytes of message",
                    message.len()
                );
                assert!(
                    !secrets.iter().any(|s| message.contains(s)),
                    "a message quotes a secret"
                );
            }
        }
    }
});
