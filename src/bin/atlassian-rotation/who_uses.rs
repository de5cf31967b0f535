//! `who-uses`: which rules use a token, from an export file or live.

use atlassian_rotation::automation::{Finding, Scanner};
use atlassian_rotation::discover::{ScanSummary, UsageScan};
use atlassian_rotation::secret::ApiToken;
use futures::TryStreamExt as _;

use crate::args::WhoUses;
use crate::exit::{CliError, CliResult};
use crate::output::cell;
use crate::secrets::Secret;
use crate::{Ctx, connect};

pub async fn run(args: WhoUses, ctx: &mut Ctx) -> CliResult {
    let scanner = if args.all {
        Scanner::inventory()
    } else {
        let token = ctx.secrets.require(Secret::OldApiToken)?;
        Scanner::for_token(&ApiToken::new(token.as_str()))
    };
    let mut findings = Vec::new();
    let summary = match &args.export {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| {
                CliError::usage(format!("cannot read the export {}: {e}", path.display()))
            })?;
            let export: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
                CliError::usage(format!("the export {} is not JSON: {e}", path.display()))
            })?;
            findings = scanner.scan_export(&export)?;
            if ctx.out.json {
                for finding in &findings {
                    ctx.out.json_line(finding)?;
                }
            }
            ScanSummary::from_export(&export, &findings)
        }
        None => {
            let caller = connect::caller(&ctx.settings, &mut ctx.secrets)?;
            let client = connect::automation(&ctx.settings, caller)?;
            ctx.progress.count_rules(&client).await;
            let mut stream = UsageScan::new(&client, scanner)
                .concurrency(ctx.settings.concurrency)
                .on_progress(ctx.progress.callback())
                .stream();
            while let Some(finding) = stream.try_next().await? {
                if ctx.out.json {
                    ctx.out.json_line(&finding)?;
                } else {
                    findings.push(finding);
                }
            }
            ctx.progress.finish();
            stream.summary().clone()
        }
    };
    if !ctx.out.json {
        table(ctx, &findings)?;
    }
    ctx.out.note(&summary);
    if summary.is_complete() {
        Ok(())
    } else {
        Err(CliError::failed(
            "the scan is incomplete: some rules could not be read, so a missing match proves nothing",
        ))
    }
}

fn table(ctx: &Ctx, findings: &[Finding]) -> CliResult {
    let rows: Vec<Vec<String>> = findings
        .iter()
        .map(|f| {
            vec![
                f.rule_uuid
                    .clone()
                    .or_else(|| f.rule_index.map(|i| format!("#{i}")))
                    .unwrap_or_else(|| "-".to_owned()),
                cell(f.rule_name.as_deref()),
                f.status.as_str().to_owned(),
                f.form.as_str().to_owned(),
                cell(f.account_email.as_deref()),
                f.pointer.clone(),
            ]
        })
        .collect();
    ctx.out.table(
        &["RULE", "NAME", "STATUS", "FORM", "ACCOUNT", "WHERE"],
        &rows,
    )
}
