use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

use super::*;
use crate::automation::scan::escape;

const TOKEN: &str = "ATATT3xFfGF0abc=DEAD/BEEF+x";

fn kinds(needles: &Needles, hay: &str) -> Vec<SpanKind> {
    needles.spans(hay).into_iter().map(|s| s.kind).collect()
}

fn found(hay: &str) -> bool {
    Needles::new(TOKEN).is_in(hay)
}

/// Every byte of `text` percent-encoded when `pick` says so, in the given hex case.
fn percent(text: &str, upper: bool, pick: impl Fn(usize, u8) -> bool) -> String {
    text.bytes()
        .enumerate()
        .map(|(i, b)| match (pick(i, b), upper) {
            (true, true) => format!("%{b:02X}"),
            (true, false) => format!("%{b:02x}"),
            (false, _) => char::from(b).to_string(),
        })
        .collect()
}

/// Every byte of `text` JSON-escaped (`\u00XX` behind `slashes` backslashes) when `pick` says so.
fn json(text: &str, slashes: usize, upper: bool, pick: impl Fn(usize, u8) -> bool) -> String {
    let run = "\\".repeat(slashes);
    text.bytes()
        .enumerate()
        .map(|(i, b)| match (pick(i, b), upper) {
            (true, true) => format!("{run}u{:04X}", b),
            (true, false) => format!("{run}u{:04x}", b),
            (false, _) => char::from(b).to_string(),
        })
        .collect()
}

#[test]
fn a_token_inside_a_longer_run_is_not_a_match() {
    assert!(found(TOKEN));
    assert!(found(&format!("x {TOKEN}.")));
    assert!(!found(&format!("{TOKEN}0")));
    assert!(!found(&format!("_{TOKEN}")));
    assert!(!found(&format!("-{TOKEN}")));
    assert!(!found(&TOKEN[..TOKEN.len() - 1]));
    // A rejected occurrence must not hide a later bounded one.
    assert_eq!(
        kinds(&Needles::new(TOKEN), &format!("a{TOKEN} {TOKEN}")),
        [SpanKind::Raw]
    );
    // Decoded neighbours count: `%41` is `A`, `\n` is a line break.
    assert!(!found(&format!("%41{TOKEN}")));
    assert!(!found(&format!(r"\u0041{TOKEN}")));
    assert!(found(&format!(r"\n{TOKEN}\n")));
    assert!(found(&format!("%2F{TOKEN}%26")));
}

#[test]
fn percent_encoding_of_any_bytes_in_any_case_is_found() {
    for upper in [true, false] {
        let all_special = percent(TOKEN, upper, |_, b| !escape::is_unreserved(b));
        let every_byte = percent(TOKEN, upper, |_, _| true);
        let some_bytes = percent(TOKEN, upper, |i, _| i % 3 == 0);
        for hay in [all_special, every_byte, some_bytes] {
            let hay = format!("https://x.example/?t={hay}&u=1");
            assert_eq!(
                kinds(&Needles::new(TOKEN), &hay),
                [SpanKind::Escaped],
                "{hay}"
            );
        }
    }
    // Mixed hex case inside one occurrence.
    assert!(found("ATATT3xFfGF0abc%3dDEAD%2FBEEF%2bx"));
    assert!(!found("ATATT3xFfGF0abc%3dDEAD%2FBEEF%2bxy"));
}

