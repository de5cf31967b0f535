//! `usage_vs_floor`: the live "who uses this token" scan (`discover::UsageScan`) over 2,000
//! rules (10% holding the token) against the fake with a fixed 5 ms latency, concurrency 16,
//! against the floor: the requests it sends (summary pages + one GET per rule) × latency ÷
//! concurrency.
//!
//! ```text
//! cargo bench --bench usage
//! ```

mod support;

use std::time::Duration;

use atlassian_rotation::automation::{FindingStatus, Scanner};
use atlassian_rotation::discover::UsageScan;
use atlassian_rotation::testing::Route;
use futures::TryStreamExt as _;
use support::{Served, World, bench_line, median, selected, timed};

const RULES: usize = 2_000;
const LATENCY: Duration = Duration::from_millis(5);
const CONCURRENCY: usize = 16;
const RUNS: usize = 3;

fn main() {
    if !selected("usage_vs_floor") {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().expect("a runtime for the client");
    let (mut seconds, mut floors) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let served = Served::start();
        let world = World::seed(&served.fake, RULES);
        let holding = served.fake.rules_holding(&world.old).len();
        served.fake.set_wall_clock_latency(LATENCY);
        let client = world.automation();
        let scan =
            UsageScan::new(&client, Scanner::for_token(world.old.token())).concurrency(CONCURRENCY);
        let (found, took) = runtime.block_on(timed(async {
            let mut findings = scan.stream();
            let mut rules = std::collections::HashSet::new();
            while let Some(found) = findings.try_next().await.expect("the scan succeeds") {
                if found.status == FindingStatus::Match {
                    rules.insert(found.rule_uuid.clone());
                }
            }
            rules.len()
        }));
        assert_eq!(found, holding, "the scan finds every holding rule");
        let requests = served.fake.request_count(Route::Any);
        seconds.push(took.as_secs_f64());
        floors.push(requests as f64 * LATENCY.as_secs_f64() / CONCURRENCY as f64);
    }
    let (ours, floor) = (median(&mut seconds), median(&mut floors));
    eprintln!(
        "usage: {RULES} rules, {} ms latency, concurrency {CONCURRENCY}: {ours:.3} s (median of \
         {RUNS}), floor {floor:.3} s",
        LATENCY.as_millis()
    );
    bench_line("usage_vs_floor", ours, floor, "s", "lower");
}
