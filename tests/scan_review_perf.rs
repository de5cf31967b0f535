//! Pathological inputs for the scanner and rewriter (from the second review): measured and
//! printed, no timing asserts. Each is linear now; they took seconds to minutes when runs of
//! backslashes and base64 runs were walked again per position or per hit. Ignored by default:
//! `cargo test --release --all-features --test scan_review_perf -- --ignored --nocapture --test-threads 1`.
use atlassian_rotation::automation::rewrite::rewrite_rule;
use atlassian_rotation::automation::scan::Scanner;
use atlassian_rotation::secret::ApiToken;
use base64::Engine as _;
use serde_json::json;
use std::time::Instant;

const TOK: &str = "ATATT3xFfGF0Xq1zT7-kPv_9sWm2Lr8NbYc4HdJe6UgAo5VtKiRw3QnZlMxEyBfDpCa0=A1B2C3D4";

fn time_scan(label: &str, token: &str, body: String) {
    let rule = json!({"components": [{"value": {"customBody": body}}]});
    let t = Instant::now();
    let n = Scanner::for_token(&ApiToken::new(token))
        .scan_rule(&rule)
        .len();
    let scan = t.elapsed();
    let mut r = rule.clone();
    let t = Instant::now();
    let _ = rewrite_rule(
        &mut r,
        &ApiToken::new(token),
        &ApiToken::new("zzzz-new-token-zzzz"),
    );
    println!(
        "{label:50} len={:8} findings={n} scan={scan:?} rewrite={:?}",
        rule["components"][0]["value"]["customBody"]
            .as_str()
            .unwrap()
            .len(),
        t.elapsed()
    );
}

#[test]
#[ignore = "measures pathological inputs; run in release"]
fn perf_tiny_token_many_short_runs() {
    for n in [10_000usize, 20_000, 40_000] {
        time_scan(
            &format!("tiny token 'abcd', {n} short runs"),
            "abcd",
            "ab ".repeat(n),
        );
    }
}

#[test]
#[ignore = "measures pathological inputs; run in release"]
fn perf_one_long_run_many_interior_hits() {
    for n in [500usize, 1000, 2000, 4000] {
        // every group holds an interior of the token, none bounded: one run of n * ~104 chars
        let one =
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(format!("x{TOK}x").repeat(n));
        time_scan(&format!("1 run, {n} unbounded interiors"), TOK, one);
    }
}

#[test]
#[ignore = "measures pathological inputs; run in release"]
fn perf_megabyte_plain_and_escaped() {
    time_scan("1MB of 'A'", TOK, "A".repeat(1 << 20));
    time_scan("1MB of %41", TOK, "%41".repeat(1 << 18));
    time_scan("1MB of \\\\\\\\u0041", TOK, "\\\\\\\\u0041".repeat(1 << 17));
    time_scan(
        "1MB near-matches token minus last",
        TOK,
        format!("{} ", &TOK[..TOK.len() - 1]).repeat((1 << 20) / TOK.len()),
    );
    for n in [1usize << 14, 1 << 15, 1 << 16] {
        time_scan(&format!("{n} backslashes"), TOK, "\\".repeat(n));
    }
    // 1 << 20 backslashes: 198 s scan, 224 s rewrite in release before the fix.
    time_scan("1MB of backslashes", TOK, "\\".repeat(1 << 20));
}

#[test]
#[ignore = "measures pathological inputs; run in release"]
fn perf_whitespace_and_wrapped_base64() {
    let wrapped = |text: String| {
        let enc = base64::engine::general_purpose::STANDARD.encode(text);
        enc.as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    };
    time_scan("1MB of 'abcd '", TOK, "abcd ".repeat((1 << 20) / 5));
    time_scan(
        "1MB wrapped base64 of text",
        TOK,
        wrapped("x".repeat(3 << 18)),
    );
    time_scan(
        "1MB wrapped base64, token-like text",
        TOK,
        wrapped(format!("x{TOK}x").repeat((3 << 18) / (TOK.len() + 2))),
    );
}
