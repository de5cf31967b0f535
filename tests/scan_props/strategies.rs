//! The proptest strategies over rule-like JSON with a token planted in every form, shared by
//! the scanner's property tests (`scan_props`) and the byte prefilter's (`scan_bytes`).
#![allow(dead_code)]

use base64::Engine as _;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

pub fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Old and new tokens that differ (distinct prefixes), with characters that need
/// percent-encoding or JSON escaping now and then.
pub fn tokens() -> impl Strategy<Value = (String, String)> {
    let body = "[A-Za-z0-9_=+/-]{6,24}";
    (body, body).prop_map(|(a, b)| (format!("ATOLD{a}"), format!("ATNEW{b}")))
}

/// `text` with the bytes `mask` selects (cycling) percent-encoded in one hex case.
pub fn percent(text: &str, mask: &[bool], upper: bool) -> String {
    text.bytes()
        .enumerate()
        .map(|(i, b)| match (mask[i % mask.len()], upper) {
            (true, true) => format!("%{b:02X}"),
            (true, false) => format!("%{b:02x}"),
            (false, _) => char::from(b).to_string(),
        })
        .collect()
}

/// `text` with the bytes `mask` selects JSON-escaped behind `slashes` backslashes: `/` as `\/`
/// when `short`, everything else as `\u00XX` in one hex case.
pub fn json_escape(text: &str, mask: &[bool], upper: bool, slashes: usize, short: bool) -> String {
    let run = "\\".repeat(slashes);
    text.bytes()
        .enumerate()
        .map(|(i, b)| match (mask[i % mask.len()], b) {
            (false, _) => char::from(b).to_string(),
            (true, b'/') if short => format!("{run}/"),
            (true, _) if upper => format!("{run}u{b:04X}"),
            (true, _) => format!("{run}u{b:04x}"),
        })
        .collect()
}

/// Base64 of `text` in one of the four usual engines.
pub fn encode(text: &str, engine: usize) -> String {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD][engine % 4].encode(text)
}

/// The token in one of the forms the scanner must find, as a whole word.
pub fn form(old: String) -> impl Strategy<Value = String> {
    let email = "[a-z]{1,8}@example\\.(com|org)";
    let mask = prop::collection::vec(any::<bool>(), 1..6);
    // Text around the token inside base64: any length (so any alignment), never a token byte
    // next to it.
    let before = "([a-z@.]{0,6}[:\" ])?";
    let after = "([\"} &\n][a-z]{0,5})?";
    prop_oneof![
        Just(old.clone()),
        prop::sample::select(vec!["Bearer ", "bearer\t", "BEARER   "]).prop_map({
            let old = old.clone();
            move |scheme| format!("{scheme}{old}")
        }),
        (
            email,
            prop::sample::select(vec!["Basic ", "basic  ", "BASIC\t", "bAsIc "]),
            any::<bool>()
        )
            .prop_map({
                let old = old.clone();
                move |(e, scheme, padded)| {
                    let encoded = b64(&format!("{e}:{old}"));
                    let encoded = if padded {
                        encoded.as_str()
                    } else {
                        encoded.trim_end_matches('=')
                    };
                    format!("{scheme}{encoded}")
                }
            }),
        (before, after, 0..4usize).prop_map({
            let old = old.clone();
            move |(b, a, engine)| encode(&format!("{b}{old}{a}"), engine)
        }),
        (mask.clone(), any::<bool>()).prop_map({
            let old = old.clone();
            move |(mask, upper)| {
                format!(
                    "https://hooks.example.com/x?key={}&y=1",
                    percent(&old, &mask, upper)
                )
            }
        }),
        (mask.clone(), any::<bool>(), 1..3usize, any::<bool>()).prop_map({
            let old = old.clone();
            move |(mask, upper, slashes, short)| {
                format!(
                    "{{\"auth\":\"{}\"}}",
                    json_escape(&old, &mask, upper, slashes, short)
                )
            }
        }),
        (email, 0..4usize, any::<bool>()).prop_map({
            let old = old.clone();
            move |(e, engine, upper)| {
                let encoded = encode(&format!("{e}:{old}"), engine);
                let escaped = percent(&encoded, &[true], upper);
                // Only `+`, `/` and `=` stay escaped, as a URL encoder writes them.
                let escaped: String = escaped
                    .split('%')
                    .enumerate()
                    .map(|(i, part)| match (i, &part.get(..2)) {
                        (0, _) => part.to_owned(),
                        (_, Some(hex)) if ["2B", "2b", "2F", "2f", "3D", "3d"].contains(hex) => {
                            format!("%{part}")
                        }
                        (_, Some(hex)) => {
                            let byte = u8::from_str_radix(hex, 16).unwrap();
                            format!("{}{}", char::from(byte), &part[2..])
                        }
                        (_, None) => part.to_owned(),
                    })
                    .collect();
                format!("https://relay.example.com/in?auth={escaped}")
            }
        }),
    ]
}

/// One piece of a string: noise, or the token in one of its forms, or a decoy.
pub fn piece(old: String) -> impl Strategy<Value = String> {
    let email = "[a-z]{1,8}@example\\.(com|org)";
    prop_oneof![
        "\\PC{0,12}",
        Just(old.clone()),
        Just(format!("Bearer {old}")),
        Just(format!("bearer\t{old}")),
        email.prop_map({
            let old = old.clone();
            move |e| format!("Basic {}", b64(&format!("{e}:{old}")))
        }),
        email.prop_map({
            let old = old.clone();
            move |e| {
                let encoded = b64(&format!("{e}:{old}"));
                format!("BASIC   {}", encoded.trim_end_matches('='))
            }
        }),
        Just(format!("Basic {}", b64("someone@example.com:ATOTHERtoken"))),
        Just(format!("https://hooks.example.com/x?key={old}&y=1")),
        Just(format!(
            "https://hooks.example.com/x?key={}",
            old.replace('=', "%3D").replace('+', "%2B")
        )),
        Just(format!("{old}X")),
        Just(format!("x{old}")),
        Just("***".to_owned()),
        Just(String::new()),
        form(old),
    ]
}

