//! `rotate token|tunnel|admin-key`, and the journaled run every rotation (and `journal
//! resume`) goes through.

use std::io::{BufRead as _, Write as _};
use std::time::Duration;

use atlassian_rotation::instance::InstanceAuth;
use atlassian_rotation::jira::JiraClient;
use atlassian_rotation::rotate::{
    self, AdminKeyRotator, Audit, AutomationTokenRotator, FileJournal, Journal, KeyRef, OldToken,
    Probe, RotateOptions, RotationReport, Rotator, TunnelKeyRotator,
};
use atlassian_rotation::secret::{AdminApiKey, ApiCredentials, ApiToken, PersonalAccessToken};
use atlassian_rotation::{Error, InstanceClient};

use crate::args::{Confirm, RotateAdminKey, RotateToken, RotateTunnel, TokenArgs};
use crate::exit::{CliError, CliResult, Exit};
use crate::secrets::Secret;
use crate::settings::{Saved, SavedAdminKey, SavedConnection, SavedToken, SavedTunnel, Settings};
use crate::{Ctx, connect};

/// Where a rotation's new credential comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewCredential {
    /// Asked for (environment, stdin or prompt).
    Ask,
    /// The journal holds it (a resume): it is not asked for.
    Journaled,
}

/// The saved settings of a token rotation, from the flags.
pub fn saved_token(args: &TokenArgs, settings: &Settings) -> SavedToken {
    SavedToken {
        connection: SavedConnection::of(settings),
        token_email: args.token_email.clone(),
        consumers: args.consumers.clone(),
        revoke: args.revoke,
        account_id: args.account_id.clone(),
        old_token_id: args.old_token_id.clone(),
        old_token_label: args.old_token_label.clone(),
        accept_unreadable: args.accept_unreadable,
        watch_org: None,
        grace_secs: None,
    }
}

/// A token rotator from saved settings, and the new token when it was asked for. Secrets are
/// asked in the order stdin gives them: yours, the Admin API key, the old token, the new one.
/// With a revocation and no account id, the old token's account is asked (`/myself` on the
/// site) and kept in `saved`.
pub async fn token_rotator(
    saved: &mut SavedToken,
    ctx: &mut Ctx,
    new: NewCredential,
) -> CliResult<(AutomationTokenRotator, Option<ApiToken>)> {
    let settings = &ctx.settings;
    let site = settings.site()?.to_owned();
    let caller = connect::caller(settings, &mut ctx.secrets)?;
    let owner = saved
        .token_email
        .clone()
        .unwrap_or_else(|| caller.email().to_owned());
    let automation = connect::automation(settings, caller)?;
    let revocation = if saved.revoke {
        let token = match (&saved.old_token_id, &saved.old_token_label) {
            (Some(id), _) => OldToken::Id(id.clone()),
            (None, Some(label)) => OldToken::Label(label.clone()),
            (None, None) => {
                return Err(CliError::usage(
                    "--revoke needs --old-token-id or --old-token-label",
                ));
            }
        };
        Some((connect::admin(settings, &mut ctx.secrets)?, token))
    } else {
        None
    };
    let old = ctx.secrets.require(Secret::OldApiToken)?;
    let old = ApiCredentials::new(owner, ApiToken::new(old.as_str()));
    let new = match new {
        NewCredential::Ask => Some(ApiToken::new(
            ctx.secrets.require(Secret::NewApiToken)?.as_str(),
        )),
        NewCredential::Journaled => None,
    };
    let client = automation.clone();
    let mut rotator = match &new {
        Some(token) => AutomationTokenRotator::new(automation, &site, old.clone(), token.clone())?,
        None => AutomationTokenRotator::new(automation, &site, old.clone(), journaled::<ApiToken>)?,
    }
    .concurrency(ctx.settings.concurrency)
    .on_progress(ctx.progress.callback());
    for spec in &saved.consumers {
        rotator = rotator.consumer(spec.parse::<atlassian_rotation::consumer::ConsumerSpec>()?);
    }
    if let Some((admin, token)) = revocation {
        let account_id = match &saved.account_id {
            Some(id) => id.clone(),
            None => {
                let jira = JiraClient::builder(old).base_url(&site).build()?;
                let account = jira.myself().await.map_err(|e| {
                    CliError::failed(format!(
                        "the old token's account could not be asked ({e}); give --account-id"
                    ))
                })?;
                saved.account_id = Some(account.account_id.clone());
                account.account_id
            }
        };
        rotator = rotator
            .revoke_with(admin, account_id, token)
            .accept_unreadable(saved.accept_unreadable);
        if let (Some(org), Some(grace)) = (&saved.watch_org, saved.grace_secs) {
            rotator = rotator.watch_old_token(org, Duration::from_secs(grace));
        }
    }
    // The bar's length: counted once, before the passes.
    ctx.progress.count_rules_later(client);
    Ok((rotator, new))
}

