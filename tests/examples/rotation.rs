//! rotate_automation_token (dry run, real run, resume) and rotate_tunnel_key.

use super::*;

#[tokio::test]
async fn rotate_automation_token_dry_run_prints_the_plan_and_writes_nothing() {
    let w = world(50).await;
    let holding = sorted(w.fake.rules_holding(&w.old_credentials()));
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    let run = run_example!(
        rotate_automation_token,
        w.rotate_env(&journal),
        w.rotate_args(&["--dry-run"])
    );
    assert_eq!(run.code, 0, "{}", run.err);
    let plan: Value = serde_json::from_str(&run.out).unwrap();
    assert_eq!(plan["scanned"], 50);
    let planned = sorted(
        plan["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["uuid"].as_str().unwrap().to_owned()),
    );
    assert_eq!(planned, holding);
    assert_eq!(w.fake.request_count(Route::RulePut), 0);
    assert_eq!(sorted(w.fake.rules_holding(&w.old_credentials())), holding);
    assert!(!journal.exists(), "a dry run journals nothing");
    assert!(w.fake.token_is_live(&w.old));
    run.assert_clean(&w.secrets());
}

#[tokio::test]
async fn rotate_automation_token_replaces_every_use_and_revokes_the_old_token() {
    let w = world(50).await;
    let holding = sorted(w.fake.rules_holding(&w.old_credentials()));
    let dir = tempfile::tempdir().unwrap();
    let admin_base = w.fake.admin_base();
    let extra = [
        "--json",
        "--admin-base",
        &admin_base,
        "--account-id",
        &w.svc.account_id,
        "--old-token-id",
        &w.old_id,
        "--accept-unreadable",
    ];
    let run = run_example!(
        rotate_automation_token,
        w.rotate_env(dir.path()),
        w.rotate_args(&extra)
    );
    assert_eq!(run.code, 0, "{}", run.err);
    let report: Value = serde_json::from_str(&run.out).unwrap();
    assert_eq!(report["completed"], "finished");
    assert_eq!(report["updated"]["rewritten"], holding.len());
    assert_eq!(report["credential_fingerprint"], w.new.fingerprint());
    assert!(w.fake.rules_holding(&w.old_credentials()).is_empty());
    assert_eq!(sorted(w.fake.rules_holding(&w.new_credentials())), holding);
    assert!(!w.fake.token_is_live(&w.old), "revoked after verify");
    assert!(w.fake.token_is_live(&w.new));
    run.assert_clean(&w.secrets());
}

#[tokio::test]
async fn rotate_automation_token_updates_every_consumer_flag_too() {
    let w = world(20).await;
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join(".env");
    let token_file = dir.path().join("token");
    std::fs::write(
        &env_file,
        format!("A=1\nJIRA_TOKEN={}\n", w.old.expose_secret()),
    )
    .unwrap();
    let dotenv = format!("dotenv:{}#JIRA_TOKEN", env_file.display());
    let file = format!("file:{}", token_file.display());
    let run = run_example!(
        rotate_automation_token,
        w.rotate_env(&dir.path().join("journal")),
        w.rotate_args(&["--json", "--consumer", &dotenv, "--consumer", &file])
    );
    assert_eq!(run.code, 0, "{}", run.err);
    let new = w.new.expose_secret();
    assert_eq!(
        std::fs::read_to_string(&env_file).unwrap(),
        format!("A=1\nJIRA_TOKEN={new}\n")
    );
    assert_eq!(std::fs::read_to_string(&token_file).unwrap(), new);
    let report: Value = serde_json::from_str(&run.out).unwrap();
    let checks = report["verified"]["checks"].to_string();
    assert!(
        checks.contains(".env (JIRA_TOKEN) holds the new credential"),
        "{checks}"
    );
    run.assert_clean(&w.secrets());
}

#[tokio::test]
async fn rotate_automation_token_resumes_from_its_journal_after_a_failure() {
    let w = world(40).await;
    let holding = sorted(w.fake.rules_holding(&w.old_credentials()));
    let dir = tempfile::tempdir().unwrap();
    w.fake.fault(Route::RulePut, Fault::status(500).times(3));
    let first = run_example!(
        rotate_automation_token,
        w.rotate_env(dir.path()),
        w.rotate_args(&[])
    );
    first.assert_failed_with("run again to resume");
    assert!(
        first.out.contains("stopped after regenerated"),
        "{}",
        first.out
    );
    let left = w.fake.rules_holding(&w.old_credentials()).len();
    assert!(
        left > 0 && left < holding.len(),
        "a partial update: {left} of {}",
        holding.len()
    );
    first.assert_clean(&w.secrets());

    let again = run_example!(
        rotate_automation_token,
        w.rotate_env(dir.path()),
        w.rotate_args(&["--json"])
    );
    assert_eq!(again.code, 0, "{}", again.err);
    let report: Value = serde_json::from_str(&again.out).unwrap();
    assert_eq!(report["resumed_from"], "regenerated");
    assert_eq!(report["completed"], "finished");
    assert!(w.fake.rules_holding(&w.old_credentials()).is_empty());
    assert_eq!(sorted(w.fake.rules_holding(&w.new_credentials())), holding);
    again.assert_clean(&w.secrets());
}

#[tokio::test]
async fn rotate_tunnel_key_installs_the_new_key_and_the_probe_sees_it_connected() {
    let fake = FakeAtlassian::start().await;
    let org = fake.add_org("Example Org");
    let tunnel = fake.add_tunnel(&org.id, "jira-dc-prod");
    let dir = tempfile::tempdir().unwrap();
    let probe = format!("{}/probe", tunnel.instance_base);
    let admin_base = fake.admin_base();
    let args = strings(&[
        "--org",
        &org.id,
        "--hostname",
        &tunnel.hostname,
        "--instance",
        &tunnel.instance_base,
        "--admin-base",
        &admin_base,
        "--probe",
        &probe,
        "--expect-org",
        &org.name,
        "--json",
    ]);
    let env = rotate_tunnel_key::Env {
        admin_key: Some(org.admin_key.clone()),
        dc_token: Some(tunnel.pat.clone()),
        default_journal: dir.path().to_owned(),
    };
    let run = run_example!(rotate_tunnel_key, env, args);
    assert_eq!(run.code, 0, "{}", run.err);
    let report: Value = serde_json::from_str(&run.out).unwrap();
    assert_eq!(report["completed"], "finished");
    assert_eq!(
        fake.tunnel_status(&tunnel.hostname),
        Some(TunnelStatus::Connected)
    );
    let new_key = fake.tunnel_key(&tunnel.hostname).unwrap();
    assert_ne!(new_key.expose_secret(), tunnel.current_key.expose_secret());
    assert_eq!(report["credential_fingerprint"], new_key.fingerprint());
    assert_eq!(fake.request_count(Route::AdminRegenerate), 1);
    assert!(fake.request_count(Route::TunnelProbe) >= 1);
    run.assert_clean(&[
        org.admin_key.expose_secret(),
        tunnel.pat.expose_secret(),
        tunnel.current_key.expose_secret(),
        new_key.expose_secret(),
    ]);
}

/// A regenerate whose answer was lost: the rerun (without a rotation id, on any day) finds the
/// unfinished rotation of this tunnel instead of minting under a new id, refuses to mint again
/// unasked, and `--remint-after-unknown` brings the tunnel back with one more mint.
#[tokio::test]
async fn rotate_tunnel_key_after_a_lost_mint_resumes_the_same_rotation_and_remints_only_when_told()
{
    let fake = FakeAtlassian::start().await;
    let org = fake.add_org("Example Org");
    let tunnel = fake.add_tunnel(&org.id, "jira-dc-prod");
    let dir = tempfile::tempdir().unwrap();
    let admin_base = fake.admin_base();
    let base = [
        "--org",
        org.id.as_str(),
        "--hostname",
        tunnel.hostname.as_str(),
        "--instance",
        tunnel.instance_base.as_str(),
        "--admin-base",
        admin_base.as_str(),
        "--json",
    ];
    let env = || rotate_tunnel_key::Env {
        admin_key: Some(org.admin_key.clone()),
        dc_token: Some(tunnel.pat.clone()),
        default_journal: dir.path().to_owned(),
    };
    fake.fault(
        Route::AdminRegenerate,
        Fault::drop_connection().after_applying(),
    );
    // Started under another id (yesterday's default, say).
    let mut yesterday = base.to_vec();
    yesterday.extend(["--rotation-id", "tunnel-started-yesterday"]);
    let lost = run_example!(rotate_tunnel_key, env(), strings(&yesterday));
    assert_ne!(lost.code, 0);
    assert_eq!(fake.request_count(Route::AdminRegenerate), 1);

    // The same command again: the unfinished rotation is found, and it does not mint unasked.
    let again = run_example!(rotate_tunnel_key, env(), strings(&base));
    assert_ne!(again.code, 0);
    assert!(again.err.contains("outcome is unknown"), "{}", again.err);
    assert!(
        again.err.contains("tunnel-started-yesterday"),
        "{}",
        again.err
    );
    assert_eq!(
        fake.request_count(Route::AdminRegenerate),
        1,
        "no second mint"
    );
    let journaled = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".json")
        })
        .count();
    assert_eq!(journaled, 1, "one rotation, not one per run");

    let mut told = base.to_vec();
    told.push("--remint-after-unknown");
    let fixed = run_example!(rotate_tunnel_key, env(), strings(&told));
    assert_eq!(fixed.code, 0, "{}", fixed.err);
    assert_eq!(fake.request_count(Route::AdminRegenerate), 2);
    assert_eq!(
        fake.tunnel_status(&tunnel.hostname),
        Some(TunnelStatus::Connected)
    );

    // Finished: the next rotation of the tunnel is a new one.
    let next = run_example!(rotate_tunnel_key, env(), strings(&base));
    assert_eq!(next.code, 0, "{}", next.err);
    assert_eq!(fake.request_count(Route::AdminRegenerate), 3);
}
