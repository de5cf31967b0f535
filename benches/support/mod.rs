//! What the benchmarks share: the fake on a runtime of its own, the seeded world of a token
//! rotation, the summary line, and small statistics.
#![allow(dead_code)]

use std::time::Duration;

use atlassian_rotation::AutomationClient;
use atlassian_rotation::rotate::AutomationTokenRotator;
use atlassian_rotation::secret::{ApiCredentials, ApiToken};
use atlassian_rotation::testing::{FakeAtlassian, RuleSeed};
use time::OffsetDateTime;

pub const CLOUD_ID: &str = "11111111-2222-4333-8444-555555555555";
/// The share of rules that hold the token being rotated.
pub const HOLDING: f64 = 0.1;
/// The environment variable that makes a bench binary serve a fake instead of measuring.
pub const SERVE_ENV: &str = "ATLASSIAN_ROTATION_BENCH_SERVE";

/// What a comparison must show: its `ratio` (ours ÷ baseline) against a bound, or for an
/// absolute figure, `ours` itself.
#[derive(Clone, Copy)]
pub enum Target {
    /// ratio ≤ bound.
    RatioAtMost(f64),
    /// ratio ≥ bound.
    RatioAtLeast(f64),
    /// ours ≤ bound (in the line's unit).
    AtMost(f64),
    /// No target: a diagnostic comparison.
    None,
}

/// Every comparison's target, in one place (issue 15, "Performance, round two").
pub const TARGETS: &[(&str, Target)] = &[
    ("scan_vs_parse", Target::RatioAtLeast(3.0)),
    ("scan_vs_jq", Target::None),
    ("bulk_vs_sequential", Target::RatioAtMost(0.1)),
    ("bulk_vs_floor", Target::RatioAtMost(1.15)),
    ("bulk_under_rate_limit", Target::RatioAtMost(1.15)),
    ("bulk_429_share", Target::AtMost(0.05)),
    ("bulk_client_cpu_per_rule", Target::AtMost(150.0)),
    ("usage_vs_floor", Target::RatioAtMost(1.15)),
    ("request_overhead", Target::RatioAtMost(1.15)),
    ("memory_20k_vs_2k", Target::RatioAtMost(1.3)),
];

/// Prints the one summary line of a comparison, with its ratio (ours ÷ baseline) and its
/// target from [`TARGETS`] (`met=` says whether this run met it).
pub fn bench_line(name: &str, ours: f64, baseline: f64, unit: &str, better: &str) {
    let ratio = ours / baseline;
    let target = TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(Target::None, |(_, t)| *t);
    let (target, met) = match target {
        Target::RatioAtMost(bound) => (format!("<={bound}"), Some(ratio <= bound)),
        Target::RatioAtLeast(bound) => (format!(">={bound}"), Some(ratio >= bound)),
        Target::AtMost(bound) => (format!("ours<={bound}"), Some(ours <= bound)),
        Target::None => ("none".to_owned(), None),
    };
    let met = met.map_or(String::new(), |m| format!(" met={m}"));
    println!(
        "BENCH name={name} ours={ours:.6} baseline={baseline:.6} unit={unit} better={better} \
         ratio={ratio:.3} target={target}{met}"
    );
}

/// Whether `name` was selected on the command line (`cargo bench -- NAME`); no filter selects
/// everything. Flags cargo passes (`--bench`) are ignored.
pub fn selected(name: &str) -> bool {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()))
}

/// The median of `samples` (sorted in place).
pub fn median(samples: &mut [f64]) -> f64 {
    assert!(!samples.is_empty(), "median of no samples");
    samples.sort_by(f64::total_cmp);
    let mid = samples.len() / 2;
    if samples.len() % 2 == 1 {
        samples[mid]
    } else {
        (samples[mid - 1] + samples[mid]) / 2.0
    }
}

/// A fake served by a tokio runtime of its own (one worker thread), so that the client under
/// measurement never shares a scheduler with the server.
pub struct Served {
    // Dropped before the runtime: the fake's accept task is aborted while its runtime lives.
    pub fake: FakeAtlassian,
    runtime: tokio::runtime::Runtime,
}

impl Served {
    pub fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("fake-atlassian")
            .enable_all()
            .build()
            .expect("a runtime for the fake");
        let fake = runtime.block_on(FakeAtlassian::start());
        Self { fake, runtime }
    }

    /// Serves until stdin closes: the server half of a benchmark that must not count the fake's
    /// memory, run in a child process.
    pub fn serve_until_stdin_closes(self) {
        let mut sink = String::new();
        while std::io::stdin().read_line(&mut sink).is_ok_and(|n| n > 0) {}
        drop(self);
    }
}

/// A token rotation waiting to happen: a service account whose old token sits in a share of the
/// rules, its new token, and an admin who calls the Automation API.
pub struct World {
    pub base: String,
    pub caller: ApiCredentials,
    pub old: ApiCredentials,
    pub new: ApiToken,
}

