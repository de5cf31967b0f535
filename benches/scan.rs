//! `scan_vs_parse`: how fast the scanner finds a token in an export a user holds as bytes
//! (`Scanner::scan_export_bytes`: the bytes searched for every form of the token, only the rules
//! that could hold it parsed), against parsing the same bytes with serde_json alone;
//! `scan_vs_jq`: against `jq` doing the same search, when `jq` is on PATH. Each pass of ours
//! checks that it found the same findings as the full scan (`Scanner::scan_export` over the
//! parsed export), and the same rules holding the token as the fake says.
//!
//! The corpus is 10,000 rules from the fake's rule generator (nested IF/ELSE blocks and branches,
//! web requests), 10% of them holding the token in one of its forms (Basic, Bearer, bare, in a
//! URL), the rest holding masks, secret references, other accounts' tokens or nothing.
//!
//! ```text
//! cargo bench --bench scan
//! ```

mod support;

use std::hint::black_box;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Instant;

use atlassian_rotation::automation::{FindingStatus, RuleDocument, Scanner};
use atlassian_rotation::secret::ApiCredentials;
use serde_json::Value;
use support::{CLOUD_ID, Served, World, basic_of, bench_line, median, selected};

const RULES: usize = 10_000;
const PASSES: usize = 5;

fn main() {
    if !selected("scan_vs_parse") && !selected("scan_vs_jq") {
        return;
    }
    let (corpus, old, holding) = corpus();
    let bytes: usize = corpus.iter().map(Vec::len).sum();
    let mb = bytes as f64 / 1e6;
    eprintln!("scan: {RULES} rules, {mb:.1} MB, {holding} holding the token, {PASSES} passes each");

    let scanner = Scanner::for_token(old.token());
    // The export as a user holds it: `{"rules": [...]}`.
    let export = export_of(&corpus);
    let full = {
        let value: Value = serde_json::from_slice(&export).expect("the export parses");
        scanner.scan_export(&value).expect("the export scans")
    };
    let holding_rules = |findings: &[atlassian_rotation::automation::Finding]| {
        findings
            .iter()
            .filter(|f| f.status == FindingStatus::Match)
            .filter_map(|f| f.rule_index)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    };
    assert_eq!(
        holding_rules(&full),
        holding,
        "the full scan missed or invented a match"
    );
    let scan_pass = || {
        let started = Instant::now();
        let findings = scanner
            .scan_export_bytes(&export)
            .expect("the export scans");
        let took = started.elapsed().as_secs_f64();
        assert!(
            findings == full,
            "the byte path found something else than the full scan"
        );
        mb / took
    };
    let parse_pass = || {
        let started = Instant::now();
        let value: Value = serde_json::from_slice(&export).expect("the export parses");
        black_box(value);
        mb / started.elapsed().as_secs_f64()
    };
    // Warm the caches and the allocator once, then interleave the passes so drift hits both.
    scan_pass();
    parse_pass();
    let (mut ours, mut baseline) = (Vec::new(), Vec::new());
    for _ in 0..PASSES {
        ours.push(scan_pass());
        baseline.push(parse_pass());
    }
    let ours = median(&mut ours);
    if selected("scan_vs_parse") {
        bench_line(
            "scan_vs_parse",
            ours,
            median(&mut baseline),
            "MB/s",
            "higher",
        );
    }
    if selected("scan_vs_parse") {
        typed_read_breakdown(&corpus, &scanner);
    }
    if selected("scan_vs_jq") {
        match jq_throughput(&corpus, &old, holding, mb) {
            Some(jq) => bench_line("scan_vs_jq", ours, jq, "MB/s", "higher"),
            None => eprintln!("scan_vs_jq: jq is not on PATH; skipped"),
        }
    }
}

