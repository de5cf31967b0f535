//! A caller rotating the very token their own Automation client authenticates with keeps a
//! working client (and clones) once the old token is revoked; a client on any other credential
//! is never touched.

use futures::TryStreamExt as _;

use super::*;

/// The rules this client can list, or the error it gets.
async fn listed(client: &AutomationClient) -> Result<usize, Error> {
    let summaries: Vec<_> = client.rule_summaries(100).try_collect().await?;
    Ok(summaries.len())
}

/// The `Authorization` values of the requests sent so far to the rule API.
fn rule_api_auth(w: &World) -> Vec<String> {
    w.fake
        .requests()
        .iter()
        .filter(|r| r.path().contains("/rest/v1/rule"))
        .filter_map(|r| r.expose_authorization().map(str::to_owned))
        .collect()
}

/// Every request to the rule API since the log was cleared authenticated as `credentials`.
fn assert_rule_api_sent_only(w: &World, credentials: &ApiCredentials) {
    let expected = credentials.basic_header().unwrap();
    let sent = rule_api_auth(w);
    assert!(
        sent.iter()
            .all(|a| a.as_str() == expected.to_str().unwrap()),
        "{} requests",
        sent.len()
    );
}

fn own_client(w: &World, email: &str) -> AutomationClient {
    AutomationClient::builder(ApiCredentials::new(email, w.old.token().clone()))
        .base_url(w.fake.automation_base(CLOUD))
        .options(ClientOptions::new().retry_policy(RetryPolicy::none()))
        .build()
        .unwrap()
}

fn own_rotator(w: &World, client: AutomationClient) -> AutomationTokenRotator {
    AutomationTokenRotator::new(client, w.fake.site_base(), w.old.clone(), w.new.clone())
        .unwrap()
        .revoke_with(
            w.admin.clone(),
            &w.svc.account_id,
            OldToken::Id(w.old_id.clone()),
        )
        .accept_unreadable(true)
}

#[tokio::test]
async fn a_caller_rotating_their_own_token_keeps_a_working_client_and_clones() {
    let w = world(12).await;
    let mine = own_client(&w, &w.svc.email);
    let clone = mine.clone();
    let report = rotate::rotate(
        &own_rotator(&w, mine.clone()),
        &MemoryJournal::new(),
        RotateOptions::new("own-1"),
    )
    .await
    .unwrap();
    assert!(report.succeeded());
    assert!(!w.fake.token_is_live(w.old.token()), "old token revoked");

    w.fake.clear_requests();
    assert_eq!(
        listed(&mine).await.unwrap(),
        12,
        "the caller's client still works"
    );
    assert_eq!(listed(&clone).await.unwrap(), 12, "and so does its clone");
    let expected = ApiCredentials::new(&w.svc.email, w.new.clone())
        .basic_header()
        .unwrap();
    let sent = rule_api_auth(&w);
    assert!(!sent.is_empty());
    assert!(
        sent.iter()
            .all(|a| a.as_str() == expected.to_str().unwrap())
    );
}

#[tokio::test]
async fn a_resume_after_the_revocation_reads_with_the_new_token() {
    let w = world(6).await;
    // The first process revokes, then dies before journaling `finished`.
    let first = own_rotator(&w, own_client(&w, &w.svc.email));
    let updated = first.update(&w.new).await.unwrap();
    first.verify(&w.new, &updated).await.unwrap();
    first.finish(&w.new, &updated).await.unwrap();
    assert!(!w.fake.token_is_live(w.old.token()));
    // A new process builds its client from the configuration it has: the old token.
    let fresh = own_client(&w, &w.svc.email);
    let second = own_rotator(&w, fresh.clone());
    second.verify(&w.new, &updated).await.unwrap();
    assert_eq!(listed(&fresh).await.unwrap(), 6);
}

