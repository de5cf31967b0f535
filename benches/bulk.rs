//! The update phase of a token rotation across 2,000 rules (10% holding the token) against the
//! fake with a fixed 5 ms latency per request (`set_wall_clock_latency`: tokio's millisecond
//! timer would make it about 6.5 ms), the fake on a runtime and thread of its own:
//!
//! - `bulk_vs_sequential`: `AutomationTokenRotator::update` at concurrency 16 against the loop an
//!   admin's script would be: plain reqwest, list the summaries page by page, GET every rule,
//!   string-replace the token (bare and inside `base64(email:token)`) in the rules that hold it,
//!   PUT those back, one request at a time.
//! - `bulk_vs_floor`: the same run of ours against the theoretical floor: the requests that loop
//!   needs (pages + GETs + PUTs) × latency / concurrency. (Ours re-reads a rule before writing it
//!   only when its read is older than `rotate::FRESH_READ`, which it never is here.)
//! - `bulk_client_cpu_per_rule`: the client's CPU time per rule of that update (the process's
//!   CPU minus the fake's threads, from `/proc/self/task`), in µs, beside the sequential
//!   script's; the target is on ours. The same script run at concurrency 16 is printed too:
//!   what plain reqwest and loopback TCP cost a client per rule on the machine.
//! - `bulk_under_rate_limit`: the same update against the fake under a token bucket of 200
//!   requests a second, burst 20, answering 429 with `Retry-After` past it, against the time the
//!   requests it needed take at the limit (accepted requests ÷ 200 per second);
//!   `bulk_429_share`: the share of the requests sent that were answered 429.
//!
//! Every run starts from a freshly seeded fake and checks that no rule holds the old token after.
//!
//! ```text
//! cargo bench --bench bulk
//! BENCH_BULK_SWEEP=1 cargo bench --bench bulk   # also ours at concurrency 1 to 64, and the
//!                                               # concurrency and pace over time under the limit
//! ```

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use atlassian_rotation::rotate::Rotator as _;
use atlassian_rotation::secret::ApiCredentials;
use atlassian_rotation::testing::Route;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::Value;
use support::{Served, World, basic_of, bench_line, median, selected, timed};

const RULES: usize = 2_000;
const LATENCY: Duration = Duration::from_millis(5);
const CONCURRENCY: usize = 16;
const OUR_RUNS: usize = 3;
const SWEEP_ENV: &str = "BENCH_BULK_SWEEP";
/// The token bucket of `bulk_under_rate_limit`: requests per second, burst.
const RATE_LIMIT: (u32, u32) = (200, 20);

