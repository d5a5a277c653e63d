//! systemd's escaping of strings into unit names (`systemd-escape`, `unit_name_escape` in
//! systemd's `unit-name.c`), so that a notification's instance is exactly what `%I` in the
//! template gives back: `/` becomes `-`, and every byte outside `[A-Za-z0-9:_.]` (a leading
//! `.` included) becomes `\xNN`.

/// The bytes `systemd-escape` keeps as they are (its `VALID_CHARS` without `-` and `\`,
/// which it escapes).
fn kept(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b":_.".contains(&b)
}

fn push_byte(out: &mut String, b: u8, first: bool) {
    if b == b'/' {
        out.push('-');
    } else if kept(b) && !(first && b == b'.') {
        out.push(char::from(b));
    } else {
        out.push_str(&format!("\\x{b:02x}"));
    }
}

/// `text` escaped as `systemd-escape TEXT` does.
pub fn escape(text: &str) -> String {
    escape_within(text, usize::MAX)
}

/// `text` escaped, cut before the first character whose escape would take the result over
/// `max` bytes: whole characters only, so `%I` gives back valid UTF-8.
pub fn escape_within(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut buf = [0u8; 4];
    let mut first = true;
    for c in text.chars() {
        let mut piece = String::new();
        for &b in c.encode_utf8(&mut buf).as_bytes() {
            push_byte(&mut piece, b, first);
            first = false;
        }
        if out.len().saturating_add(piece.len()) > max {
            break;
        }
        out.push_str(&piece);
    }
    out
}

/// What `%I` (or `systemd-escape --unescape`) gives back from an escaped instance; `None`
/// when it is not a valid escape.
pub fn unescape(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'-' => out.push(b'/'),
            b'\\' => {
                let hex = bytes.get(i + 1..i + 4)?;
                if hex[0] != b'x' {
                    return None;
                }
                let s = std::str::from_utf8(&hex[1..]).ok()?;
                out.push(u8::from_str_radix(s, 16).ok()?);
                i += 3;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_systemd_escape_does() {
        // Outputs of `systemd-escape` 252 for these inputs.
        assert_eq!(escape("acquire/web/alpha"), "acquire-web-alpha");
        assert_eq!(escape("a-b c"), "a\\x2db\\x20c");
        assert_eq!(escape(".hidden/x.y"), "\\x2ehidden-x.y");
        assert_eq!(escape("10.0.0.1:80"), "10.0.0.1:80");
        assert_eq!(escape("é\\"), "\\xc3\\xa9\\x5c");
        assert_eq!(escape(""), "");
    }

    #[test]
    fn round_trips_and_cuts_whole_characters() {
        let text = "peer_dead//beta/no heartbeat for 1500ms (é; 10.0.0.1/24)";
        assert_eq!(unescape(&escape(text)).as_deref(), Some(text));
        let cut = escape_within("ab é", 9);
        assert_eq!(cut, "ab\\x20");
        assert_eq!(escape_within("ab é", 14), "ab\\x20\\xc3\\xa9");
        assert!(escape_within(&"x ".repeat(500), 200).len() <= 200);
        assert_eq!(unescape("a\\x2"), None);
        assert_eq!(unescape("a\\y20"), None);
    }
}
