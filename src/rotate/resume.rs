//! Finding the rotation a rerun should resume, or naming the next one.

use super::journal::{JournalEntry, Step, check_rotation_id};
use super::{Journal, Rotator};
use crate::error::Error;

/// The unfinished rotations in `journal` of `rotator`'s kind and target (and old credential,
/// when the rotator knows it), oldest first: what a rerun should resume rather than start
/// anew. An entry whose regenerate went unanswered ([`Step::Started`]) counts: its credential
/// may exist at the source.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> atlassian_rotation::Result<()> {
/// # use atlassian_rotation::async_trait;
/// # use atlassian_rotation::rotate::{Rotator, Updated, Verified};
/// # use atlassian_rotation::secret::ApiToken;
/// # struct Demo;
/// # #[async_trait]
/// # impl Rotator for Demo {
/// #     type Credential = ApiToken;
/// #     fn kind(&self) -> &'static str { "demo" }
/// #     async fn regenerate(&self) -> atlassian_rotation::Result<ApiToken> { Ok(ApiToken::new("n")) }
/// #     async fn update(&self, _: &ApiToken) -> atlassian_rotation::Result<Updated> { Ok(Updated::new(1, 1)) }
/// #     async fn verify(&self, _: &ApiToken, _: &Updated) -> atlassian_rotation::Result<Verified> { Ok(Verified::new()) }
/// # }
/// use atlassian_rotation::rotate::{self, MemoryJournal};
///
/// let journal = MemoryJournal::new();
/// assert!(rotate::unfinished(&journal, &Demo).await?.is_empty());
/// # Ok(()) }
/// ```
pub async fn unfinished<R>(journal: &dyn Journal, rotator: &R) -> crate::Result<Vec<JournalEntry>>
where
    R: Rotator + ?Sized,
{
    let target = rotator.target();
    let old = rotator.old_fingerprint();
    let mut entries: Vec<JournalEntry> = journal
        .list()
        .await?
        .into_iter()
        .filter(|e| e.is_unfinished() && e.kind == rotator.kind() && e.target == target)
        .filter(|e| old.is_none() || e.old_fingerprint.is_none() || e.old_fingerprint == old)
        .collect();
    entries.sort_by(|a, b| a.created_at.cmp(&b.created_at));
    Ok(entries)
}

/// The rotation id a rerun of "the same command" should use: the one unfinished rotation of
/// `rotator`'s kind and target in `journal` ([`unfinished`]), so that a rotation interrupted
/// yesterday is resumed today instead of minting again; or, when there is none, the next id of
/// the target's sequence, `<prefix>-<n>` with `n` one more than the rotations of this kind and
/// target the journal holds. The id is the same for two runs started together, so the
/// journal's create-only first write lets only one of them mint. Several unfinished
/// rotations for the same target are an [`Error::InvalidInput`] naming them: choose one.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> atlassian_rotation::Result<()> {
/// # use atlassian_rotation::async_trait;
/// # use atlassian_rotation::rotate::{Rotator, Updated, Verified};
/// # use atlassian_rotation::secret::ApiToken;
/// # struct Demo;
/// # #[async_trait]
/// # impl Rotator for Demo {
/// #     type Credential = ApiToken;
/// #     fn kind(&self) -> &'static str { "demo" }
/// #     async fn regenerate(&self) -> atlassian_rotation::Result<ApiToken> { Ok(ApiToken::new("n")) }
/// #     async fn update(&self, _: &ApiToken) -> atlassian_rotation::Result<Updated> { Ok(Updated::new(1, 1)) }
/// #     async fn verify(&self, _: &ApiToken, _: &Updated) -> atlassian_rotation::Result<Verified> { Ok(Verified::new()) }
/// # }
/// use atlassian_rotation::rotate::{self, MemoryJournal};
///
/// let id = rotate::resume_or_new_id(&MemoryJournal::new(), &Demo, "demo").await?;
/// assert_eq!(id, "demo-1");
/// # Ok(()) }
/// ```
pub async fn resume_or_new_id<R>(
    journal: &dyn Journal,
    rotator: &R,
    prefix: &str,
) -> crate::Result<String>
where
    R: Rotator + ?Sized,
{
    let target = rotator.target();
    let all = journal.list().await?;
    let taken: std::collections::HashSet<&str> =
        all.iter().map(|e| e.rotation_id.as_str()).collect();
    let mine: Vec<&JournalEntry> = all
        .iter()
        .filter(|e| e.kind == rotator.kind() && e.target == target)
        .collect();
    let mut found = unfinished(journal, rotator).await?;
    match found.len() {
        0 => {
            // A regenerate that certainly minted nothing may simply run again under its id.
            if let Some(unminted) = mine.iter().find(|e| e.step == Step::NotMinted) {
                return Ok(unminted.rotation_id.clone());
            }
            let mut n = mine.len() + 1;
            while taken.contains(format!("{prefix}-{n}").as_str()) {
                n += 1;
            }
            let id = format!("{prefix}-{n}");
            check_rotation_id(&id)?;
            Ok(id)
        }
        1 => Ok(found.remove(0).rotation_id),
        _ => Err(Error::invalid_input(
            "rotation id",
            format!(
                "several unfinished rotations of this target are journaled ({}): name the one to \
                 resume",
                found
                    .iter()
                    .map(|e| format!("`{}` at {}", e.rotation_id, e.step))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}
