//! Following cursor pages as a stream of items.

use std::collections::HashSet;

use futures::stream::{self, BoxStream, StreamExt as _, TryStreamExt as _};
use serde::de::DeserializeOwned;
use url::Url;

use super::{Call, Transport};
use crate::error::{Error, RequestInfo, Result};

/// A stream of items that follows pages lazily: the next page is fetched when the items of the
/// previous one have been consumed. It ends after the last page, or with the first error.
pub type Paginated<T> = BoxStream<'static, Result<T>>;

/// One decoded page: its items and the server's `next` link, if any.
pub(crate) trait Page: DeserializeOwned + Send + 'static {
    type Item: Send + 'static;
    fn into_parts(self) -> (Vec<Self::Item>, Option<String>);
}

/// Resolves a `next` link in any of the three forms seen in the wild, relative to the URL of the
/// page it came with: a full URL, a query string (`?cursor=..&limit=..`), or a bare cursor
/// (sent back as `cursor_param`). A link starting with `/` is a path on the same origin.
pub(crate) fn next_page_url(current: &Url, link: &str, cursor_param: &str) -> Result<Url> {
    let link = link.trim();
    if let Some(query) = link.strip_prefix('?') {
        let mut url = current.clone();
        url.set_query(Some(query));
        return Ok(url);
    }
    if link.starts_with('/') {
        return current
            .join(link)
            .map_err(|e| Error::invalid_input("pagination link", e.to_string()));
    }
    if let Ok(url) = Url::parse(link) {
        if url.scheme() == "http" || url.scheme() == "https" {
            return Ok(url);
        }
    }
    let mut url = current.clone();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != cursor_param)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair(cursor_param, link);
    Ok(url)
}

struct State {
    transport: Transport,
    next: Option<Call>,
    current: Option<Url>,
    template: String,
    cursor_param: &'static str,
    seen: HashSet<String>,
}

/// Streams the items of `first` and of every page its `next` links lead to. Stops with
/// [`Error::RepeatedCursor`] when a server sends a link it sent before.
pub(crate) fn paginate<P: Page>(
    transport: Transport,
    first: Call,
    cursor_param: &'static str,
) -> Paginated<P::Item> {
    let template = first.template().to_owned();
    let state = State {
        transport,
        next: Some(first),
        current: None,
        template,
        cursor_param,
        seen: HashSet::new(),
    };
    stream::try_unfold(state, |mut state| async move {
        let Some(call) = state.next.take() else {
            return Ok(None);
        };
        let url = state.transport.url(&call)?;
        state.seen.insert(url.as_str().to_owned());
        let response = state.transport.send(call).await?;
        let page: P = response.decode()?;
        let (items, link) = page.into_parts();
        state.current = Some(url);
        if let (Some(link), Some(current)) = (link.filter(|l| !l.trim().is_empty()), &state.current)
        {
            let next = next_page_url(current, &link, state.cursor_param)?;
            if state.seen.contains(next.as_str()) {
                return Err(Error::RepeatedCursor {
                    request: RequestInfo::read("GET", &state.template),
                });
            }
            state.next = Some(Call::get_url(next, state.template.clone()));
        }
        Ok(Some((items, state)))
    })
    .map_ok(|items| stream::iter(items.into_iter().map(Ok)))
    .try_flatten()
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_links_resolve_in_every_form() {
        let current = Url::parse("https://h.example/a/rule/summary?limit=2&cursor=c1").unwrap();
        assert_eq!(
            next_page_url(&current, "?cursor=c2&limit=2", "cursor")
                .unwrap()
                .as_str(),
            "https://h.example/a/rule/summary?cursor=c2&limit=2"
        );
        assert_eq!(
            next_page_url(
                &current,
                "https://h.example/a/rule/summary?cursor=c3",
                "cursor"
            )
            .unwrap()
            .as_str(),
            "https://h.example/a/rule/summary?cursor=c3"
        );
        assert_eq!(
            next_page_url(&current, "c4+/=", "cursor").unwrap().as_str(),
            "https://h.example/a/rule/summary?limit=2&cursor=c4%2B%2F%3D"
        );
        assert_eq!(
            next_page_url(&current, "/a/rule/summary?cursor=c5", "cursor")
                .unwrap()
                .as_str(),
            "https://h.example/a/rule/summary?cursor=c5"
        );
    }
}
