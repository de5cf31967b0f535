//! Which listed keys are the old and the new one: named, or told by observation.

use atlassian_rotation::Error;
use atlassian_rotation::error::ReplacementProblem;
use atlassian_rotation::rotate::{AdminKeyRotator, KeyRef};
use atlassian_rotation::testing::Route;

use super::*;

fn rotator_without_new_key(w: &KeyWorld, new: &AdminApiKey) -> AdminKeyRotator {
    w.rotator_naming(
        ClientOptions::new(),
        KeyRef::Id(w.old.id.clone()),
        new.clone(),
    )
}

#[tokio::test]
async fn an_unnamed_new_key_is_the_one_key_active_while_only_it_was_used() {
    let w = key_world().await;
    // Other keys of the org, one of them busy before the rotation starts.
    let busy = w.fake.mint_admin_key(
        &w.org.id,
        "busy",
        &[],
        time::OffsetDateTime::now_utc() + time::Duration::days(90),
    );
    w.client(&busy.key, ClientOptions::new())
        .check_key(&w.org.id)
        .await
        .unwrap();
    let rotator = rotator_without_new_key(&w, &w.new.key);

    let report = rotate::rotate(&rotator, &MemoryJournal::new(), RotateOptions::new("told"))
        .await
        .unwrap();

    assert!(report.succeeded());
    let updated = report.updated.unwrap();
    assert_eq!(updated.fact_value("new_key_id"), Some(w.new.id.as_str()));
    assert!(!w.fake.admin_key_is_live(&w.old.key));
    assert!(w.fake.admin_key_is_live(&busy.key) && w.fake.admin_key_is_live(&w.new.key));
}

#[tokio::test]
async fn an_unnamed_new_key_that_cannot_read_the_list_is_refused_asking_for_its_name() {
    let mut w = key_world().await;
    // Accepted for the org, but without the scope to read the key list.
    w.new = w.fake.mint_admin_key(
        &w.org.id,
        "blind",
        &["delete:keys:admin"],
        time::OffsetDateTime::now_utc() + time::Duration::days(365),
    );
    let rotator = rotator_without_new_key(&w, &w.new.key);

    let failed = rotate::rotate(&rotator, &MemoryJournal::new(), RotateOptions::new("blind"))
        .await
        .unwrap_err();

    match failed.error {
        Error::ReplacementRefused {
            problem: ReplacementProblem::NotListed { reason },
            ..
        } => assert!(reason.contains("AdminKeyRotator::new_key"), "{reason}"),
        other => panic!("{other}"),
    }
    assert_eq!(w.fake.request_count(Route::RevokeAdminKey), 0);
}

#[tokio::test]
async fn an_old_key_named_by_a_label_the_new_key_also_carries_is_the_other_one() {
    let mut w = key_world().await;
    // The person minted the replacement under the same name.
    w.new = w.fake.mint_admin_key(
        &w.org.id,
        "automation",
        super::support::KEY_SCOPES,
        time::OffsetDateTime::now_utc() + time::Duration::days(365),
    );
    let rotator = w
        .rotator_naming(
            ClientOptions::new(),
            KeyRef::Label("automation".into()),
            w.new.key.clone(),
        )
        .new_key(KeyRef::Id(w.new.id.clone()));

    let report = rotate::rotate(
        &rotator,
        &MemoryJournal::new(),
        RotateOptions::new("same-label"),
    )
    .await
    .unwrap();

    assert!(report.succeeded());
    assert_eq!(
        report.updated.unwrap().fact_value("old_key_id"),
        Some(w.old.id.as_str())
    );
    assert!(!w.fake.admin_key_is_live(&w.old.key));
    assert!(w.fake.admin_key_is_live(&w.new.key));
}

