//! Following cursor pages as a stream of items.

use std::collections::HashSet;
use std::hash::{BuildHasher as _, RandomState};

use futures::stream::{self, BoxStream, StreamExt as _, TryStreamExt as _};
use serde::de::DeserializeOwned;
use url::Url;

use super::{Call, Transport};
use crate::error::{Error, PaginationLimit, RequestInfo, Result};

/// What every listing of every client returns: a stream of items that follows pages lazily (the
/// next page is fetched when the items of the previous one have been consumed). It ends after
/// the last page, or with the first error. A listing never fails before it is polled: input it
/// refuses (a bad id, a page size out of range) is its first and only item, before any request.
/// An endpoint that does not paginate yields its one page the same way.
///
/// ```no_run
/// use futures::TryStreamExt as _;
/// use atlassian_rotation::Paginated;
/// use atlassian_rotation::admin::UserApiToken;
///
/// # async fn run(admin: atlassian_rotation::AdminClient) -> atlassian_rotation::Result<()> {
/// let tokens: Paginated<UserApiToken> = admin.user_api_tokens("557058:f5a2d3b1-0000");
/// let tokens: Vec<UserApiToken> = tokens.try_collect().await?;
/// # let _ = tokens;
/// # Ok(()) }
/// ```
pub type Paginated<T> = BoxStream<'static, Result<T>>;

/// One decoded page: its items and the server's `next` link, if any.
pub(crate) trait Page: DeserializeOwned + Send + 'static {
    type Item: Send + 'static;
    fn into_parts(self) -> (Vec<Self::Item>, Option<String>);

    /// The identity of an item (a rule's uuid, a token's id), by which the paginator tells a
    /// page of items it already yielded from a page that makes progress. `None`: every item
    /// counts as new.
    fn item_key(_item: &Self::Item) -> Option<&str> {
        None
    }
}

/// The answer of an endpoint that does not paginate: a JSON array (or `null`), one page with
/// no `next` link.
#[derive(serde::Deserialize)]
#[serde(transparent, bound = "T: DeserializeOwned")]
pub(crate) struct Unpaged<T>(Option<Vec<T>>);

impl<T: DeserializeOwned + Send + 'static> Page for Unpaged<T> {
    type Item = T;
    fn into_parts(self) -> (Vec<T>, Option<String>) {
        (self.0.unwrap_or_default(), None)
    }
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
    template: String,
    cursor_param: &'static str,
    /// Every page URL fetched, with its query pairs sorted (a link that differs from one of them
    /// only in the order of its parameters is the same page), as a hash keyed by `keys`.
    seen: HashSet<u64>,
    /// The keys of the items yielded so far, hashed with `keys`.
    items_seen: SeenItems,
    /// The hash keys of this listing (random per listing).
    keys: RandomState,
    /// Pages fetched.
    pages: u64,
    /// Consecutive pages without a new item.
    idle: u32,
    /// The error that ends the stream after the items of the last page.
    stop: Option<Error>,
}

impl State {
    fn limit(&self, limit: PaginationLimit) -> Error {
        Error::PaginationLimit {
            request: RequestInfo::read("GET", &self.template),
            limit,
        }
    }

    /// Whether `items` holds an item not yielded before (every item does when the page type
    /// has no item keys); remembers the new ones.
    fn progress<P: Page>(&mut self, items: &[P::Item]) -> bool {
        let mut new = false;
        for item in items {
            match P::item_key(item) {
                Some(key) => new |= self.items_seen.insert(self.keys.hash_one(key)),
                None => new = true,
            }
        }
        new
    }
}

