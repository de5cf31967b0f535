//! The pieces that make the rule model lossless: [`Field`], which tells an absent key from a
//! `null` one, and the key order each object was read with.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// A typed JSON field that remembers whether it was absent, `null`, or had a value, so that a
/// value read from Atlassian is written back exactly as it came.
///
/// ```
/// use atlassian_rotation::automation::{Component, Field};
///
/// let with_null: Component = serde_json::from_str(r#"{"parentId": null}"#).unwrap();
/// assert!(with_null.parent_id.is_null());
/// assert_eq!(serde_json::to_string(&with_null).unwrap(), r#"{"parentId":null}"#);
///
/// let without: Component = serde_json::from_str("{}").unwrap();
/// assert!(without.parent_id.is_absent());
/// assert_eq!(serde_json::to_string(&without).unwrap(), "{}");
///
/// let mut set = without.clone();
/// set.parent_id = Field::from("0192e5ac".to_owned());
/// assert_eq!(set.parent_id.get().map(String::as_str), Some("0192e5ac"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum Field<T> {
    /// The key was not there. It is left out when written.
    #[default]
    Absent,
    /// The key was there with `null`. It is written as `null`.
    Null,
    /// The key held a value.
    Present(T),
}

impl<T> Field<T> {
    /// The value, if there is one.
    ///
    /// ```
    /// use atlassian_rotation::automation::Field;
    /// assert_eq!(Field::Present(3).get(), Some(&3));
    /// assert_eq!(Field::<u8>::Null.get(), None);
    /// ```
    pub fn get(&self) -> Option<&T> {
        match self {
            Self::Present(v) => Some(v),
            Self::Absent | Self::Null => None,
        }
    }

    /// The value, mutably, if there is one.
    ///
    /// ```
    /// use atlassian_rotation::automation::Field;
    /// let mut f = Field::Present(3);
    /// *f.get_mut().unwrap() += 1;
    /// assert_eq!(f, Field::Present(4));
    /// ```
    pub fn get_mut(&mut self) -> Option<&mut T> {
        match self {
            Self::Present(v) => Some(v),
            Self::Absent | Self::Null => None,
        }
    }

    /// Whether the key was absent.
    ///
    /// ```
    /// use atlassian_rotation::automation::Field;
    /// assert!(Field::<u8>::Absent.is_absent());
    /// ```
    pub fn is_absent(&self) -> bool {
        matches!(self, Self::Absent)
    }

    /// Whether the key held `null`.
    ///
    /// ```
    /// use atlassian_rotation::automation::Field;
    /// assert!(Field::<u8>::Null.is_null());
    /// ```
    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }

    /// The value as an `Option`, consuming the field.
    ///
    /// ```
    /// use atlassian_rotation::automation::Field;
    /// assert_eq!(Field::Present("a").into_option(), Some("a"));
    /// ```
    pub fn into_option(self) -> Option<T> {
        match self {
            Self::Present(v) => Some(v),
            Self::Absent | Self::Null => None,
        }
    }
}

impl<T> From<T> for Field<T> {
    fn from(value: T) -> Self {
        Self::Present(value)
    }
}

impl<T: Serialize> Serialize for Field<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Present(v) => serializer.serialize_some(v),
            Self::Absent | Self::Null => serializer.serialize_none(),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Option::<T>::deserialize(deserializer)?.map_or(Self::Null, Self::Present))
    }
}

/// The order of an object's keys as it was read. It takes no part in equality: two objects with
/// the same keys and values are equal whatever their order.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeyOrder(Vec<String>);

impl PartialEq for KeyOrder {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// Puts the keys of `map` back in the order they were read; keys that were not there when read
/// (a field set since) follow, in the order the type writes them.
pub(crate) fn reorder(map: Map<String, Value>, order: &KeyOrder) -> Map<String, Value> {
    if order.0.is_empty() {
        return map;
    }
    let mut entries: Vec<(usize, String, Value)> = map
        .into_iter()
        .map(|(k, v)| {
            let pos = order.0.iter().position(|o| *o == k).unwrap_or(usize::MAX);
            (pos, k, v)
        })
        .collect();
    entries.sort_by_key(|(pos, _, _)| *pos);
    entries.into_iter().map(|(_, k, v)| (k, v)).collect()
}

/// Reads an object as a map, keeping its key order, then hands the `known` keys to `read` (a
/// type's derived deserializer) with the path of any failure below it in the message, and
/// returns every other key apart, for the type's `extra`.
///
/// The unknown keys never pass through the derived deserializer: serde buffers a flattened
/// field's entries in a form that cannot hold an integer beyond 64 bits, which a `Value` with
/// `arbitrary_precision` hands over as one, so a rule with a big number in an unknown field
/// would not read.
pub(crate) fn read_ordered<'de, D, T>(
    deserializer: D,
    known: &[&str],
    read: impl FnOnce(serde_path_to_error::Deserializer<'_, '_, Value>) -> Result<T, serde_json::Error>,
) -> Result<(T, KeyOrder, Map<String, Value>), D::Error>
where
    D: Deserializer<'de>,
{
    let map = Map::<String, Value>::deserialize(deserializer)?;
    let order = KeyOrder(map.keys().cloned().collect());
    let (mut typed, mut extra) = (Map::new(), Map::new());
    for (key, value) in map {
        if known.contains(&key.as_str()) {
            typed.insert(key, value);
        } else {
            extra.insert(key, value);
        }
    }
    let mut track = serde_path_to_error::Track::new();
    let value = read(serde_path_to_error::Deserializer::new(
        Value::Object(typed),
        &mut track,
    ))
    .map_err(|e| D::Error::custom(located(&track.path().to_string(), &e.to_string())))?;
    Ok((value, order, extra))
}

