//! Progress of the long passes over every rule: a bar with rate and ETA on stderr when stderr
//! is a terminal, a plain line every few hundred rules otherwise, nothing with `--quiet`.

use std::io::IsTerminal as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atlassian_rotation::AutomationClient;
use atlassian_rotation::rotate::{Phase, Progress};
use futures::TryStreamExt as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Plain progress lines come every this many rules.
const LINE_EVERY: usize = 100;

/// A progress reporter for one command; cloned into the library's progress callbacks.
#[derive(Clone)]
pub struct Reporter {
    mode: Mode,
    /// A client whose rules are to be counted before the next pass.
    pending: Arc<Mutex<Option<AutomationClient>>>,
}

#[derive(Clone)]
enum Mode {
    Off,
    Lines,
    Bar(Arc<Mutex<BarState>>),
}

struct BarState {
    bar: ProgressBar,
    phase: Option<Phase>,
}

impl Reporter {
    /// A reporter for this run: a bar on a terminal, lines otherwise, nothing when quiet.
    pub fn new(quiet: bool) -> Self {
        let mode = if quiet {
            Mode::Off
        } else if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(style(None));
            Mode::Bar(Arc::new(Mutex::new(BarState { bar, phase: None })))
        } else {
            Mode::Lines
        };
        Self {
            mode,
            pending: Arc::default(),
        }
    }

    /// Counts `client`'s rules before the next pass ([`Self::count_pending`]).
    pub fn count_rules_later(&self, client: AutomationClient) {
        if self.is_bar() {
            *self.pending.lock().expect("progress lock") = Some(client);
        }
    }

    /// Counts the rules of the client [`Self::count_rules_later`] named, if any.
    pub async fn count_pending(&self) {
        let client = self.pending.lock().expect("progress lock").take();
        if let Some(client) = client {
            self.count_rules(&client).await;
        }
    }

    /// Whether a bar is drawn (then knowing the number of rules gives an ETA).
    pub fn is_bar(&self) -> bool {
        matches!(self.mode, Mode::Bar(_))
    }

    /// Counts the rules `client` sees, for the bar's length and ETA; a bar only (one cheap
    /// pass over the rule summaries). A count that fails leaves the bar without ETA.
    pub async fn count_rules(&self, client: &AutomationClient) {
        let Mode::Bar(state) = &self.mode else {
            return;
        };
        let mut total = 0u64;
        let mut summaries = client.rule_summaries(100);
        loop {
            match summaries.try_next().await {
                Ok(Some(_)) => total += 1,
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(error = %e, "rules not counted; the bar has no ETA");
                    return;
                }
            }
        }
        let state = state.lock().expect("progress lock");
        state.bar.set_length(total);
        state.bar.set_style(style(Some(total)));
    }

    /// Reports one step of a pass.
    pub fn report(&self, progress: Progress) {
        match &self.mode {
            Mode::Off => {}
            Mode::Lines => {
                if progress.scanned % LINE_EVERY == 0 {
                    eprintln!("atlassian-rotation: {}", line(&progress));
                }
            }
            Mode::Bar(state) => {
                let mut state = state.lock().expect("progress lock");
                if state.phase != Some(progress.phase) {
                    state.phase = Some(progress.phase);
                    state.bar.reset();
                    state.bar.enable_steady_tick(Duration::from_millis(200));
                }
                state.bar.set_position(progress.scanned as u64);
                state.bar.set_message(format!(
                    "{:<7} {} matched, {} written, {} problems",
                    progress.phase, progress.matched, progress.written, progress.problems
                ));
            }
        }
    }

    /// A callback for the library's `on_progress`.
    pub fn callback(&self) -> impl Fn(Progress) + Send + Sync + 'static {
        let me = self.clone();
        move |progress| me.report(progress)
    }

    /// Clears the bar (before results are written).
    pub fn finish(&self) {
        if let Mode::Bar(state) = &self.mode {
            state.lock().expect("progress lock").bar.finish_and_clear();
        }
    }
}

fn line(progress: &Progress) -> String {
    format!(
        "{}: {} rules read, {} matched, {} written, {} problems",
        progress.phase, progress.scanned, progress.matched, progress.written, progress.problems
    )
}

fn style(total: Option<u64>) -> ProgressStyle {
    let template = match total {
        Some(_) => "{msg} [{bar:30}] {pos}/{len} rules, {per_sec}, ETA {eta}",
        None => "{spinner} {msg}: {pos} rules, {per_sec}",
    };
    ProgressStyle::with_template(template)
        .expect("a valid template")
        .progress_chars("=> ")
}