/// The item keys a listing yielded, in Bloom filters of doubling capacity (1,024 keys, then
/// 2,048, ...), 16 bits and 11 probes a key: 2 bytes a key, never copied as it grows, where a
/// set of 64-bit hashes took 9 to 18 and a copy of the whole at every doubling (a listing of
/// 20,000 rules held 290 KiB, with 430 KiB at its peak; now 62 KiB).
///
/// A new key looks seen with a probability of at most 0.05% per filter (about 0.5% with ten
/// filters, at a million keys); a page counts as no progress only when every one of its items
/// looks seen, and a listing stops only after `max_empty_pages` such pages in a row, so a
/// listing that makes progress is not stopped (for pages of one item, ten in a row at 0.5%:
/// 1e-23). The hashes are keyed per listing: a server cannot aim at collisions. A key seen
/// before always looks seen, so a server repeating items is caught exactly as before.
#[derive(Default)]
struct SeenItems {
    /// The last one fills; the others are full.
    filters: Vec<Bloom>,
}

struct Bloom {
    bits: Box<[u64]>,
    /// Keys it takes before the next filter starts.
    capacity: usize,
    len: usize,
}

impl Bloom {
    const FIRST_CAPACITY: usize = 1024;
    /// A power of two, as the capacities are: the bit count is one too.
    const BITS_PER_KEY: usize = 16;
    /// The optimum for 16 bits a key (16 ln 2).
    const PROBES: u64 = 11;

    fn with_capacity(capacity: usize) -> Self {
        Self {
            bits: vec![0; capacity * Self::BITS_PER_KEY / 64].into_boxed_slice(),
            capacity,
            len: 0,
        }
    }

    /// The bit positions of `hash` (double hashing: an odd step visits distinct positions).
    fn positions(words: usize, hash: u64) -> impl Iterator<Item = usize> {
        let mask = (words * 64 - 1) as u64;
        let (start, step) = (hash & 0xffff_ffff, (hash >> 32) | 1);
        (0..Self::PROBES).map(move |i| (start.wrapping_add(i.wrapping_mul(step)) & mask) as usize)
    }

    fn contains(&self, hash: u64) -> bool {
        Self::positions(self.bits.len(), hash)
            .all(|bit| self.bits[bit / 64] & (1 << (bit % 64)) != 0)
    }

    fn insert(&mut self, hash: u64) {
        for bit in Self::positions(self.bits.len(), hash) {
            self.bits[bit / 64] |= 1 << (bit % 64);
        }
        self.len += 1;
    }
}

impl SeenItems {
    /// Remembers `hash`; whether it looked new.
    fn insert(&mut self, hash: u64) -> bool {
        if self.filters.iter().any(|f| f.contains(hash)) {
            return false;
        }
        let capacity = match self.filters.last() {
            Some(last) if last.len < last.capacity => None,
            Some(last) => Some(last.capacity * 2),
            None => Some(Bloom::FIRST_CAPACITY),
        };
        if let Some(capacity) = capacity {
            self.filters.push(Bloom::with_capacity(capacity));
        }
        if let Some(last) = self.filters.last_mut() {
            last.insert(hash);
        }
        true
    }
}

/// A URL as a page identity: its query pairs sorted, so `?a=1&b=2` and `?b=2&a=1` are one page.
fn page_key(url: &Url) -> String {
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    pairs.sort();
    let mut key = url.clone();
    key.set_fragment(None);
    if pairs.is_empty() {
        key.set_query(None);
    } else {
        key.query_pairs_mut().clear().extend_pairs(pairs);
    }
    key.into()
}