#[tokio::test]
async fn the_rotators_own_client_on_the_old_key_moves_to_the_new_one_and_others_stay() {
    let w = key_world().await;
    let own = w.client(&w.old.key, ClientOptions::new());
    let bystander = w.client(&w.org.admin_key, ClientOptions::new());
    let rotator = AdminKeyRotator::new(
        own.clone(),
        &w.org.id,
        w.old.key.clone(),
        KeyRef::Id(w.old.id.clone()),
        w.new.key.clone(),
    )
    .new_key(KeyRef::Id(w.new.id.clone()))
    .switch_client(w.client(&w.old.key, ClientOptions::new()));

    rotate::rotate(&rotator, &MemoryJournal::new(), RotateOptions::new("own"))
        .await
        .unwrap();

    own.check_key(&w.org.id).await.unwrap();
    // The org's key is untouched: revoking the new key leaves the bystander working.
    w.fake.revoke_admin_key(&w.new.id);
    bystander.check_key(&w.org.id).await.unwrap();
    assert!(own.check_key(&w.org.id).await.unwrap_err().status() == Some(401));
}

#[tokio::test]
async fn an_expired_old_key_is_replaced_the_new_key_reading_the_list() {
    let mut w = key_world().await;
    // The old key expired: the service is down, and the rotation is its recovery.
    w.old = w.fake.mint_admin_key(
        &w.org.id,
        "lapsed",
        super::support::KEY_SCOPES,
        time::OffsetDateTime::now_utc() - time::Duration::days(1),
    );
    let places = Places::new(&w.old.key);
    let rotator = w
        .key_rotator(ClientOptions::new(), w.new.key.clone())
        .consumer(places.dotenv());

    let report = rotate::rotate(
        &rotator,
        &MemoryJournal::new(),
        RotateOptions::new("lapsed"),
    )
    .await
    .unwrap();

    assert!(report.succeeded());
    assert!(places.read(".env").contains(w.new.key.expose_secret()));
    assert_eq!(
        report.updated.unwrap().fact_value("old_key_id"),
        Some(w.old.id.as_str())
    );
}

#[tokio::test]
async fn the_new_keys_id_given_as_the_old_one_while_another_key_is_busy_never_gets_it_revoked() {
    use atlassian_rotation::admin::AdminKeyQuery;
    use atlassian_rotation::testing::{Fault, Gate};

    let w = key_world().await;
    // Another team's automation uses the org's own (older) key all the time: here, exactly
    // while the rotation uses the new key to tell which listed key it is.
    let busy = w.client(&w.org.admin_key, ClientOptions::new());
    let gates = [Gate::new(), Gate::new()];
    for gate in &gates {
        w.fake.fault(Route::AdminOrg, Fault::wait_for(gate));
    }
    // The id of the new key, copied from the wrong line, is given as the old key's.
    let rotator = w.rotator_naming(
        ClientOptions::new(),
        KeyRef::Id(w.new.id.clone()),
        w.new.key.clone(),
    );
    let mut run = tokio::spawn(async move {
        rotate::rotate(
            &rotator,
            &MemoryJournal::new(),
            RotateOptions::new("wrong-line"),
        )
        .await
    });
    let mut outcome = None;
    for gate in &gates {
        tokio::select! {
            () = gate.until_waiting(1) => {
                busy.admin_api_key_count(&w.org.id, AdminKeyQuery::new()).await.unwrap();
                gate.open();
            }
            done = &mut run => {
                outcome = Some(done.unwrap());
                break;
            }
        }
    }
    let outcome = match outcome {
        Some(outcome) => outcome,
        None => run.await.unwrap(),
    };

    assert!(
        w.fake.admin_key_is_live(&w.new.key),
        "the new key was revoked: {:?}",
        outcome
            .as_ref()
            .map(|r| r.succeeded())
            .map_err(|e| e.to_string())
    );
    match outcome.map_err(|e| e.error) {
        Err(Error::ReplacementRefused {
            problem: ReplacementProblem::NotListed { reason },
            ..
        }) => assert!(reason.contains("AdminKeyRotator::new_key"), "{reason}"),
        other => panic!("{:?}", other.map(|r| r.succeeded())),
    }
    assert_eq!(w.fake.request_count(Route::RevokeAdminKey), 0);
}