fn main() {
    let names = [
        "bulk_vs_sequential",
        "bulk_vs_floor",
        "bulk_client_cpu_per_rule",
        "bulk_under_rate_limit",
        "bulk_429_share",
    ];
    if !names.iter().any(|n| selected(n)) {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().expect("a runtime for the client");
    if std::env::var_os(SWEEP_ENV).is_some() {
        sweep(&runtime);
    }

    if selected("bulk_vs_sequential")
        || selected("bulk_vs_floor")
        || selected("bulk_client_cpu_per_rule")
    {
        unlimited(&runtime);
    }
    if selected("bulk_under_rate_limit") || selected("bulk_429_share") {
        under_rate_limit(&runtime);
    }
}

/// `bulk_vs_sequential`, `bulk_vs_floor` and `bulk_client_cpu_per_rule`.
fn unlimited(runtime: &tokio::runtime::Runtime) {
    let mut ours = Vec::new();
    let mut client_cpu = Vec::new();
    let mut our_run = Run::default();
    for _ in 0..OUR_RUNS {
        our_run = run_ours(runtime, LATENCY, CONCURRENCY, None);
        ours.push(our_run.seconds);
        client_cpu.push(our_run.cpu.1);
    }
    let ours = median(&mut ours);
    let client_cpu = median(&mut client_cpu);
    let (our_requests, our_cpu) = (our_run.counts, our_run.cpu);
    // The same run without latency: how long the CPU work alone takes, client and fake.
    let cpu_bound = run_ours(runtime, Duration::ZERO, CONCURRENCY, None).seconds;

    let (baseline, theirs, their_cpu) = run_script(runtime, 1);
    // The same script at our concurrency: what reqwest and loopback TCP alone cost a client
    // per rule on this machine, for the CPU figure beside it.
    let (_, _, reqwest_cpu) = run_script(runtime, CONCURRENCY);

    let floor = theirs.total() as f64 * LATENCY.as_secs_f64() / CONCURRENCY as f64;
    eprintln!(
        "bulk: {RULES} rules, {} holding, {} ms latency, concurrency {CONCURRENCY}; \
         ours (median of {OUR_RUNS}) {ours:.3} s with {our_requests}; \
         sequential {baseline:.3} s with {theirs} ({:.2} ms per request); \
         floor {floor:.3} s; ours without latency {cpu_bound:.3} s",
        our_run.rewritten,
        LATENCY.as_millis(),
        baseline * 1e3 / theirs.total() as f64,
    );
    for (who, (fake, client), counts) in [
        ("ours", our_cpu, our_requests),
        ("sequential", their_cpu, theirs),
    ] {
        let per = |s: f64| s * 1e6 / counts.total() as f64;
        eprintln!(
            "bulk: {who} CPU per request: client {:.0} µs, fake {:.0} µs; client CPU per rule \
             {:.0} µs",
            per(client),
            per(fake),
            client * 1e6 / RULES as f64,
        );
    }
    eprintln!(
        "bulk: the script at concurrency {CONCURRENCY} (reqwest alone): client CPU per rule \
         {:.0} µs",
        reqwest_cpu.1 * 1e6 / RULES as f64
    );
    // The floor with this machine's own round trip (what one request of the sequential script
    // takes: latency, loopback HTTP, the fake) in place of the bare latency.
    let round_trip_floor =
        baseline / theirs.total() as f64 * our_requests.total() as f64 / CONCURRENCY as f64;
    eprintln!(
        "bulk: one request of the sequential script takes {:.3} times the latency; ours is {:.3} \
         times its round trip ({:.2} ms) × requests ÷ concurrency ({round_trip_floor:.3} s)",
        baseline / (theirs.total() as f64 * LATENCY.as_secs_f64()),
        ours / round_trip_floor,
        baseline * 1e3 / theirs.total() as f64,
    );
    if selected("bulk_vs_sequential") {
        bench_line("bulk_vs_sequential", ours, baseline, "s", "lower");
    }
    if selected("bulk_vs_floor") {
        bench_line("bulk_vs_floor", ours, floor, "s", "lower");
    }
    if selected("bulk_client_cpu_per_rule") {
        // Against what the sequential script's client spends per rule (reqwest, a string
        // search and replace): the target is on ours alone.
        bench_line(
            "bulk_client_cpu_per_rule",
            client_cpu * 1e6 / RULES as f64,
            their_cpu.1 * 1e6 / RULES as f64,
            "us",
            "lower",
        );
    }
}

/// Times [`script`] at `concurrency` on a freshly seeded fake: seconds, requests, CPU (fake,
/// client).
fn run_script(runtime: &tokio::runtime::Runtime, concurrency: usize) -> (f64, Counts, (f64, f64)) {
    let served = Served::start();
    let world = World::seed(&served.fake, RULES);
    let holding = served.fake.rules_holding(&world.old).len();
    served.fake.set_wall_clock_latency(LATENCY);
    let cpu = Cpu::start();
    let (written, took) = runtime.block_on(timed(script(&world, concurrency)));
    let cpu = cpu.stop();
    assert_eq!(written, holding, "the script rewrites every holding rule");
    check_rotated(&served, &world, holding);
    (took.as_secs_f64(), Counts::of(&served), cpu)
}

/// `bulk_under_rate_limit` and `bulk_429_share`: the same update against a token bucket of
/// [`RATE_LIMIT`], against the time the requests it needed take at that rate.
fn under_rate_limit(runtime: &tokio::runtime::Runtime) {
    let (rate, burst) = RATE_LIMIT;
    let mut runs: Vec<Run> = (0..OUR_RUNS)
        .map(|_| run_ours(runtime, LATENCY, CONCURRENCY, Some(RATE_LIMIT)))
        .collect();
    runs.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    let run = &runs[runs.len() / 2];
    let sent = run.counts.total();
    let accepted = sent - run.limited as usize;
    let baseline = accepted as f64 / f64::from(rate);
    let share = run.limited as f64 / sent as f64;
    eprintln!(
        "bulk under a rate limit of {rate}/s (burst {burst}), {} ms latency, concurrency \
         {CONCURRENCY}: {:.3} s (median of {OUR_RUNS}), {sent} requests sent, {} answered 429 \
         ({:.1}%), paced at {:.1}/s at the end; {accepted} accepted take {baseline:.3} s at the \
         limit",
        LATENCY.as_millis(),
        run.seconds,
        run.limited,
        share * 100.0,
        run.paced.unwrap_or(f64::NAN),
    );
    if selected("bulk_under_rate_limit") {
        bench_line("bulk_under_rate_limit", run.seconds, baseline, "s", "lower");
    }
    if selected("bulk_429_share") {
        bench_line("bulk_429_share", share, 1.0, "share", "lower");
    }
}

/// Diagnostic, with `BENCH_BULK_SWEEP=1`: our update at several concurrencies, with and
/// without latency, then the adaptive concurrency and the pace over time under the rate limit.
fn sweep(runtime: &tokio::runtime::Runtime) {
    for concurrency in [1, 4, 16, 32, 64] {
        let with = run_ours(runtime, LATENCY, concurrency, None).seconds;
        let without = run_ours(runtime, Duration::ZERO, concurrency, None).seconds;
        eprintln!(
            "bulk sweep: concurrency {concurrency:>2}: {with:.3} s with {} ms latency, {without:.3} s without",
            LATENCY.as_millis()
        );
    }
    let run = run_ours(runtime, LATENCY, CONCURRENCY, Some(RATE_LIMIT));
    for (at, scanned, concurrency, paced, limited) in run.trace {
        eprintln!(
            "bulk sweep: rate limit {}/s: {at:>6.3} s: {scanned:>4} rules, concurrency \
             {concurrency:>2}, paced at {}, {limited} answered 429 so far",
            RATE_LIMIT.0,
            paced.map_or("-".to_owned(), |p| format!("{p:.1}/s")),
        );
    }
}

/// One timed update.
#[derive(Default)]
struct Run {
    seconds: f64,
    counts: Counts,
    cpu: (f64, f64),
    /// Rules rewritten.
    rewritten: usize,
    /// Rate-limit answers the client received.
    limited: u64,
    /// The client's pace at the end.
    paced: Option<f64>,
    /// Every 100 rules: seconds since the start, rules visited, concurrency, pace, 429s.
    trace: Vec<(f64, usize, usize, Option<f64>, u64)>,
}

/// Times `AutomationTokenRotator::update` at `concurrency` on a freshly seeded fake answering
/// after `latency`, under a token bucket of `(rate, burst)` when given.
fn run_ours(
    runtime: &tokio::runtime::Runtime,
    latency: Duration,
    concurrency: usize,
    limit: Option<(u32, u32)>,
) -> Run {
    let served = Served::start();
    let world = World::seed(&served.fake, RULES);
    let holding = served.fake.rules_holding(&world.old).len();
    served.fake.set_wall_clock_latency(latency);
    let automation = world.automation();
    let trace = Arc::new(Mutex::new(Vec::new()));
    let started = std::time::Instant::now();
    let rotator = world
        .rotator_on(automation.clone(), concurrency)
        .on_progress({
            let (trace, automation) = (Arc::clone(&trace), automation.clone());
            move |p| {
                if p.scanned % 100 == 0 {
                    trace.lock().expect("the trace").push((
                        started.elapsed().as_secs_f64(),
                        p.scanned,
                        p.concurrency,
                        automation.paced_rate(),
                        automation.rate_limit_hits(),
                    ));
                }
            }
        });
    if let Some((rate, burst)) = limit {
        served.fake.rate_limit_per_second(rate, burst);
    }
    let cpu = Cpu::start();
    let (updated, took) = runtime.block_on(timed(rotator.update(&world.new)));
    let cpu = cpu.stop();
    served.fake.clear_rate_limit();
    let updated = updated.expect("the update succeeds");
    assert_eq!(
        updated.rewritten, holding,
        "every holding rule is rewritten"
    );
    check_rotated(&served, &world, holding);
    let trace = std::mem::take(&mut *trace.lock().expect("the trace"));
    Run {
        rewritten: updated.rewritten,
        seconds: took.as_secs_f64(),
        counts: Counts::of(&served),
        cpu,
        limited: automation.rate_limit_hits(),
        paced: automation.paced_rate(),
        trace,
    }
}

/// CPU seconds (fake, client) spent between `start` and `stop`.
struct Cpu(Option<(f64, f64)>);

impl Cpu {
    fn start() -> Self {
        Self(support::cpu_split())
    }

    fn stop(self) -> (f64, f64) {
        match (self.0, support::cpu_split()) {
            (Some((fake0, rest0)), Some((fake1, rest1))) => (fake1 - fake0, rest1 - rest0),
            _ => (f64::NAN, f64::NAN),
        }
    }
}

/// Requests the fake served, by kind.
#[derive(Default, Clone, Copy)]
struct Counts {
    pages: usize,
    gets: usize,
    puts: usize,
}

impl Counts {
    fn of(served: &Served) -> Self {
        Self {
            pages: served.fake.request_count(Route::RuleSummaries),
            gets: served.fake.request_count(Route::RuleGet),
            puts: served.fake.request_count(Route::RulePut),
        }
    }

    fn total(self) -> usize {
        self.pages + self.gets + self.puts
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} requests ({} pages, {} GETs, {} PUTs)",
            self.total(),
            self.pages,
            self.gets,
            self.puts
        )
    }
}