/// Streams the items of `first` and of every page its `next` links lead to.
///
/// A server cannot keep the stream going forever: a link to a page already fetched (even with
/// its query parameters reordered) ends it with [`Error::RepeatedCursor`];
/// [`ClientOptions::max_empty_pages`](super::ClientOptions::max_empty_pages) consecutive pages
/// without a new item, or [`ClientOptions::max_pages`](super::ClientOptions::max_pages) pages in
/// all, end it with [`Error::PaginationLimit`] (after the items of the last page fetched).
/// When `first` is an error (input refused before any request), it is the stream's one item.
pub(crate) fn paginate<P: Page>(
    transport: Transport,
    first: Result<Call>,
    cursor_param: &'static str,
) -> Paginated<P::Item> {
    let first = match first {
        Ok(call) => call,
        Err(err) => return stream::once(async move { Err(err) }).boxed(),
    };
    let template = first.template().to_owned();
    let state = State {
        transport,
        next: Some(first),
        template,
        cursor_param,
        seen: HashSet::new(),
        items_seen: SeenItems::default(),
        keys: RandomState::new(),
        pages: 0,
        idle: 0,
        stop: None,
    };
    stream::try_unfold(state, |mut state| async move {
        if let Some(err) = state.stop.take() {
            return Err(err);
        }
        let Some(call) = state.next.take() else {
            return Ok(None);
        };
        let url = state.transport.url(&call)?;
        let page = state.keys.hash_one(page_key(&url));
        state.seen.insert(page);
        let response = state.transport.send(call).await?;
        state.pages = state.pages.saturating_add(1);
        let page: P = response.decode()?;
        let (items, link) = page.into_parts();
        if state.progress::<P>(&items) {
            state.idle = 0;
        } else {
            state.idle = state.idle.saturating_add(1);
        }
        let Some(link) = link.filter(|l| !l.trim().is_empty()) else {
            return Ok(Some((items, state)));
        };
        let next = next_page_url(&url, &link, state.cursor_param)?;
        if state.seen.contains(&state.keys.hash_one(page_key(&next))) {
            return Err(Error::RepeatedCursor {
                request: RequestInfo::read("GET", &state.template),
            });
        }
        let options = &state.transport.inner.options;
        let (max_idle, max_pages) = (options.max_empty_pages, options.max_pages);
        if state.idle >= max_idle {
            state.stop = Some(state.limit(PaginationLimit::NoProgress { pages: state.idle }));
        } else if state.pages >= max_pages {
            state.stop = Some(state.limit(PaginationLimit::MaxPages { pages: state.pages }));
        } else {
            state.next = Some(Call::get_url(next, state.template.clone()));
        }
        Ok(Some((items, state)))
    })
    .map_ok(|items| stream::iter(items.into_iter().map(Ok)))
    .try_flatten()
    .boxed()
}

/// Streams the items of an endpoint that answers one JSON array and does not paginate, as a
/// listing like any other.
pub(crate) fn unpaged<T: DeserializeOwned + Send + 'static>(
    transport: Transport,
    call: Result<Call>,
) -> Paginated<T> {
    paginate::<Unpaged<T>>(transport, call, "cursor")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_items_know_every_key_again_and_rarely_mistake_a_new_one() {
        let keys = RandomState::new();
        let mut seen = SeenItems::default();
        let n = 50_000;
        let mistaken = (0..n)
            .filter(|i| !seen.insert(keys.hash_one(format!("rule-{i}"))))
            .count();
        // At most 0.05% per filter at capacity, six filters here.
        assert!(mistaken < n / 200, "{mistaken} new keys looked seen");
        assert!(
            (0..n).all(|i| !seen.insert(keys.hash_one(format!("rule-{i}")))),
            "a key seen before always looks seen"
        );
        let capacities: Vec<usize> = seen.filters.iter().map(|f| f.capacity).collect();
        assert_eq!(capacities, [1024, 2048, 4096, 8192, 16384, 32768]);
        let bytes: usize = seen.filters.iter().map(|f| f.bits.len() * 8).sum();
        assert_eq!(bytes, 63 * 2048, "2 bytes a key of capacity");
    }

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

    #[test]
    fn a_page_is_the_same_whatever_the_order_of_its_query() {
        let a = Url::parse("https://h.example/p?limit=2&cursor=c1").unwrap();
        let b = Url::parse("https://h.example/p?cursor=c1&limit=2#x").unwrap();
        let c = Url::parse("https://h.example/p?cursor=c2&limit=2").unwrap();
        assert_eq!(page_key(&a), page_key(&b));
        assert_ne!(page_key(&a), page_key(&c));
    }
}
