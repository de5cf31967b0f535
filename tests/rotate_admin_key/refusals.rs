//! A new key that cannot replace the old one is refused in regenerate, before anything changed:
//! nothing journaled, no place written, no client switched, nothing revoked.

use std::time::Duration;

use atlassian_rotation::Error;
use atlassian_rotation::error::ReplacementProblem;
use atlassian_rotation::rotate::{AdminKeyRotator, KeyRef};
use atlassian_rotation::testing::Route;
use time::OffsetDateTime;

use super::*;

fn in_days(days: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc() + time::Duration::days(days)
}

/// Runs `rotator` (with the places and a live client of the old key registered), expects a
/// refusal in regenerate and proves nothing changed; returns why it was refused.
async fn refused(w: &KeyWorld, rotator: AdminKeyRotator) -> ReplacementProblem {
    let places = Places::new(&w.old.key);
    let live = w.client(&w.old.key, ClientOptions::new());
    let rotator = rotator
        .consumer(places.file())
        .consumer(places.dotenv())
        .consumer(places.vault())
        .switch_client(live.clone());
    let journal = MemoryJournal::new();
    let failed = rotate::rotate(&rotator, &journal, RotateOptions::new("refused"))
        .await
        .unwrap_err();

    let text = failed.to_string();
    assert!(text.contains("nothing was changed"), "{text}");
    for key in [&w.old.key, &w.new.key] {
        assert!(!text.contains(key.expose_secret()), "a key in the error");
    }
    use atlassian_rotation::rotate::Journal as _;
    assert!(
        journal.load("refused").await.unwrap().is_none(),
        "nothing journaled"
    );
    assert!(places.hold(&w.old.key), "a place was written");
    assert!(w.fake.admin_key_is_live(&w.old.key));
    assert_eq!(w.fake.request_count(Route::RevokeAdminKey), 0);
    // The live client still uses the old key: it works once every other key is gone.
    w.fake.revoke_admin_key(&w.new.id);
    w.fake.revoke_admin_key(&w.org.admin_key_id);
    live.check_key(&w.org.id).await.unwrap();
    match failed.error {
        Error::ReplacementRefused {
            step: "regenerate",
            credential: "Admin API key",
            problem,
        } => problem,
        other => panic!("{other}"),
    }
}

/// A world whose new key has this label, these scopes and this expiry.
async fn world_with_new(label: &str, scopes: &[&str], expires_at: OffsetDateTime) -> KeyWorld {
    let mut w = key_world().await;
    w.new = w.fake.mint_admin_key(&w.org.id, label, scopes, expires_at);
    w
}

#[tokio::test]
async fn a_new_key_missing_a_scope_is_refused_naming_it() {
    let w = world_with_new("narrow", &["read:keys:admin"], in_days(365)).await;
    let rotator = w
        .key_rotator(ClientOptions::new(), w.new.key.clone())
        .new_key(KeyRef::Label("narrow".into()));

    let problem = refused(&w, rotator).await;

    assert_eq!(
        problem,
        ReplacementProblem::MissingScopes {
            missing: vec!["delete:keys:admin".into()]
        }
    );
}

#[tokio::test]
async fn a_scoped_key_replacing_one_without_scopes_is_refused() {
    let w = world_with_new(
        "scoped",
        &["read:keys:admin", "delete:keys:admin"],
        in_days(365),
    )
    .await;
    // The org's own key has no scopes: it may do anything the scoped one may not.
    let rotator = AdminKeyRotator::new(
        w.client(&w.org.admin_key, ClientOptions::new()),
        &w.org.id,
        w.org.admin_key.clone(),
        KeyRef::Id(w.org.admin_key_id.clone()),
        w.new.key.clone(),
    )
    .new_key(KeyRef::Id(w.new.id.clone()));
    let places = Places::new(&w.org.admin_key);
    let rotator = rotator.consumer(places.dotenv());

    let failed = rotate::rotate(
        &rotator,
        &MemoryJournal::new(),
        RotateOptions::new("narrowing"),
    )
    .await
    .unwrap_err();

    match failed.error {
        Error::ReplacementRefused {
            problem: ReplacementProblem::NarrowsUnscoped { scopes },
            ..
        } => assert_eq!(scopes, ["read:keys:admin", "delete:keys:admin"]),
        other => panic!("{other}"),
    }
    assert!(places.hold(&w.org.admin_key));
    assert!(w.fake.admin_key_is_live(&w.org.admin_key));
}

#[tokio::test]
async fn a_key_that_expires_next_week_is_refused_unless_the_minimum_allows_it() {
    let w = world_with_new("short", super::support::KEY_SCOPES, in_days(7)).await;
    let rotator = || {
        w.key_rotator(ClientOptions::new(), w.new.key.clone())
            .new_key(KeyRef::Label("short".into()))
    };

    match refused(&w, rotator()).await {
        ReplacementProblem::ExpiresTooSoon {
            expires_at,
            minimum,
        } => {
            assert_eq!(minimum, AdminKeyRotator::DEFAULT_MIN_VALIDITY);
            assert!(expires_at.ends_with('Z'), "{expires_at}");
        }
        other => panic!("{other:?}"),
    }

    // The same key, with a minimum of three days, is a rotation.
    let w = world_with_new("short", super::support::KEY_SCOPES, in_days(7)).await;
    let lenient = w
        .key_rotator(ClientOptions::new(), w.new.key.clone())
        .new_key(KeyRef::Label("short".into()))
        .min_validity(Duration::from_secs(3 * 86_400));
    let report = rotate::rotate(&lenient, &MemoryJournal::new(), RotateOptions::new("short"))
        .await
        .unwrap();
    assert!(report.succeeded());
}

