//! One page of an API Access listing, whatever the listing calls its items.

use std::fmt;

use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// An item with an identity, by which the paginator tells a page that makes progress from a
/// page of items it already yielded.
pub(super) trait Keyed {
    fn key(&self) -> &str;
}

/// One page of a listing of the API Access API: `{data: [...], links: {next}}` (API tokens,
/// Admin API keys), `{items: [...], links: {next}, total}` (service accounts), or a bare array
/// (a listing that is not paginated). A missing or `null` item list is an empty page.
pub(super) struct ListPage<T> {
    items: Vec<T>,
    next: Option<String>,
}

#[derive(Deserialize)]
struct Links {
    #[serde(default)]
    next: Option<String>,
}

/// Read by hand rather than as an untagged enum, so that a decode failure names its JSON path
/// (`data[3].id`) instead of "did not match any variant".
impl<'de, T: Deserialize<'de>> Deserialize<'de> for ListPage<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PageVisitor(std::marker::PhantomData))
    }
}

struct PageVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for PageVisitor<T> {
    type Value = ListPage<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a page object with `data` or `items`, or an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(ListPage { items, next: None })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut page = ListPage {
            items: Vec::new(),
            next: None,
        };
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "data" | "items" => {
                    page.items = map.next_value::<Option<Vec<T>>>()?.unwrap_or_default();
                }
                "links" => page.next = map.next_value::<Option<Links>>()?.and_then(|l| l.next),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(page)
    }
}

impl<T> crate::transport::Page for ListPage<T>
where
    T: Keyed + serde::de::DeserializeOwned + Send + 'static,
{
    type Item = T;

    fn into_parts(self) -> (Vec<T>, Option<String>) {
        (self.items, self.next)
    }

    fn item_key(item: &T) -> Option<&str> {
        Some(item.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Page as _;

    struct Item(String);

    impl<'de> Deserialize<'de> for Item {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            #[derive(Deserialize)]
            struct Wire {
                id: String,
            }
            Ok(Item(Wire::deserialize(d)?.id))
        }
    }

    impl Keyed for Item {
        fn key(&self) -> &str {
            &self.0
        }
    }

    fn parts(json: &str) -> (Vec<String>, Option<String>) {
        let page: ListPage<Item> = serde_json::from_str(json).unwrap();
        let (items, next) = page.into_parts();
        (items.into_iter().map(|i| i.0).collect(), next)
    }

    #[test]
    fn every_listing_shape_reads_as_a_page() {
        let data = r#"{"data":[{"id":"a"}],"links":{"self":"s","next":"?cursor=c","prev":null}}"#;
        assert_eq!(parts(data), (vec!["a".into()], Some("?cursor=c".into())));
        let items = r#"{"links":{"next":null,"prev":null},"items":[{"id":"b"}],"total":1}"#;
        assert_eq!(parts(items), (vec!["b".into()], None));
        assert_eq!(parts(r#"[{"id":"c"}]"#), (vec!["c".into()], None));
        assert_eq!(parts(r#"{"data":null}"#), (vec![], None));
        let mut bad = serde_json::Deserializer::from_str(r#"{"data":[{"id":"a"},{"x":1}]}"#);
        let err = serde_path_to_error::deserialize::<_, ListPage<Item>>(&mut bad)
            .err()
            .unwrap();
        assert!(err.path().to_string().starts_with("data[1]"), "{err}");
    }
}