impl World {
    /// Seeds `rules` rules into `fake`, [`HOLDING`] of them holding the old token, always with
    /// the same shapes.
    pub fn seed(fake: &FakeAtlassian, rules: usize) -> Self {
        let svc = fake.add_user("svc-automation@example.com", "Automation service account");
        let admin = fake.add_user("admin@example.com", "Site admin");
        let expiry = OffsetDateTime::now_utc() + time::Duration::days(30);
        let (_, old) = fake.mint_api_token(&svc.account_id, "automation (old)", expiry);
        let (_, new) = fake.mint_api_token(&svc.account_id, "automation (new)", expiry);
        let (_, caller) = fake.mint_api_token(&admin.account_id, "rotation tool", expiry);
        fake.seed_rules(
            CLOUD_ID,
            RuleSeed::new(rules)
                .with_token(&svc.email, old.clone())
                .fraction_with_token(HOLDING),
        );
        Self {
            base: fake.site_base(),
            caller: ApiCredentials::new(&admin.email, caller),
            old: ApiCredentials::new(&svc.email, old),
            new,
        }
    }

    /// The Automation API base URL.
    pub fn automation_base(&self) -> String {
        format!("{}/automation/public/jira/{CLOUD_ID}", self.base)
    }

    /// A client of the Automation API, authenticated as the admin.
    pub fn automation(&self) -> AutomationClient {
        AutomationClient::builder(self.caller.clone())
            .base_url(self.automation_base())
            .build()
            .expect("an automation client")
    }

    /// The rotator under measurement: replaces the old token with the new one in every rule,
    /// with `concurrency` rule requests in flight.
    pub fn rotator(&self, concurrency: usize) -> AutomationTokenRotator {
        self.rotator_on(self.automation(), concurrency)
    }

    /// The same rotator on a client of the caller's (to read its rate-limit counters).
    pub fn rotator_on(
        &self,
        automation: AutomationClient,
        concurrency: usize,
    ) -> AutomationTokenRotator {
        AutomationTokenRotator::new(
            automation,
            self.base.clone(),
            self.old.clone(),
            self.new.clone(),
        )
        .expect("a rotator")
        .concurrency(concurrency)
    }

    /// The world as one line, for a parent process (over a pipe, never shown).
    pub fn to_line(&self) -> String {
        [
            self.base.as_str(),
            self.caller.email(),
            self.caller.token().expose_secret(),
            self.old.email(),
            self.old.token().expose_secret(),
            self.new.expose_secret(),
        ]
        .join("\t")
    }

    /// The world a child process described with [`World::to_line`].
    pub fn from_line(line: &str) -> Self {
        let parts: Vec<&str> = line.trim_end().split('\t').collect();
        let [base, caller_email, caller, old_email, old, new] = parts[..] else {
            panic!("the server process sent {} fields, not 6", parts.len());
        };
        Self {
            base: base.to_owned(),
            caller: ApiCredentials::new(caller_email, ApiToken::new(caller)),
            old: ApiCredentials::new(old_email, ApiToken::new(old)),
            new: ApiToken::new(new),
        }
    }
}

/// `base64(email:token)`, as a `Basic` header carries it.
pub fn basic_of(credentials: &ApiCredentials) -> String {
    use base64::Engine as _;
    let pair = format!(
        "{}:{}",
        credentials.email(),
        credentials.token().expose_secret()
    );
    base64::engine::general_purpose::STANDARD.encode(pair)
}

/// CPU seconds used so far by the threads of this process, split into the fake's threads (its
/// worker, named `fake-atlassian` by [`Served`], and its wall-clock timer,
/// `fake-atlassian-timer`) and the rest, from `/proc/self/task` (clock ticks, so
/// 10 ms resolution). `None` where `/proc` is not there.
pub fn cpu_split() -> Option<(f64, f64)> {
    let ticks_per_second = 100.0;
    let (mut fake, mut rest) = (0u64, 0u64);
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("stat")).ok()?;
        // `pid (comm) state ...`: utime and stime are fields 14 and 15.
        let (head, tail) = stat.rsplit_once(')')?;
        let fields: Vec<&str> = tail.split_whitespace().collect();
        let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        // The kernel keeps 15 bytes of a thread's name: the timer shows as `fake-atlassian-`.
        if head.contains("(fake-atlassian") {
            fake += ticks;
        } else {
            rest += ticks;
        }
    }
    Some((
        fake as f64 / ticks_per_second,
        rest as f64 / ticks_per_second,
    ))
}

/// Runs `f` and returns its output with the wall time it took.
pub async fn timed<T>(f: impl std::future::Future<Output = T>) -> (T, Duration) {
    let started = std::time::Instant::now();
    let out = f.await;
    (out, started.elapsed())
}
