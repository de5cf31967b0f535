//! `request_overhead`: one crate call (`JiraClient::myself`) against a bare reqwest call of the
//! same request (`GET /rest/api/3/myself` with the same `Authorization`, body read and parsed
//! into a `serde_json::Value`), both against the fake on loopback without added latency. Calls
//! alternate in rounds so that drift hits both; the figure is the median time per call.
//!
//! ```text
//! cargo bench --bench overhead
//! ```

mod support;

use std::hint::black_box;
use std::time::Instant;

use atlassian_rotation::jira::JiraClient;
use reqwest::header::AUTHORIZATION;
use serde_json::Value;
use support::{Served, World, basic_of, bench_line, median, selected};

const WARMUP: usize = 200;
const ROUNDS: usize = 20;
const CALLS_PER_ROUND: usize = 200;

fn main() {
    if !selected("request_overhead") {
        return;
    }
    let served = Served::start();
    let world = World::seed(&served.fake, 0);
    let runtime = tokio::runtime::Runtime::new().expect("a runtime for the client");

    let ours = JiraClient::builder(world.caller.clone())
        .base_url(&world.base)
        .build()
        .expect("a Jira client");
    let bare = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("a reqwest client");
    let url = format!("{}/rest/api/3/myself", world.base);
    let auth = format!("Basic {}", basic_of(&world.caller));
    let our_call = || async {
        let account = ours.myself().await.expect("myself");
        black_box(account);
    };
    let bare_call = || async {
        let response = bare
            .get(&url)
            .header(AUTHORIZATION, &auth)
            .send()
            .await
            .expect("sent");
        assert!(response.status().is_success(), "{}", response.status());
        let body = response.bytes().await.expect("a body");
        let account: Value = serde_json::from_slice(&body).expect("JSON");
        black_box(account);
    };

    let (mut our_us, mut bare_us) = (Vec::new(), Vec::new());
    runtime.block_on(async {
        for _ in 0..WARMUP {
            our_call().await;
            bare_call().await;
        }
        for _ in 0..ROUNDS {
            for _ in 0..CALLS_PER_ROUND {
                let started = Instant::now();
                our_call().await;
                our_us.push(started.elapsed().as_secs_f64() * 1e6);
            }
            for _ in 0..CALLS_PER_ROUND {
                let started = Instant::now();
                bare_call().await;
                bare_us.push(started.elapsed().as_secs_f64() * 1e6);
            }
        }
    });
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    eprintln!(
        "request_overhead: {} calls each; mean ours {:.1} µs, bare {:.1} µs",
        our_us.len(),
        mean(&our_us),
        mean(&bare_us)
    );
    bench_line(
        "request_overhead",
        median(&mut our_us),
        median(&mut bare_us),
        "us",
        "lower",
    );
}
