//! `plan`: the dry run of a token rotation. Writes nothing.

use crate::Ctx;
use crate::args::Plan;
use crate::exit::CliResult;
use crate::output::cell;
use crate::rotate::{NewCredential, saved_token, token_rotator};

pub async fn run(args: Plan, ctx: &mut Ctx) -> CliResult {
    let mut saved = saved_token(&args.token, &ctx.settings);
    let (rotator, new) = token_rotator(&mut saved, ctx, NewCredential::Ask).await?;
    let new = new.expect("a plan asks for the new token");
    ctx.progress.count_pending().await;
    let plan = rotator.plan(&new).await?;
    ctx.progress.finish();
    if ctx.out.json {
        ctx.out.json_line(&plan)?;
    } else {
        let rows: Vec<Vec<String>> = plan
            .rules
            .iter()
            .flat_map(|rule| {
                rule.rewrites.iter().map(|rewrite| {
                    vec![
                        rule.uuid.clone(),
                        cell(rule.name.as_deref()),
                        rewrite.form.as_str().to_owned(),
                        rewrite.pointer.clone(),
                    ]
                })
            })
            .collect();
        ctx.out.table(&["RULE", "NAME", "FORM", "WHERE"], &rows)?;
    }
    ctx.out.note(format!(
        "dry run: {} of {} rules would be rewritten; {} hidden values cannot be checked; \
         nothing was written",
        plan.rules.len(),
        plan.scanned,
        plan.cannot_tell.len()
    ));
    if !plan.blocks_revocation.is_empty() {
        ctx.out.note(format!(
            "{} places cannot be read and may hold the old token: `rotate token --revoke` \
             refuses until they are checked (then --accept-unreadable)",
            plan.blocks_revocation.len()
        ));
    }
    Ok(())
}
