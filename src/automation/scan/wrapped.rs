//! Base64 broken by whitespace: GNU `base64` and MIME wrap at 76 columns, PEM at 64, some
//! writers put a space between groups; the line breaks may be real (`\n`, `\r\n`) or JSON
//! escapes in nested JSON text (`\\n`), which [`View`](super::escape::View) has already decoded.
//!
//! [`squeeze`] removes whitespace that sits between base64 groups (after a stretch of base64
//! characters whose length is a multiple of four, before another base64 character), so that the
//! run can be searched as one. Such a run is reported, never rewritten: putting the breaks back
//! at the same columns is left for later.

use zeroize::Zeroizing;

/// The whitespace that wraps base64: space, tab, CR, LF.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// A character of either base64 alphabet.
fn is_base64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_')
}

/// `text` without the whitespace between base64 groups, and for each of its bytes where it is
/// in `text`; `None` (without allocating) when `text` holds no such whitespace. Linear.
pub(super) fn squeeze(text: &[u8]) -> Option<(Zeroizing<Vec<u8>>, Vec<usize>)> {
    // The prefilter: most strings hold no whitespace after a group.
    let first = text.iter().position(|&b| is_space(b))?;
    let mut out = Zeroizing::new(Vec::with_capacity(text.len()));
    let mut map = Vec::with_capacity(text.len());
    out.extend_from_slice(&text[..first]);
    map.extend(0..first);
    let mut group = text[..first]
        .iter()
        .rev()
        .take_while(|&&b| is_base64(b))
        .count();
    let mut removed = false;
    let mut at = first;
    while at < text.len() {
        let b = text[at];
        if is_space(b) && group >= 4 && group % 4 == 0 {
            let spaces = text[at..].iter().take_while(|&&c| is_space(c)).count();
            if text.get(at + spaces).is_some_and(|&c| is_base64(c)) {
                removed = true;
                at += spaces;
                group = 0;
                continue;
            }
        }
        group = if is_base64(b) { group + 1 } else { 0 };
        out.push(b);
        map.push(at);
        at += 1;
    }
    removed.then_some((out, map))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_between_groups_is_removed_and_mapped_back() {
        let (out, map) = squeeze(b"\"abcd\r\nefgh ij\" x").unwrap();
        assert_eq!(&*out, b"\"abcdefghij\" x");
        assert_eq!(map[5], 7);
        // After a stretch that is not whole groups, or before something that is not base64.
        assert!(squeeze(b"Basic abcd").is_none());
        assert!(squeeze(b"abcd \"x").is_none());
        assert!(squeeze(b"no spaces").is_none());
        assert!(squeeze(b"plain").is_none());
    }
}
