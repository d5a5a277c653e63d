//! Heartbeat authentication keys: the key file format, its parser and the key generator.
//!
//! One key per line, `ID HEX-SECRET`, `#` starting a comment. The first key signs outgoing
//! heartbeats; every key is accepted on input, which is what makes rotation hitless: add the new
//! key second everywhere, move it first everywhere, then drop the old one. [`keygen`] writes
//! key files.

mod keygen;

use std::fmt::Write as _;

use hmac::{Hmac, KeyInit};
use sha2::Sha256;

pub use keygen::{KeygenMode, keygen};

/// Secrets shorter than this many bytes are refused.
pub const MIN_SECRET_BYTES: usize = 32;

/// One key: an id carried in each heartbeat and the shared secret.
#[derive(Clone)]
pub struct Key {
    /// Key id, 1 to 255.
    pub id: u8,
    /// The secret bytes.
    pub secret: Vec<u8>,
    /// HMAC-SHA256 keyed with the secret, cloned for every datagram instead of re-keyed.
    pub(crate) mac: Hmac<Sha256>,
}

impl Key {
    /// A key from its id and secret.
    pub fn new(id: u8, secret: Vec<u8>) -> Key {
        let mac = Hmac::<Sha256>::new_from_slice(&secret).expect("HMAC accepts keys of any length");
        Key { id, secret, mac }
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.id == other.id && self.secret == other.secret
    }
}

impl Eq for Key {}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets, even in debug output.
        write!(
            f,
            "Key {{ id: {}, secret: <{} bytes> }}",
            self.id,
            self.secret.len()
        )
    }
}

/// The keys of a cluster, the signing key first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRing {
    keys: Vec<Key>,
}

/// A problem in a key file, with the line it is on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct KeyFileError {
    /// Line, from 1 (0 for the file as a whole).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl KeyRing {
    /// Parses key file text, reporting every bad line.
    pub fn parse(text: &str) -> Result<KeyRing, Vec<KeyFileError>> {
        let mut keys: Vec<Key> = Vec::new();
        let mut errors = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let content = line.split('#').next().unwrap_or("").trim();
            if content.is_empty() {
                continue;
            }
            let err = |message: String| KeyFileError {
                line: i + 1,
                message,
            };
            match parse_line(content) {
                Ok(key) if keys.iter().any(|k| k.id == key.id) => {
                    errors.push(err(format!("key id {} is used twice", key.id)))
                }
                Ok(key) => keys.push(key),
                Err(message) => errors.push(err(message)),
            }
        }
        if keys.is_empty() && errors.is_empty() {
            errors.push(KeyFileError {
                line: 0,
                message: "no keys: write `1 <64 hex digits>` or run `haagentctl keygen`".into(),
            });
        }
        if errors.is_empty() {
            Ok(KeyRing { keys })
        } else {
            Err(errors)
        }
    }

    /// The key that signs outgoing heartbeats.
    pub fn signing(&self) -> &Key {
        &self.keys[0]
    }

    /// The key with this id, if accepted.
    pub fn get(&self, id: u8) -> Option<&Key> {
        self.keys.iter().find(|k| k.id == id)
    }

    /// All keys, signing key first.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }
}

fn parse_line(content: &str) -> Result<Key, String> {
    let mut words = content.split_whitespace();
    let (Some(id), Some(hex), None) = (words.next(), words.next(), words.next()) else {
        return Err("expected `ID HEX-SECRET`".into());
    };
    let id = match id.parse::<u8>() {
        Ok(n) if n > 0 => n,
        // A long first word may be a secret written first (`SECRET ID`): the journal would
        // keep it, so only a word as short as an id is quoted back.
        _ if id.chars().count() > 8 => {
            return Err(format!(
                "the key id (the first word, {} characters) is not a number from 1 to 255",
                id.chars().count()
            ));
        }
        _ => return Err(format!("key id `{id}` is not a number from 1 to 255")),
    };
    let secret =
        decode_hex(hex).ok_or_else(|| format!("the secret of key {id} is not hexadecimal"))?;
    if secret.len() < MIN_SECRET_BYTES {
        return Err(format!(
            "the secret of key {id} has {} bytes; at least {MIN_SECRET_BYTES} are needed",
            secret.len()
        ));
    }
    Ok(Key::new(id, secret))
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

fn encode_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX64: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    #[test]
    fn parses_keys_comments_and_order() {
        let ring = KeyRing::parse(&format!("# rotation\n2 {HEX64}\n\n1 {HEX64}  # old\n")).unwrap();
        assert_eq!(ring.signing().id, 2);
        assert_eq!(ring.keys().len(), 2);
        assert_eq!(ring.get(1).unwrap().secret[1], 0x11);
        assert!(ring.get(3).is_none());
    }

    #[test]
    fn reports_every_bad_line() {
        let text = format!(
            "0 {HEX64}\n1 abc\n2 {}\n3\n4 {HEX64}\n4 {HEX64}\n",
            &HEX64[..32]
        );
        let errors = KeyRing::parse(&text).unwrap_err();
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [1, 2, 3, 4, 6]);
        assert!(errors[2].message.contains("16 bytes"), "{}", errors[2]);
        assert!(KeyRing::parse("# nothing\n").is_err());
    }

    // Found by the fuzz target `keyfile`: a line with its words swapped printed the secret in
    // the error, which the daemon writes to the journal.
    #[test]
    fn a_swapped_line_does_not_quote_its_secret() {
        let errors = KeyRing::parse(&format!("{HEX64} 1\n")).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(!errors[0].message.contains(&HEX64[..16]), "{}", errors[0]);
        assert!(errors[0].message.contains("64 characters"), "{}", errors[0]);
        let short = KeyRing::parse(&format!("x1 {HEX64}\n")).unwrap_err();
        assert!(short[0].message.contains("`x1`"), "{}", short[0]);
    }

    #[test]
    fn debug_output_hides_secrets() {
        let ring = KeyRing::parse(&format!("1 {HEX64}\n")).unwrap();
        assert!(!format!("{ring:?}").contains("00112233"));
    }
}