#[test]
fn json_escapes_of_any_bytes_single_or_nested_are_found() {
    for slashes in [1, 2, 3] {
        for upper in [true, false] {
            let special = json(TOKEN, slashes, upper, |_, b| b == b'=' || b == b'+');
            let every = json(TOKEN, slashes, upper, |_, _| true);
            let some = json(TOKEN, slashes, upper, |i, _| i % 2 == 1);
            for hay in [special, every, some] {
                let hay = format!(r#"{{"auth":"{hay}"}}"#);
                assert!(found(&hay), "{hay}");
            }
        }
    }
    assert!(found(r"ATATT3xFfGF0abc\u003dDEAD\/BEEF+x"));
    assert!(found(r"ATATT3xFfGF0abc\\u003DDEAD\\\/BEEF\u002bx"));
    // Percent and JSON escapes mixed.
    assert!(found(r"ATATT3xFfGF0abc%3DDEAD\/BEEF\u002Bx"));
}

#[test]
fn base64_of_any_text_holding_the_token_is_found_at_every_alignment() {
    let needles = Needles::new(TOKEN);
    // Prefixes of every length modulo 3, so the token starts at each position of a group.
    for prefix in ["", ":", "a:", "ab:", "ops@example.com:", "{\"token\":\""] {
        for suffix in ["", "\"}", "\n", " and more"] {
            let text = format!("{prefix}{TOKEN}{suffix}");
            for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
                let encoded = engine.encode(&text);
                for hay in [
                    encoded.clone(),
                    format!("Basic {encoded}"),
                    format!("https://relay.example/?auth={encoded}&x=1"),
                    format!("{{\"auth\":\"{encoded}\"}}"),
                ] {
                    let kinds = kinds(&needles, &hay);
                    assert!(
                        matches!(kinds.as_slice(), [SpanKind::Base64(_)]),
                        "{text:?} as {hay}: {kinds:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn base64_that_is_itself_escaped_is_found() {
    let encoded = STANDARD.encode(format!("ops@example.com:{TOKEN}"));
    let percent_encoded = percent(&encoded, true, |_, b| !escape::is_unreserved(b));
    assert!(found(&format!(
        "https://relay.example/?auth={percent_encoded}"
    )));
    let json_escaped = encoded.replace('/', r"\/").replace('=', r"\u003d");
    assert!(found(&json_escaped));
}

#[test]
fn base64_of_a_longer_token_or_another_token_is_not_a_match() {
    assert!(!found(
        &STANDARD.encode(format!("ops@example.com:{TOKEN}X"))
    ));
    assert!(!found(
        &STANDARD.encode(format!("ops@example.com:X{TOKEN}"))
    ));
    assert!(!found(&STANDARD.encode("ops@example.com:ATATT3xOTHER")));
    assert!(!found("plain text, a URL https://x.example/?a=b and =&%41"));
}

#[test]
fn short_tokens_are_found_in_base64_too() {
    for token in ["t", "to", "tok", "toke"] {
        let needles = Needles::new(token);
        for prefix in ["", ":", "a:", "ab:", "a@example.com:"] {
            let encoded = STANDARD.encode(format!("{prefix}{token}"));
            assert!(needles.is_in(&format!("x {encoded} y")), "{token} {prefix}");
        }
    }
}

#[test]
fn redact_hides_every_form_even_inside_longer_runs() {
    let needles = Needles::new(TOKEN);
    let encoded = STANDARD.encode(format!("a@example.com:{TOKEN}"));
    let hay = format!(
        "Sync x{TOKEN}x {} {encoded} {}",
        percent(TOKEN, false, |_, b| !escape::is_unreserved(b)),
        json(TOKEN, 1, false, |_, _| true)
    );
    assert_eq!(
        needles.redact(hay),
        "Sync x[redacted]x [redacted] [redacted] [redacted]"
    );
    assert_eq!(needles.redact("plain".to_owned()), "plain");
    assert_eq!(needles.redact("é".to_owned()), "é");
}

#[test]
fn an_empty_token_matches_nothing() {
    let needles = Needles::new("");
    assert!(!needles.is_in("anything"));
    assert!(needles.spans("").is_empty());
    assert_eq!(needles.redact("anything".to_owned()), "anything");
}

#[test]
fn replace_keeps_each_form_and_everything_around_it() {
    let needles = Needles::new(TOKEN);
    let new = "ATNEW+9/z=Q";
    let replace = |hay: &str| -> String {
        let replaced = needles.replace(hay.as_bytes(), new.as_bytes(), 0).unwrap();
        String::from_utf8(replaced.text.to_vec()).unwrap()
    };
    assert_eq!(replace(&format!("a {TOKEN} b")), format!("a {new} b"));
    assert_eq!(
        replace("?t=ATATT3xFfGF0abc%3dDEAD%2fBEEF%2bx&u"),
        "?t=ATNEW%2b9%2fz%3dQ&u"
    );
    assert_eq!(
        replace(r#"{"t":"ATATT3xFfGF0abc\u003DDEAD\/BEEF+x"}"#),
        r#"{"t":"ATNEW+9\/z\u003DQ"}"#
    );
    for (engine, padded) in [(&STANDARD, true), (&URL_SAFE_NO_PAD, false)] {
        let before = engine.encode(format!("ops@example.com:{TOKEN}"));
        let after = engine.encode(format!("ops@example.com:{new}"));
        assert_eq!(
            replace(&format!("Basic  {before} ")),
            format!("Basic  {after} ")
        );
        assert_eq!(
            after.ends_with('='),
            padded && after.len() % 4 == 0 && after.contains('=')
        );
    }
    // A base64 run written with escapes keeps them.
    let before = STANDARD.encode(format!("x:{TOKEN}"));
    let after = STANDARD.encode(format!("x:{new}"));
    let escape = |s: &str| {
        s.replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
    };
    assert_eq!(
        replace(&format!("?a={}", escape(&before))),
        format!("?a={}", escape(&after))
    );
    assert!(
        needles
            .replace(b"nothing here", new.as_bytes(), 0)
            .is_none()
    );
}

#[test]
fn base64_runs_glued_together_are_all_rewritten() {
    // An unpadded run followed at once by another: two readings of one run overlap.
    let old = "ATOLDP3p9+=9-S1Vj=tx0k5=";
    let needles = Needles::new(old);
    let first = STANDARD_NO_PAD.encode(format!("aaa@example.com:{old}"));
    let second = STANDARD.encode(format!("\"{old}}}"));
    let hay = format!("BASIC   {first}{second}");
    let replaced = needles
        .replace(hay.as_bytes(), b"ATNEW2_=F--y19EF+-", 0)
        .unwrap();
    let text = String::from_utf8(replaced.text.to_vec()).unwrap();
    assert!(!needles.is_in(&text), "{text}");
    assert!(Needles::new("ATNEW2_=F--y19EF+-").is_in(&text), "{text}");
}
