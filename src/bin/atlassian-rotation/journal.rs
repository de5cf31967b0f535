//! `journal list|show|resume|abandon`.

use atlassian_rotation::rotate::{FileJournal, Journal, JournalEntry, RotateOptions, Step};
use serde_json::{Value, json};

use crate::Ctx;
use crate::args::{Abandon, JournalCmd, Resume};
use crate::exit::{CliError, CliResult};
use crate::output::cell;
use crate::rotate::{self, NewCredential};
use crate::settings::Saved;

pub async fn run(command: JournalCmd, ctx: &mut Ctx) -> CliResult {
    let journal = FileJournal::new(&ctx.settings.journal)?;
    match command {
        JournalCmd::List => list(&journal, ctx).await,
        JournalCmd::Show(args) => show(&journal, &args.id, ctx).await,
        JournalCmd::Resume(args) => resume(&journal, args, ctx).await,
        JournalCmd::Abandon(args) => abandon(&journal, args, ctx).await,
    }
}

/// An entry as JSON: every field but the credential (a listing holds none anyway).
fn entry_json(entry: &JournalEntry) -> Value {
    json!({
        "rotation_id": entry.rotation_id,
        "kind": entry.kind,
        "target": entry.target,
        "step": entry.step,
        "unfinished": entry.is_unfinished(),
        "fingerprint": entry.fingerprint,
        "old_fingerprint": entry.old_fingerprint,
        "created_at": entry.created_at,
        "updated_at": entry.updated_at,
        "holder": entry.holder,
        "lease_until": entry.lease_until,
        "last_error": entry.last_error,
        "abandoned_reason": entry.abandoned_reason,
        "updated": entry.updated,
        "verified": entry.verified,
        "finished": entry.finished,
    })
}

async fn list(journal: &FileJournal, ctx: &Ctx) -> CliResult {
    let mut entries = journal.list().await?;
    entries.sort_by(|a, b| {
        (!a.is_unfinished(), &a.created_at).cmp(&(!b.is_unfinished(), &b.created_at))
    });
    if ctx.out.json {
        for entry in &entries {
            ctx.out.json_line(&entry_json(entry))?;
        }
        return Ok(());
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                e.rotation_id.clone(),
                e.kind.clone(),
                e.step.to_string(),
                e.updated_at.clone(),
                e.target.clone(),
            ]
        })
        .collect();
    ctx.out
        .table(&["ROTATION", "KIND", "STEP", "UPDATED", "TARGET"], &rows)?;
    ctx.out.note(format!(
        "{} rotations in {}",
        entries.len(),
        ctx.settings.journal.display()
    ));
    Ok(())
}

async fn load(journal: &FileJournal, id: &str, ctx: &Ctx) -> CliResult<JournalEntry> {
    journal.load(id).await?.ok_or_else(|| {
        CliError::usage(format!(
            "no rotation `{id}` in the journal {}",
            ctx.settings.journal.display()
        ))
    })
}

async fn show(journal: &FileJournal, id: &str, ctx: &Ctx) -> CliResult {
    let entry = load(journal, id, ctx).await?;
    if ctx.out.json {
        return ctx.out.json_line(&entry_json(&entry));
    }
    let updated = entry.updated.as_ref();
    let lines = [
        ("rotation", entry.rotation_id.clone()),
        ("kind", entry.kind.clone()),
        ("target", entry.target.clone()),
        ("step", entry.step.to_string()),
        ("new credential", entry.fingerprint.clone()),
        ("created", entry.created_at.clone()),
        ("updated", entry.updated_at.clone()),
        ("held by", cell(entry.holder.as_deref())),
        ("last error", cell(entry.last_error.as_deref())),
        ("abandoned", cell(entry.abandoned_reason.as_deref())),
        (
            "rewritten",
            updated.map_or("-".to_owned(), |u| {
                format!("{} of {} found", u.rewritten, u.found)
            }),
        ),
        (
            "verified",
            entry
                .verified
                .as_ref()
                .map_or("-".to_owned(), |v| v.checks.join("; ")),
        ),
        (
            "retired",
            entry
                .finished
                .as_ref()
                .map_or("-".to_owned(), |f| f.retired.join("; ")),
        ),
    ];
    for (name, value) in lines {
        ctx.out.line(format!("{name:<15} {value}"))?;
    }
    Ok(())
}

async fn resume(journal: &FileJournal, args: Resume, ctx: &mut Ctx) -> CliResult {
    let entry = load(journal, &args.id, ctx).await?;
    if entry.step == Step::Abandoned {
        // Not done: a script must not read an abandoned rotation as rotated.
        return Err(CliError::failed(format!(
            "rotation `{}` was abandoned: nothing to resume; start a new rotation",
            args.id
        )));
    }
    if !entry.is_unfinished() {
        ctx.out.note(format!(
            "rotation `{}` is {}: nothing to resume",
            args.id, entry.step
        ));
        return Ok(());
    }
    let saved = Saved::load(&ctx.settings.journal, &args.id)?;
    let journal_dir = ctx.settings.journal.clone();
    let new = if entry.has_credential() {
        NewCredential::Journaled
    } else {
        NewCredential::Ask
    };
    if args.take_over {
        if let Some(holder) = &entry.holder {
            journal.release(&args.id, holder).await?;
            ctx.out
                .note(format!("took rotation `{}` over from {holder}", args.id));
        }
    }
    let options = RotateOptions::new(&args.id);
    match saved {
        Saved::Token(mut saved) => {
            ctx.settings = saved.connection.settings(&journal_dir);
            let (rotator, _) = rotate::token_rotator(&mut saved, ctx, new).await?;
            if saved.revoke {
                rotate::confirm(
                    &args.confirm,
                    ctx,
                    "Revoke the old API token once every place holds the new one?",
                )?;
            }
            rotate::drive(&rotator, journal, options, ctx).await
        }
        Saved::Tunnel(saved) => {
            ctx.settings = saved.connection.settings(&journal_dir);
            let rotator = rotate::tunnel_rotator(&saved, ctx)?;
            if new == NewCredential::Ask {
                // No key journaled: the resume regenerates one.
                rotate::confirm(&args.confirm, ctx, rotate::TUNNEL_QUESTION)?;
            }
            rotate::drive(&rotator, journal, options, ctx).await
        }
        Saved::AdminKey(saved) => {
            ctx.settings = saved.connection.settings(&journal_dir);
            let rotator = rotate::admin_key_rotator(&saved, ctx, new)?;
            rotate::confirm(
                &args.confirm,
                ctx,
                "Revoke the old Admin API key once every place holds the new one?",
            )?;
            rotate::drive(&rotator, journal, options, ctx).await
        }
    }
}

async fn abandon(journal: &FileJournal, args: Abandon, ctx: &Ctx) -> CliResult {
    let entry = journal.abandon(&args.id, &args.reason).await?;
    if ctx.out.json {
        ctx.out.json_line(&entry_json(&entry))?;
    }
    ctx.out.note(format!(
        "rotation `{}` abandoned; the journal no longer holds its new credential ({})",
        args.id, entry.fingerprint
    ));
    Ok(())
}