/// A string made of one to three pieces.
pub fn text(old: String) -> impl Strategy<Value = String> {
    (
        prop::collection::vec(piece(old), 1..=3),
        prop::sample::select(vec!["", " ", "&", ", ", "\n"]),
    )
        .prop_map(|(pieces, sep)| pieces.join(sep))
}

pub fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "url",
            "customBody",
            "value",
            "name",
            "id",
            "keyOrValue",
            "secret",
            "headerSecure",
            "urlSecure",
            "components",
            "children",
            "conditions",
            "a/b",
            "x~y",
        ])
        .prop_map(str::to_owned),
        "[a-z]{1,6}",
    ]
}

pub fn header(old: String) -> impl Strategy<Value = Value> {
    let names = prop::sample::select(vec![
        "Authorization",
        "AUTHORIZATION",
        "X-Api-Key",
        "Content-Type",
        "",
    ]);
    let value = prop_oneof![
        text(old.clone()).prop_map(Value::String),
        (text(old), any::<bool>())
            .prop_map(|(s, secret)| { serde_json::json!({"keyOrValue": s, "secret": secret}) }),
    ];
    (names, value, any::<bool>()).prop_map(|(name, value, secure)| {
        serde_json::json!({"id": null, "name": name, "value": value, "headerSecure": secure})
    })
}

/// Rule-like JSON: nested objects and arrays, header lists, and credential strings anywhere.
pub fn rule(old: String) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        text(old.clone()).prop_map(Value::String),
    ];
    let headers = prop::collection::vec(header(old), 0..4).prop_map(|headers| {
        let mut map = Map::new();
        map.insert("headers".into(), Value::Array(headers));
        Value::Object(map)
    });
    let leaf = prop_oneof![3 => leaf, 1 => headers];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

pub fn case() -> impl Strategy<Value = (String, String, Value)> {
    tokens().prop_flat_map(|(old, new)| (Just(old.clone()), Just(new), rule(old)))
}

/// Marks a string that holds a planted token: noise never has it (`\\PC` excludes format
/// characters).
pub const MARK: char = '\u{2063}';

/// A string holding the token in some form, marked, with noise around it.
pub fn planted(old: String) -> impl Strategy<Value = String> {
    ("\\PC{0,8}", form(old), "\\PC{0,8}")
        .prop_map(|(before, form, after)| format!("{before}{MARK} {form} {after}"))
}

/// Noise and decoys that look like the token without being it.
pub fn decoy(old: String) -> impl Strategy<Value = String> {
    let last = if old.ends_with('Q') { 'R' } else { 'Q' };
    let other = format!("{}{last}", &old[..old.len() - 1]);
    prop_oneof![
        "\\PC{0,12}",
        Just(format!("{old}X")),
        Just(format!("x{old}")),
        Just(format!("{old}%58")),
        Just(format!("\\u0041{old}")),
        Just(old[..old.len() - 1].to_owned()),
        Just(other.clone()),
        Just(format!("Basic {}", b64(&format!("a@example.com:{other}")))),
        Just(b64(&format!("a@example.com:{old}X"))),
        Just(b64(&format!("a@example.com:x{old}"))),
        Just("***".to_owned()),
    ]
}

/// Keys without `keyOrValue` or `secret`, so that planted strings are never secret references.
pub fn plain_key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "url",
            "customBody",
            "value",
            "name",
            "id",
            "headerSecure",
            "urlSecure",
            "components",
            "children",
            "a/b",
            "x~y",
        ])
        .prop_map(str::to_owned),
        "[a-z]{1,6}",
    ]
}

/// Rule-like JSON whose strings come from `leaf`; Data Center secret references hold a name.
pub fn rule_of(leaf: BoxedStrategy<String>) -> impl Strategy<Value = Value> {
    let names = prop::sample::select(vec![
        "Authorization",
        "authorization",
        "X-Api-Key",
        "Accept",
        "",
    ]);
    let header_value = prop_oneof![
        3 => leaf.clone().prop_map(Value::String),
        1 => leaf.clone().prop_map(|s| json!({"keyOrValue": s, "secret": false})),
        1 => Just(json!({"keyOrValue": "STORED_SECRET_NAME", "secret": true})),
    ];
    let header = (names, header_value, any::<bool>()).prop_map(|(name, value, secure)| {
        json!({"id": null, "name": name, "value": value, "headerSecure": secure})
    });
    let headers =
        prop::collection::vec(header, 0..4).prop_map(|headers| json!({"headers": headers}));
    let scalar = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        leaf.prop_map(Value::String),
    ];
    let base = prop_oneof![3 => scalar, 1 => headers];
    base.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((plain_key(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// A rule with the token planted in some strings (marked) among decoys.
pub fn planted_case() -> impl Strategy<Value = (String, String, Value)> {
    tokens().prop_flat_map(|(old, new)| {
        let leaf = prop_oneof![2 => decoy(old.clone()), 1 => planted(old.clone())].boxed();
        (Just(old), Just(new), rule_of(leaf))
    })
}

/// A rule with decoys only.
pub fn clean_case() -> impl Strategy<Value = (String, Value)> {
    tokens().prop_flat_map(|(old, _)| (Just(old.clone()), rule_of(decoy(old).boxed())))
}
