//! `expiring`: the org's credentials (user API tokens, Admin API keys, service-account tokens)
//! that expire soon, with the rules that use their accounts.

use std::time::Duration;

use atlassian_rotation::discover::{ExpiryRadar, RadarReport, ResolveIdentities, WhereUsed};

use crate::args::Expiring;
use crate::exit::{CliError, CliResult};
use crate::output::cell;
use crate::{Ctx, connect};

pub async fn run(args: Expiring, ctx: &mut Ctx) -> CliResult {
    let org = ctx.settings.org()?.to_owned();
    let admin = connect::admin(&ctx.settings, &mut ctx.secrets)?;
    let caller = connect::caller(&ctx.settings, &mut ctx.secrets)?;
    let automation = connect::automation(&ctx.settings, caller)?;
    let mut radar = ExpiryRadar::new(&admin, &org, &automation)
        .within(Duration::from_secs(args.within.saturating_mul(86_400)))
        .concurrency(ctx.settings.concurrency)
        .on_progress(ctx.progress.callback());
    if !args.kinds.is_empty() {
        radar = radar.kinds(args.kinds.iter().copied());
    }
    if args.resolve_identities {
        let resolve = match (&ctx.settings.identity_base, &ctx.settings.cloud_id) {
            (Some(url), _) => ResolveIdentities::base_url(url),
            (None, Some(cloud_id)) => ResolveIdentities::cloud(cloud_id),
            (None, None) => {
                return Err(CliError::usage(
                    "--resolve-identities needs --cloud-id (or `cloud_id` in the profile)",
                ));
            }
        };
        radar = radar.resolve_identities(resolve);
    }
    ctx.progress.count_rules(&automation).await;
    let report = radar.run().await?;
    ctx.progress.finish();
    if ctx.out.json {
        ctx.out.json_line(&report)?;
    } else {
        table(ctx, &report)?;
    }
    ctx.out.note(format!(
        "{} credentials expire within {} days; {} uses could not be attributed; {}",
        report.expiring.len(),
        args.within,
        report.unresolved.len(),
        report.scan
    ));
    if !report.unresolved.is_empty() && !args.resolve_identities {
        ctx.out
            .note("--resolve-identities asks Jira whose the unattributed credentials are");
    }
    for missing in report.not_covered() {
        ctx.out.note(missing.to_string());
    }
    if report.not_covered().next().is_some() {
        return Err(CliError::failed(
            "the report is incomplete: a kind of credential could not be listed (see above), \
             so something not listed may still expire",
        ));
    }
    // Every kind listed: the report is incomplete only where its rules matter (a credential
    // used in rules expires) and were not all read; unattributed uses only get the hint.
    if !report.is_complete() && !report.scan.is_complete() {
        return Err(CliError::failed(
            "the report is incomplete: some rules could not be read, so a token listed \
             without rules may still be used",
        ));
    }
    // A credential whose owner was not listed with both id and email cannot be joined to the
    // rules that name it: its "0 rules" would read as "unused".
    let unknown_owners = report
        .expiring
        .iter()
        .filter(|c| c.where_used == WhereUsed::AutomationRules && !c.owner_is_known())
        .count();
    if unknown_owners > 0 {
        return Err(CliError::failed(format!(
            "the report is incomplete: {unknown_owners} credential(s) marked `?` have an owner \
             the org did not list with both account id and email, so the rules using them \
             may not be counted"
        )));
    }
    Ok(())
}

fn table(ctx: &Ctx, report: &RadarReport) -> CliResult {
    let rows: Vec<Vec<String>> = report
        .expiring
        .iter()
        .map(|c| {
            let owner = c.owner.as_ref();
            let rules = match c.where_used {
                WhereUsed::NotTracked => c.where_used.to_string(),
                _ if !c.owner_is_known() => format!("{}?", c.uses.len()),
                _ => c.uses.len().to_string(),
            };
            vec![
                c.kind.to_string(),
                c.id.clone(),
                cell(c.label.as_deref()),
                cell(owner.and_then(|o| o.email.as_deref().or(o.account_id.as_deref()))),
                c.expires_at
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), ToString::to_string),
                rules,
            ]
        })
        .collect();
    ctx.out
        .table(&["KIND", "ID", "LABEL", "OWNER", "EXPIRES", "RULES"], &rows)
}