/// The new credential's source on a resume: the journal holds it, so the driver resumes with
/// it when this source cannot answer.
async fn journaled<C>() -> atlassian_rotation::Result<C> {
    Err(Error::rotation(
        "regenerate",
        "the journal holds the new credential; it is not asked again",
    ))
}

pub async fn token(args: RotateToken, ctx: &mut Ctx) -> CliResult {
    let mut saved = saved_token(&args.token, &ctx.settings);
    saved.watch_org = args.watch_org.clone();
    saved.grace_secs = args.grace.map(|g| g.as_secs());
    let (rotator, _) = token_rotator(&mut saved, ctx, NewCredential::Ask).await?;
    if saved.revoke {
        confirm(
            &args.confirm,
            ctx,
            "Revoke the old API token once every place holds the new one?",
        )?;
    }
    let journal = FileJournal::new(&ctx.settings.journal)?;
    let id = rotate::resume_or_new_id(&journal, &rotator, "automation-token").await?;
    Saved::Token(saved).store(&ctx.settings.journal, &id)?;
    drive(&rotator, &journal, RotateOptions::new(&id), ctx).await
}

/// Asked before a tunnel key is regenerated: the old key stops working at once.
pub const TUNNEL_QUESTION: &str =
    "Regenerate the tunnel key (the old key stops working at once) and install the new one?";

/// A tunnel rotator from saved settings.
pub fn tunnel_rotator(saved: &SavedTunnel, ctx: &mut Ctx) -> CliResult<TunnelKeyRotator> {
    let org = ctx.settings.org()?.to_owned();
    let admin = connect::admin(&ctx.settings, &mut ctx.secrets)?;
    let pat = ctx.secrets.require(Secret::DcToken)?;
    let instance = InstanceClient::builder(InstanceAuth::PersonalAccessToken(
        PersonalAccessToken::new(pat.as_str()),
    ))
    .base_url(&saved.instance)
    .build()?;
    let mut rotator = TunnelKeyRotator::new(admin, instance, org, &saved.hostname);
    if let Some(name) = &saved.expect_org {
        rotator = rotator.expect_organisation(name);
    }
    if let Some(url) = &saved.probe {
        rotator = rotator.probe(Probe::url(url));
    }
    Ok(rotator)
}

pub async fn tunnel(args: RotateTunnel, ctx: &mut Ctx) -> CliResult {
    let saved = SavedTunnel {
        connection: SavedConnection::of(&ctx.settings),
        hostname: args.hostname.clone(),
        instance: args.instance.clone(),
        expect_org: args.expect_org.clone(),
        probe: args.probe.clone(),
    };
    let rotator = tunnel_rotator(&saved, ctx)?;
    confirm(&args.confirm, ctx, TUNNEL_QUESTION)?;
    let journal = FileJournal::new(&ctx.settings.journal)?;
    let id = rotate::resume_or_new_id(&journal, &rotator, "tunnel-key").await?;
    Saved::Tunnel(saved).store(&ctx.settings.journal, &id)?;
    let options = RotateOptions::new(&id).remint_after_unknown(args.remint_after_unknown);
    drive(&rotator, &journal, options, ctx).await
}

/// An Admin API key rotator from saved settings.
pub fn admin_key_rotator(
    saved: &SavedAdminKey,
    ctx: &mut Ctx,
    new: NewCredential,
) -> CliResult<AdminKeyRotator> {
    let org = ctx.settings.org()?.to_owned();
    let old = AdminApiKey::new(ctx.secrets.require(Secret::AdminKey)?.as_str());
    let admin = connect::admin_with(&ctx.settings, old.clone())?;
    let old_ref = match (&saved.old_key_id, &saved.old_key_label) {
        (Some(id), _) => KeyRef::Id(id.clone()),
        (None, Some(label)) => KeyRef::Label(label.clone()),
        (None, None) => {
            return Err(CliError::usage(
                "--old-key-id or --old-key-label is required",
            ));
        }
    };
    let mut rotator = match new {
        NewCredential::Ask => {
            let key = AdminApiKey::new(ctx.secrets.require(Secret::NewAdminKey)?.as_str());
            AdminKeyRotator::new(admin, org, old, old_ref, key)
        }
        NewCredential::Journaled => {
            AdminKeyRotator::new(admin, org, old, old_ref, journaled::<AdminApiKey>)
        }
    }
    .min_validity(Duration::from_secs(
        saved.min_expiry_days.saturating_mul(86_400),
    ));
    match (&saved.new_key_id, &saved.new_key_label) {
        (Some(id), _) => rotator = rotator.new_key(KeyRef::Id(id.clone())),
        (None, Some(label)) => rotator = rotator.new_key(KeyRef::Label(label.clone())),
        (None, None) => {}
    }
    for spec in &saved.consumers {
        rotator = rotator.consumer(spec.parse::<atlassian_rotation::consumer::ConsumerSpec>()?);
    }
    Ok(rotator)
}