/// The first process finishes the rotation (the old token is revoked) but dies before its
/// caller got the report; the process that runs the same rotation again builds its client from
/// the configuration it has, the old token. The rerun reports the rotation complete: the
/// client it was given must then work, as after the first run.
#[tokio::test]
async fn a_rerun_of_a_finished_rotation_leaves_the_callers_client_working() {
    let w = world(6).await;
    let journal = MemoryJournal::new();
    let first = own_rotator(&w, own_client(&w, &w.svc.email));
    let report = rotate::rotate(&first, &journal, RotateOptions::new("own-rerun"))
        .await
        .unwrap();
    assert!(report.succeeded());
    assert!(!w.fake.token_is_live(w.old.token()));

    let fresh = own_client(&w, &w.svc.email);
    let second = own_rotator(&w, fresh.clone());
    let report = rotate::rotate(&second, &journal, RotateOptions::new("own-rerun"))
        .await
        .unwrap();
    assert!(report.succeeded(), "{report}");
    assert_eq!(
        listed(&fresh).await.unwrap(),
        6,
        "the rotation is complete, and the caller's client works"
    );

    // A client on another credential is still left alone on a rerun.
    let other = w.client(RetryPolicy::none());
    let third = AutomationTokenRotator::new(
        other.clone(),
        w.fake.site_base(),
        w.old.clone(),
        w.new.clone(),
    )
    .unwrap();
    rotate::rotate(&third, &journal, RotateOptions::new("own-rerun"))
        .await
        .unwrap();
    w.fake.clear_requests();
    listed(&other).await.unwrap();
    assert_rule_api_sent_only(&w, &w.caller);
}

#[tokio::test]
async fn a_client_on_another_credential_is_left_alone() {
    let w = world(8).await;
    let client = w.client(RetryPolicy::none());
    let report = rotate::rotate(
        &w.rotator(RetryPolicy::none()),
        &MemoryJournal::new(),
        RotateOptions::new("other-1"),
    )
    .await
    .unwrap();
    assert!(report.succeeded());
    w.fake.clear_requests();
    assert_eq!(listed(&client).await.unwrap(), 8);
    assert_rule_api_sent_only(&w, &w.caller);
}

#[tokio::test]
async fn a_failed_verify_leaves_the_client_on_the_old_token_when_the_new_one_does_not_work() {
    let w = world(4).await;
    let mine = own_client(&w, &w.svc.email);
    let rotator = own_rotator(&w, mine.clone());
    let updated = rotator.update(&w.new).await.unwrap();
    // The new token stops working before verify: the client must not move to it.
    w.fake.revoke_api_token(&w.new_id);
    assert!(rotator.verify(&w.new, &updated).await.is_err());
    assert_eq!(
        listed(&mine).await.unwrap(),
        4,
        "still on the old token, which works"
    );
}

#[tokio::test]
async fn rotators_are_clone_and_clones_share_kept_originals() {
    let w = world(10).await;
    let rotator = w.plain_rotator(RetryPolicy::none());
    let clone = rotator.clone();
    let before = w.fake.rules_holding(&w.old);
    let updated = rotator.update(&w.new).await.unwrap();
    assert_eq!(updated.rewritten, before.len());
    let rollback = clone.rollback().await.unwrap();
    assert_eq!(rollback.restored.len(), before.len());
    assert_eq!(w.fake.rules_holding(&w.old).len(), before.len());
}

#[tokio::test]
async fn an_originals_directory_that_cannot_be_made_stops_the_update_before_any_write() {
    let w = world(10).await;
    let file = tempfile::NamedTempFile::new().unwrap();
    // A path below a regular file can never become a directory.
    let rotator = w
        .plain_rotator(RetryPolicy::none())
        .keep_originals_in(file.path().join("originals"));
    let err = rotator.update(&w.new).await.unwrap_err();
    assert!(matches!(err, Error::Journal { .. }), "{err:?}");
    for uuid in w.fake.rule_uuids(CLOUD) {
        assert_eq!(w.fake.rule_stats(&uuid).unwrap().puts, 0);
    }
}