/// Diagnostic (stderr only): what one rule read costs through the typed model (`get_rule`:
/// decode into `RuleDocument` through `serde_path_to_error`, then `Rule::to_value` to scan)
/// against raw JSON (`get_rule_json`, what `AutomationTokenRotator` reads: parse into a
/// `Value` and scan).
fn typed_read_breakdown(corpus: &[Vec<u8>], scanner: &Scanner) {
    let bodies: Vec<Vec<u8>> = corpus
        .iter()
        .map(|rule| [br#"{"rule":"#.as_slice(), rule, br#","connections":[]}"#].concat())
        .collect();
    let (mut decode, mut to_value, mut scan, mut parse) = (0.0, 0.0, 0.0, 0.0);
    for body in &bodies {
        let started = Instant::now();
        let mut de = serde_json::Deserializer::from_slice(body);
        let doc: RuleDocument = serde_path_to_error::deserialize(&mut de).expect("a document");
        let decoded = Instant::now();
        let rule = doc.rule.to_value().expect("a rule value");
        let valued = Instant::now();
        black_box(scanner.scan_rule(&rule));
        let scanned = Instant::now();
        let value: Value = serde_json::from_slice(body).expect("a document");
        black_box(value);
        parse += scanned.elapsed().as_secs_f64();
        decode += (decoded - started).as_secs_f64();
        to_value += (valued - decoded).as_secs_f64();
        scan += (scanned - valued).as_secs_f64();
    }
    let per_rule = |s: f64| s * 1e6 / bodies.len() as f64;
    eprintln!(
        "scan: a rule read through the typed model: decode into RuleDocument {:.0} µs + \
         Rule::to_value {:.0} µs + scan {:.0} µs; as raw JSON (what the rotator reads): parse \
         {:.0} µs + the same scan",
        per_rule(decode),
        per_rule(to_value),
        per_rule(scan),
        per_rule(parse),
    );
}

/// The rules as one export, `{"rules": [...]}`.
fn export_of(corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut export = br#"{"rules":["#.to_vec();
    for (i, rule) in corpus.iter().enumerate() {
        if i > 0 {
            export.push(b',');
        }
        export.extend_from_slice(rule);
    }
    export.extend_from_slice(b"]}");
    export
}

/// The generated rules as the bytes a user holds, the token they hold, and how many hold it.
fn corpus() -> (Vec<Vec<u8>>, ApiCredentials, usize) {
    let served = Served::start();
    let world = World::seed(&served.fake, RULES);
    let holding = served.fake.rules_holding(&world.old).len();
    let corpus = served
        .fake
        .rule_uuids(CLOUD_ID)
        .iter()
        .map(|uuid| {
            let rule = served.fake.rule(uuid).expect("a seeded rule");
            serde_json::to_vec(&rule).expect("a rule serializes")
        })
        .collect();
    (corpus, world.old, holding)
}

/// `jq`'s throughput on the same search (every string containing the token, bare or inside
/// `base64(email:token)`), one rule per line; a single run, as jq takes seconds on the corpus. `None` without `jq`.
fn jq_throughput(corpus: &[Vec<u8>], old: &ApiCredentials, holding: usize, mb: f64) -> Option<f64> {
    let mut file = tempfile::NamedTempFile::new().expect("a temporary file");
    for rule in corpus {
        file.write_all(rule).expect("write the corpus");
        file.write_all(b"\n").expect("write the corpus");
    }
    file.flush().expect("write the corpus");
    let token = old.token().expose_secret();
    let basic = basic_of(old);
    // The token goes through the environment, never the command line.
    let filter = r#"select([.. | strings | select(contains($ENV.BENCH_TOKEN) or contains($ENV.BENCH_BASIC))] | length > 0) | .uuid"#;
    let started = Instant::now();
    let output = Command::new("jq")
        .args(["-r", filter])
        .arg(file.path())
        .env("BENCH_TOKEN", token)
        .env("BENCH_BASIC", &basic)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let elapsed = started.elapsed().as_secs_f64();
    assert!(output.status.success(), "jq failed: {}", output.status);
    let found = output
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count();
    assert_eq!(found, holding, "jq found another number of rules");
    Some(mb / elapsed)
}