#[tokio::test]
async fn an_expired_key_and_a_key_of_another_org_are_not_accepted() {
    let w = world_with_new("expired", super::support::KEY_SCOPES, in_days(-1)).await;
    let rotator = w
        .key_rotator(ClientOptions::new(), w.new.key.clone())
        .new_key(KeyRef::Label("expired".into()));
    match refused(&w, rotator).await {
        ReplacementProblem::NotAccepted { reason } => assert!(reason.contains("401"), "{reason}"),
        other => panic!("{other:?}"),
    }

    let mut w = key_world().await;
    let other = w.fake.add_org("Other");
    w.new = w.fake.mint_admin_key(
        &other.id,
        "foreign",
        super::support::KEY_SCOPES,
        in_days(365),
    );
    let rotator = w
        .key_rotator(ClientOptions::new(), w.new.key.clone())
        .new_key(KeyRef::Label("foreign".into()));
    match refused(&w, rotator).await {
        ReplacementProblem::NotAccepted { reason } => assert!(reason.contains("403"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_old_key_handed_over_again_is_refused() {
    let w = key_world().await;
    let rotator = w.key_rotator(ClientOptions::new(), w.old.key.clone());
    assert_eq!(refused(&w, rotator).await, ReplacementProblem::SameAsOld);
}

#[tokio::test]
async fn a_new_key_not_in_the_list_or_named_as_the_old_one_is_refused() {
    let w = key_world().await;
    let rotator = w
        .key_rotator(ClientOptions::new(), w.new.key.clone())
        .new_key(KeyRef::Label("no such label".into()));
    match refused(&w, rotator).await {
        ReplacementProblem::NotListed { reason } => {
            assert!(
                reason.contains("no key with label `no such label`"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }

    // Naming the old key's entry as the new key leaves no entry for the old key.
    let w = key_world().await;
    let rotator = w
        .key_rotator(ClientOptions::new(), w.new.key.clone())
        .new_key(KeyRef::Id(w.old.id.clone()));
    match refused(&w, rotator).await {
        ReplacementProblem::NotListed { reason } => {
            assert!(reason.contains("the old key must be"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_old_key_named_by_a_label_two_other_keys_carry_is_refused() {
    let w = key_world().await;
    w.fake
        .mint_admin_key(&w.org.id, "automation", &[], in_days(100));
    let rotator = w
        .rotator_naming(
            ClientOptions::new(),
            KeyRef::Label("automation".into()),
            w.new.key.clone(),
        )
        .new_key(KeyRef::Id(w.new.id.clone()));
    match refused(&w, rotator).await {
        ReplacementProblem::NotListed { reason } => {
            assert!(
                reason.contains("2 keys") && reason.contains("by its id"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_refusal_reads_as_such_and_shows_no_key() {
    let w = world_with_new("narrow", &["read:keys:admin"], in_days(365)).await;
    let rotator = w
        .key_rotator(ClientOptions::new(), w.new.key.clone())
        .new_key(KeyRef::Label("narrow".into()));
    let err = rotate::rotate(&rotator, &MemoryJournal::new(), RotateOptions::new("shown"))
        .await
        .unwrap_err();
    let shown = format!("{err} {err:?} {}", err.error);
    assert!(
        shown.contains("the new Admin API key cannot replace the old one: it lacks scopes the old one has: delete:keys:admin"),
        "{shown}"
    );
    for key in [&w.old.key, &w.new.key] {
        assert!(!shown.contains(key.expose_secret()));
    }
}

#[tokio::test]
async fn an_answer_echoing_the_new_key_is_redacted_in_the_refusal() {
    use atlassian_rotation::{AdminClient, RetryPolicy};
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};

    let server = super::support::strict_server().await;
    let new = AdminApiKey::new("ATCTT3xFfGN0-new-key-Sup3rS3cret-0123456789");
    let old = AdminApiKey::new("ATCTT3xFfGN0-old-key-Sup3rS3cret-9876543210");
    Mock::given(method("GET"))
        .and(path("/admin/v1/orgs/org-1"))
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "code": 401,
            "message": format!("key {} is not valid", new.expose_secret())
        })))
        .expect(1)
        .mount(&server)
        .await;
    let admin = AdminClient::builder(old.clone())
        .base_url(server.uri())
        .options(ClientOptions::new().retry_policy(RetryPolicy::none()))
        .build()
        .unwrap();
    let rotator =
        AdminKeyRotator::new(admin, "org-1", old, KeyRef::Id("k-old".into()), new.clone())
            .new_key(KeyRef::Id("k-new".into()));

    let err = rotate::rotate(&rotator, &MemoryJournal::new(), RotateOptions::new("echo"))
        .await
        .unwrap_err();

    let shown = format!("{err} {err:?}");
    assert!(
        shown.contains("401") && shown.contains("[redacted]"),
        "{shown}"
    );
    assert!(!shown.contains(new.expose_secret()), "{shown}");
}