/// No rule holds the old token any more; the ones that did hold the new one.
fn check_rotated(served: &Served, world: &World, holding: usize) {
    assert!(served.fake.rules_holding(&world.old).is_empty());
    let new = ApiCredentials::new(world.old.email(), world.new.clone());
    assert_eq!(served.fake.rules_holding(&new).len(), holding);
}

/// What an admin's script does: plain reqwest, string replacement, `concurrency` rule requests
/// at a time (1: one request at a time). Lists every summary page first, then GETs each rule
/// and PUTs back those that hold the old token (bare or inside `base64(email:token)`). Returns
/// how many rules it wrote.
async fn script(world: &World, concurrency: usize) -> usize {
    use futures::StreamExt as _;

    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("a reqwest client");
    let auth = format!("Basic {}", basic_of(&world.caller));
    let base = world.automation_base();
    let (old, new) = (world.old.token().expose_secret(), world.new.expose_secret());
    let old_basic = basic_of(&world.old);
    let new_basic = basic_of(&ApiCredentials::new(world.old.email(), world.new.clone()));
    let get = |url: String| {
        let request = http.get(url).header(AUTHORIZATION, &auth);
        async move {
            let response = request.send().await.expect("GET sent");
            assert!(response.status().is_success(), "GET: {}", response.status());
            response.text().await.expect("a body")
        }
    };

    let mut uuids = Vec::new();
    let mut next = Some(format!("{base}/rest/v1/rule/summary?limit=100"));
    while let Some(url) = next.take() {
        let page: Value = serde_json::from_str(&get(url).await).expect("a summary page");
        for summary in page["data"].as_array().expect("summaries") {
            uuids.push(summary["uuid"].as_str().expect("a uuid").to_owned());
        }
        next = page["links"]["next"]
            .as_str()
            .map(|query| format!("{base}/rest/v1/rule/summary{query}"));
    }
    futures::stream::iter(uuids)
        .map(|uuid| {
            let url = format!("{base}/rest/v1/rule/{uuid}");
            let (http, auth, old_basic, new_basic) = (&http, &auth, &old_basic, &new_basic);
            let body = get(url.clone());
            async move {
                let body = body.await;
                if !body.contains(old) && !body.contains(old_basic.as_str()) {
                    return 0;
                }
                let body = body.replace(old, new).replace(old_basic, new_basic);
                let response = http
                    .put(url)
                    .header(AUTHORIZATION, auth)
                    .header(CONTENT_TYPE, "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("PUT sent");
                assert!(response.status().is_success(), "PUT: {}", response.status());
                1
            }
        })
        .buffer_unordered(concurrency)
        .fold(0, |written, one| async move { written + one })
        .await
}
