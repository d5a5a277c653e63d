//! Reading and writing the fields of a datagram body: big-endian integers, strings of at most
//! 255 bytes with a length byte, lists with a count. Reading never panics: a field that runs
//! past the end is [`DecodeError::Truncated`]; writing never cuts: a field that does not fit
//! its format is an [`EncodeError`].

use super::{DecodeError, EncodeError};

/// Reads fields from a body.
pub(super) struct Reader<'a> {
    pub buf: &'a [u8],
    pub at: usize,
}

impl Reader<'_> {
    pub fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or(DecodeError::Truncated)?;
        let out = &self.buf[self.at..end];
        self.at = end;
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_be_bytes(a))
    }

    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(a))
    }

    pub fn str(&mut self) -> Result<String, DecodeError> {
        let n = usize::from(self.u8()?);
        let bytes = self.take(n)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::Malformed)
    }

    /// A list with a one-byte count.
    pub fn list<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        let n = self.u8()?;
        (0..n).map(|_| item(self)).collect()
    }

    /// A list with a two-byte count.
    pub fn long_list<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        let n = self.u16()?;
        // Each item takes at least one byte: a count beyond what is left is a lie.
        if usize::from(n) > self.buf.len().saturating_sub(self.at) {
            return Err(DecodeError::Truncated);
        }
        (0..n).map(|_| item(self)).collect()
    }

    /// Whether everything was read.
    pub fn done(&self) -> bool {
        self.at == self.buf.len()
    }
}

/// Appends a string with its length byte.
pub(super) fn put_str(w: &mut Vec<u8>, s: &str) -> Result<(), EncodeError> {
    let n = u8::try_from(s.len()).map_err(|_| EncodeError::TooLong(cut(s)))?;
    w.push(n);
    w.extend_from_slice(s.as_bytes());
    Ok(())
}

/// A one-byte count of `n` items of `what`.
pub(super) fn count8(n: usize, what: &'static str) -> Result<u8, EncodeError> {
    u8::try_from(n).map_err(|_| EncodeError::TooMany(what))
}

/// A name cut to 60 characters for an error message.
fn cut(s: &str) -> String {
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}
