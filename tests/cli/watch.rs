//! `rotate token --watch-org ORG --grace D`: a use of the old token after the update stops the
//! revocation with exit 4, and `journal resume` revokes once nothing uses it any more.

use std::time::Duration;

use atlassian_rotation::jira::JiraClient;
use atlassian_rotation::testing::{Fault, Gate, Route};

use crate::support::world;

#[tokio::test(flavor = "multi_thread")]
async fn a_use_during_the_watch_refuses_with_4_and_a_resume_then_revokes() {
    let w = world(12).await;
    // The org's token list is read before the update, when it ended, and after the grace:
    // that last reading waits at the gate while a forgotten script uses the old token.
    let gate = Gate::new();
    w.fake
        .fault(Route::OrgTokens, Fault::latency(Duration::ZERO).times(2));
    w.fake.fault(Route::OrgTokens, Fault::wait_for(&gate));
    let forgotten = JiraClient::builder(w.old.clone())
        .base_url(w.fake.site_base())
        .build()
        .unwrap();
    let org = w.org.id.clone();
    let watch = ["--watch-org", &org, "--grace", "0s"];
    let rotation = w.rotate_token(&watch);
    let script = async {
        gate.until_waiting(1).await;
        forgotten.myself().await.unwrap();
        gate.open();
    };
    let (out, ()) = tokio::join!(rotation, script);
    out.code(4);
    assert!(out.stderr.contains("journal resume"), "{}", out.stderr);
    assert!(w.fake.token_is_live(w.old.token()), "nothing revoked");
    assert!(
        w.fake.rules_holding(&w.old).is_empty(),
        "the rules hold the new token"
    );

    let id = out.resume_id();
    let resumed = w.resume_from_journal(&id).await;
    resumed.code(0);
    assert!(!w.fake.token_is_live(w.old.token()));
}