pub async fn admin_key(args: RotateAdminKey, ctx: &mut Ctx) -> CliResult {
    let saved = SavedAdminKey {
        connection: SavedConnection::of(&ctx.settings),
        old_key_id: args.old_key_id.clone(),
        old_key_label: args.old_key_label.clone(),
        new_key_id: args.new_key_id.clone(),
        new_key_label: args.new_key_label.clone(),
        min_expiry_days: args.min_expiry,
        consumers: args.consumers.clone(),
    };
    let rotator = admin_key_rotator(&saved, ctx, NewCredential::Ask)?;
    confirm(
        &args.confirm,
        ctx,
        "Revoke the old Admin API key once every place holds the new one?",
    )?;
    let journal = FileJournal::new(&ctx.settings.journal)?;
    let id = rotate::resume_or_new_id(&journal, &rotator, "admin-key").await?;
    Saved::AdminKey(saved).store(&ctx.settings.journal, &id)?;
    drive(&rotator, &journal, RotateOptions::new(&id), ctx).await
}

/// Asks before a revocation: `--yes` answers; a terminal is asked; otherwise refused.
pub fn confirm(confirm: &Confirm, ctx: &Ctx, question: &str) -> CliResult {
    if confirm.yes {
        return Ok(());
    }
    if !ctx.secrets.interactive() {
        return Err(CliError::new(
            Exit::Refused,
            "the revocation is not confirmed: pass --yes when stdin is not a terminal",
        ));
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
        Ok(())
    } else {
        Err(CliError::new(
            Exit::Refused,
            "the revocation is not confirmed: nothing was changed",
        ))
    }
}

/// Runs (or resumes) the rotation `options` names, writes its report, and says how it ended.
pub async fn drive<R>(
    rotator: &R,
    journal: &FileJournal,
    options: RotateOptions,
    ctx: &Ctx,
) -> CliResult
where
    R: Rotator + ?Sized,
{
    let id = options.rotation_id.clone();
    let mut audit = Audit::new()
        .reason(format!("atlassian-rotation {}", rotator.kind()))
        .initiated_from(format!("atlassian-rotation {}", env!("CARGO_PKG_VERSION")));
    if let Some(email) = &ctx.settings.email {
        audit = audit.initiated_by(email);
    }
    ctx.progress.count_pending().await;
    ctx.out
        .note(format!("rotation `{id}` ({})", rotator.target()));
    let result = rotate::rotate(rotator, journal, options.audit(audit)).await;
    ctx.progress.finish();
    match result {
        Ok(report) => {
            write_report(ctx, &report)?;
            if report.succeeded() {
                Ok(())
            } else {
                Err(resumable(&id, "the rotation did not complete"))
            }
        }
        Err(e) => {
            write_report(ctx, &e.report)?;
            if e.unjournaled.is_some() {
                return Err(CliError::failed(format!(
                    "{e}; the new credential could not be journaled and is not kept: check the \
                     journal {} and run again",
                    ctx.settings.journal.display()
                )));
            }
            let code = match &e.error {
                Error::StillInUse { .. } => {
                    return Err(CliError::new(
                        Exit::Refused,
                        format!(
                            "{e}; nothing was revoked: move what still uses the old token, then \
                             `atlassian-rotation journal resume {id}`"
                        ),
                    ));
                }
                Error::RevocationBlocked { .. } => {
                    return Err(CliError::new(
                        Exit::Refused,
                        format!(
                            "{e}; nothing was changed: check those places, then run again with \
                             --accept-unreadable"
                        ),
                    ));
                }
                Error::LeaseHeld { .. } => {
                    return Err(CliError::new(
                        Exit::Resumable,
                        format!(
                            "{e}; if that runner is gone: `atlassian-rotation journal resume {id} \
                             --take-over`"
                        ),
                    ));
                }
                _ => match journal.load(&id).await {
                    Ok(Some(entry)) if entry.is_unfinished() && entry.has_credential() => {
                        Exit::Resumable
                    }
                    _ => Exit::Failed,
                },
            };
            match code {
                Exit::Resumable => Err(resumable(&id, &e.to_string())),
                _ => Err(CliError::new(code, e.to_string())),
            }
        }
    }
}

fn resumable(id: &str, why: &str) -> CliError {
    CliError::new(
        Exit::Resumable,
        format!(
            "{why}; rotation `{id}` is journaled: `atlassian-rotation journal resume {id}` goes on"
        ),
    )
}

fn write_report(ctx: &Ctx, report: &RotationReport) -> CliResult {
    if ctx.out.json {
        ctx.out.json_line(report)
    } else {
        ctx.out.line(report)
    }
}