/// Prefixes `message` with the path where it happened, as "at `a[0].b`: ...", merging with a
/// path the message already starts with (from a nested object of the model).
pub(crate) fn located(path: &str, message: &str) -> String {
    let (inner, rest) = match message
        .strip_prefix("at `")
        .and_then(|m| m.split_once("`: "))
    {
        Some((inner, rest)) => (inner, rest),
        None => (".", message),
    };
    let full = match (path, inner) {
        (".", inner) => inner.to_owned(),
        (outer, ".") => outer.to_owned(),
        (outer, inner) if inner.starts_with('[') => format!("{outer}{inner}"),
        (outer, inner) => format!("{outer}.{inner}"),
    };
    if full == "." {
        rest.to_owned()
    } else {
        format!("at `{full}`: {rest}")
    }
}

/// Writes an object through `write` (a type's derived serializer) and puts its keys back in the
/// order they were read.
pub(crate) fn write_ordered<S: Serializer>(
    serializer: S,
    order: &KeyOrder,
    write: impl FnOnce(serde_json::value::Serializer) -> Result<Value, serde_json::Error>,
) -> Result<S::Ok, S::Error> {
    use serde::ser::Error as _;
    match write(serde_json::value::Serializer).map_err(S::Error::custom)? {
        Value::Object(map) => reorder(map, order).serialize(serializer),
        other => other.serialize(serializer),
    }
}

/// Declares a model struct of the rule JSON that keeps its key order, and implements its
/// `Serialize` and `Deserialize`: the struct's derived serde code goes through
/// [`write_ordered`] and [`read_ordered`]. `$known` lists the JSON names of its typed fields (a
/// test checks the list); the struct holds a flattened `extra` map and a `key_order: KeyOrder`.
///
/// Each field's doc comments come before its `#[serde(...)]` attributes. The docs go on the
/// public struct, the serde attributes on a private twin in module `$repr` that serde's
/// `remote` derive reads: on the public struct, that derive would add public inherent
/// `serialize` and `deserialize` functions, shown in rustdoc as if they were its API.
///
/// Without the serde traits in scope, a model has no such function:
///
/// ```compile_fail,E0599
/// let _ = atlassian_rotation::automation::Rule::deserialize(serde_json::json!({}));
/// ```
macro_rules! lossless_model {
    (
        $(#[$meta:meta])*
        pub struct $name:ident via $repr:ident {
            $(
                $(#[doc = $doc:literal])*
                $(#[serde($($serde:tt)*)])*
                $vis:vis $field:ident : $ty:ty,
            )*
        }
        known: $known:expr
    ) => {
        $(#[$meta])*
        pub struct $name {
            $($(#[doc = $doc])* $vis $field: $ty,)*
        }

        mod $repr {
            use super::*;

            type Target = super::$name;

            /// The serde derive of the public struct of the same fields.
            #[derive(serde::Serialize, serde::Deserialize)]
            #[serde(remote = "Target", rename_all = "camelCase")]
            #[allow(dead_code)]
            pub(super) struct Repr {
                $($(#[serde($($serde)*)])* $field: $ty,)*
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                $crate::automation::field::write_ordered(serializer, &self.key_order, |s| {
                    $repr::Repr::serialize(self, s)
                })
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let (mut value, order, extra) =
                    $crate::automation::field::read_ordered(deserializer, &$known, |d| {
                        $repr::Repr::deserialize(d)
                    })?;
                value.key_order = order;
                value.extra = extra;
                Ok(value)
            }
        }
    };
}
pub(crate) use lossless_model;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_locations_merge_into_one_path() {
        assert_eq!(located(".", "bad"), "bad");
        assert_eq!(located("rules[0]", "bad"), "at `rules[0]`: bad");
        assert_eq!(
            located("rules[0]", "at `components[1].value`: bad"),
            "at `rules[0].components[1].value`: bad"
        );
        assert_eq!(located(".", "at `rules[0]`: bad"), "at `rules[0]`: bad");
    }

    #[test]
    fn reorder_keeps_read_order_and_appends_new_keys() {
        let order = KeyOrder(vec!["b".into(), "a".into()]);
        let map: Map<String, Value> =
            serde_json::from_str(r#"{"a":1,"c":3,"b":2}"#).expect("valid JSON");
        let keys: Vec<String> = reorder(map, &order).keys().cloned().collect();
        assert_eq!(keys, ["b", "a", "c"]);
    }
}
