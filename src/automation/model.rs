//! The lossless rule model: what `GET /rest/v1/rule/{uuid}` returns, what `PUT` takes back, and
//! what the "Export rules" button writes.
//!
//! Every object keeps the fields this crate does not know in `extra`, every typed field tells
//! absent from `null` ([`Field`]), and every object remembers its key order, so a document read
//! and written again means exactly what it meant, key for key.
//!
//! Rule JSON is secret material (web-request headers hold credentials in clear text), so the
//! `Debug` output of these types never shows component values nor unknown fields: only ids, kinds,
//! types and the names of the unknown keys.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::field::{Field, KeyOrder, located, lossless_model};
use crate::error::{Error, Result};

/// The kind of a rule component (`component` in the JSON). Values this crate does not know are
/// kept as [`ComponentKind::Other`].
///
/// ```
/// use atlassian_rotation::automation::ComponentKind;
///
/// let kind: ComponentKind = serde_json::from_str(r#""CONDITION_BLOCK""#).unwrap();
/// assert_eq!(kind, ComponentKind::ConditionBlock);
/// let new: ComponentKind = serde_json::from_str(r#""SWITCH""#).unwrap();
/// assert_eq!(new.as_str(), "SWITCH");
/// assert_eq!(serde_json::to_string(&new).unwrap(), r#""SWITCH""#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ComponentKind {
    /// `TRIGGER`
    Trigger,
    /// `CONDITION`
    Condition,
    /// `ACTION`
    Action,
    /// `BRANCH`
    Branch,
    /// `CONDITION_BLOCK` (one block of an IF/ELSE)
    ConditionBlock,
    /// `ORCHESTRATION`
    Orchestration,
    /// A kind this crate does not know, kept as it was.
    Other(String),
}

/// The state of a rule. Values this crate does not know are kept as [`RuleState::Other`].
///
/// ```
/// use atlassian_rotation::automation::RuleState;
///
/// assert_eq!(serde_json::to_string(&RuleState::Disabled).unwrap(), r#""DISABLED""#);
/// let state: RuleState = serde_json::from_str(r#""ENABLED""#).unwrap();
/// assert_eq!(state, RuleState::Enabled);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RuleState {
    /// `ENABLED`
    Enabled,
    /// `DISABLED`
    Disabled,
    /// A state this crate does not know, kept as it was.
    Other(String),
}

macro_rules! string_enum {
    ($ty:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        impl $ty {
            /// The value as Atlassian writes it.
            ///
            /// ```
            #[doc = concat!("use atlassian_rotation::automation::", stringify!($ty), ";")]
            #[doc = concat!("assert_eq!(", stringify!($ty), "::from(\"NEW_VALUE\").as_str(), \"NEW_VALUE\");")]
            /// ```
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)*
                    Self::Other(other) => other,
                }
            }
        }

        impl From<&str> for $ty {
            fn from(text: &str) -> Self {
                match text {
                    $($text => Self::$variant,)*
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
                Ok(Self::from(text.as_ref()))
            }
        }
    };
}

string_enum!(ComponentKind {
    Trigger = "TRIGGER",
    Condition = "CONDITION",
    Action = "ACTION",
    Branch = "BRANCH",
    ConditionBlock = "CONDITION_BLOCK",
    Orchestration = "ORCHESTRATION",
});

string_enum!(RuleState {
    Enabled = "ENABLED",
    Disabled = "DISABLED",
});

lossless_model! {
    /// One component of a rule: the trigger, a condition, an action, a branch or an IF/ELSE block,
    /// with its nested `children` and `conditions`.
    ///
    /// `value` is the component's configuration, kept as opaque JSON: for a web request
    /// (`type: "jira.issue.outgoing.webhook"`) it holds the URL and headers.
    ///
    /// ```
    /// use atlassian_rotation::automation::{Component, ComponentKind};
    /// use serde_json::json;
    ///
    /// let text = r#"{"id":"7","component":"ACTION","type":"codebarrel.action.log","value":"hi","futureField":{"a":1}}"#;
    /// let component: Component = serde_json::from_str(text).unwrap();
    /// assert_eq!(component.kind(), Some(&ComponentKind::Action));
    /// assert_eq!(component.component_type(), Some("codebarrel.action.log"));
    /// assert_eq!(component.extra["futureField"], json!({"a": 1}));
    /// assert_eq!(serde_json::to_string(&component).unwrap(), text);
    ///
    /// let built = Component::new(ComponentKind::Action, "codebarrel.action.log", json!("hello"));
    /// assert_eq!(serde_json::to_value(&built).unwrap()["type"], "codebarrel.action.log");
    /// ```
    #[derive(Clone, Default, PartialEq)]
    #[non_exhaustive]
    pub struct Component via component_serde {
        /// The component id (a UUID on current Cloud sites, a number as a string on older ones and on
        /// Data Center). Leave it absent for a new component.
        #[serde(default, skip_serializing_if = "Field::is_absent")]
        pub id: Field<String>,
        /// `TRIGGER`, `ACTION`, `CONDITION`, `CONDITION_BLOCK`, `BRANCH`, ...
        #[serde(default, skip_serializing_if = "Field::is_absent")]
        pub component: Field<ComponentKind>,
        /// `schemaVersion`: the version of the component's `value` shape.
        #[serde(default, skip_serializing_if = "Field::is_absent")]
        pub schema_version: Field<i64>,
        /// `type`: what the component does, e.g. `jira.issue.outgoing.webhook`.
        #[serde(rename = "type", default, skip_serializing_if = "Field::is_absent")]
        pub component_type: Field<String>,
        /// The component's configuration, opaque.
        #[serde(default, skip_serializing_if = "Field::is_absent")]
        pub value: Field<Value>,
        /// Components nested inside this one (the actions of a branch or of an IF/ELSE block).
        #[serde(default, skip_serializing_if = "Field::is_absent")]
        pub children: Field<Vec<Component>>,
        /// Conditions attached to this component (the conditions of an IF block or of the trigger).
        #[serde(default, skip_serializing_if = "Field::is_absent")]
        pub conditions: Field<Vec<Component>>,
        /// `parentId`: the component this one is a child of.
        #[serde(default, skip_serializing_if = "Field::is_absent")]
        pub parent_id: Field<String>,
        /// `conditionParentId`: the component this one is a condition of.
        #[serde(default, skip_serializing_if = "Field::is_absent")]
        pub condition_parent_id: Field<String>,
        /// `connectionId`: the connection the component uses.
        #[serde(default, skip_serializing_if = "Field::is_absent")]
        pub connection_id: Field<String>,
        /// Every field this crate does not know, unchanged.
        #[serde(flatten)]
        pub extra: Map<String, Value>,
        #[serde(skip)]
        key_order: KeyOrder,
    }
    known: [
        "id",
        "component",
        "schemaVersion",
        "type",
        "value",
        "children",
        "conditions",
        "parentId",
        "conditionParentId",
        "connectionId"
    ]
}

impl Component {
    /// A new component with its kind, type and value; every other field absent.
    ///
    /// ```
    /// use atlassian_rotation::automation::{Component, ComponentKind};
    /// let c = Component::new(ComponentKind::Action, "codebarrel.action.log", "hi".into());
    /// assert!(c.id.is_absent());
    /// ```
    pub fn new(kind: ComponentKind, component_type: impl Into<String>, value: Value) -> Self {
        Self {
            component: Field::Present(kind),
            component_type: Field::Present(component_type.into()),
            value: Field::Present(value),
            ..Self::default()
        }
    }

    /// The component's kind, when it has one.
    ///
    /// ```
    /// use atlassian_rotation::automation::{Component, ComponentKind};
    /// let c = Component::new(ComponentKind::Branch, "jira.issue.related.branch", "x".into());
    /// assert_eq!(c.kind(), Some(&ComponentKind::Branch));
    /// ```
    pub fn kind(&self) -> Option<&ComponentKind> {
        self.component.get()
    }

    /// The component's `type`, when it has one.
    ///
    /// ```
    /// use atlassian_rotation::automation::{Component, ComponentKind};
    /// let c = Component::new(ComponentKind::Action, "jira.issue.outgoing.webhook", "x".into());
    /// assert_eq!(c.component_type(), Some("jira.issue.outgoing.webhook"));
    /// ```
    pub fn component_type(&self) -> Option<&str> {
        self.component_type.get().map(String::as_str)
    }

    /// The nested children; empty when absent or `null`.
    ///
    /// ```
    /// use atlassian_rotation::automation::Component;
    /// let c: Component = serde_json::from_str(r#"{"children":[{"id":"2"}]}"#).unwrap();
    /// assert_eq!(c.children().len(), 1);
    /// ```
    pub fn children(&self) -> &[Component] {
        self.children.get().map_or(&[], Vec::as_slice)
    }

    /// The attached conditions; empty when absent or `null`.
    ///
    /// ```
    /// use atlassian_rotation::automation::Component;
    /// let c: Component = serde_json::from_str(r#"{"conditions":null}"#).unwrap();
    /// assert!(c.conditions().is_empty());
    /// ```
    pub fn conditions(&self) -> &[Component] {
        self.conditions.get().map_or(&[], Vec::as_slice)
    }
}

impl fmt::Debug for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Component")
            .field("id", &self.id)
            .field("component", &self.component)
            .field("schema_version", &self.schema_version)
            .field("component_type", &self.component_type)
            .field("value", &redacted(&self.value))
            .field("children", &self.children)
            .field("conditions", &self.conditions)
            .field("parent_id", &self.parent_id)
            .field("condition_parent_id", &self.condition_parent_id)
            .field("connection_id", &self.connection_id)
            .field("extra", &ExtraKeys(&self.extra))
            .finish()
    }
}

lossless_model! {
    /// One automation rule: its name, state, trigger and components, and every other field as read.
    ///
    /// ```
    /// use atlassian_rotation::automation::{Rule, RuleState};
    ///
    /// let text = r#"{"uuid":"0193aa","name":"Notify","state":"ENABLED","description":null,"components":[]}"#;
    /// let rule: Rule = serde_json::from_str(text).unwrap();
    /// assert_eq!(rule.name(), Some("Notify"));
    /// assert_eq!(rule.state.get(), Some(&RuleState::Enabled));
    /// assert!(rule.extra["description"].is_null());
    /// assert_eq!(serde_json::to_string(&rule).unwrap(), text);
    /// ```
    #[derive(Clone, Default, PartialEq)]
    #[non_exhaustive]
    pub struct Rule via rule_serde {
        /// The rule's UUID (absent in exported files, which carry `id` and `idUuid` instead).
        #[serde(default, skip_serializing_if = "Field::is_absent")]
        pub uuid: Field<String>,
        /// The rule's name.
        #[serde(default, skip_serializing_if = "Field::is_absent")]
        pub name: Field<String>,
        /// `ENABLED` or `DISABLED`.
        #[serde(default, skip_serializing_if = "Field::is_absent")]
        pub state: Field<RuleState>,
        /// The trigger component.
        #[serde(default, skip_serializing_if = "Field::is_absent")]
        pub trigger: Field<Component>,
        /// The top-level components, in order.
        #[serde(default, skip_serializing_if = "Field::is_absent")]
        pub components: Field<Vec<Component>>,
        /// Every field this crate does not know, unchanged.
        #[serde(flatten)]
        pub extra: Map<String, Value>,
        #[serde(skip)]
        key_order: KeyOrder,
    }
    known: ["uuid", "name", "state", "trigger", "components"]
}

impl Rule {
    /// A new rule with a name and no components.
    ///
    /// ```
    /// use atlassian_rotation::automation::Rule;
    /// assert_eq!(Rule::new("Nightly sync").name(), Some("Nightly sync"));
    /// ```
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: Field::Present(name.into()),
            ..Self::default()
        }
    }

    /// The rule's name, when it has one.
    ///
    /// ```
    /// use atlassian_rotation::automation::Rule;
    /// assert_eq!(Rule::default().name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.name.get().map(String::as_str)
    }

    /// The rule's UUID, when it has one.
    ///
    /// ```
    /// use atlassian_rotation::automation::Rule;
    /// let rule: Rule = serde_json::from_str(r#"{"uuid":"0193aa"}"#).unwrap();
    /// assert_eq!(rule.uuid(), Some("0193aa"));
    /// ```
    pub fn uuid(&self) -> Option<&str> {
        self.uuid.get().map(String::as_str)
    }

    /// The top-level components; empty when absent or `null`.
    ///
    /// ```
    /// use atlassian_rotation::automation::Rule;
    /// assert!(Rule::new("r").components().is_empty());
    /// ```
    pub fn components(&self) -> &[Component] {
        self.components.get().map_or(&[], Vec::as_slice)
    }

    /// Reads a rule from JSON, naming the path of any field that does not fit.
    ///
    /// ```
    /// use atlassian_rotation::automation::Rule;
    /// use serde_json::json;
    ///
    /// let rule = Rule::from_value(json!({"name": "r", "components": []})).unwrap();
    /// assert_eq!(rule.to_value().unwrap(), json!({"name": "r", "components": []}));
    /// let err = Rule::from_value(json!({"components": [{"children": 3}]})).unwrap_err();
    /// assert!(err.to_string().contains("components[0]"), "{err}");
    /// ```
    pub fn from_value(value: Value) -> Result<Self> {
        from_json_value("rule JSON", value)
    }

    /// Writes the rule as JSON, every field as it was read.
    ///
    /// ```
    /// use atlassian_rotation::automation::Rule;
    /// assert_eq!(Rule::new("r").to_value().unwrap()["name"], "r");
    /// ```
    pub fn to_value(&self) -> Result<Value> {
        to_json_value("rule JSON", self)
    }
}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rule")
            .field("uuid", &self.uuid)
            .field("name", &self.name)
            .field("state", &self.state)
            .field("trigger", &self.trigger)
            .field("components", &self.components)
            .field("extra", &ExtraKeys(&self.extra))
            .finish()
    }
}

lossless_model! {
    /// What `GET /rest/v1/rule/{ruleUuid}` returns and `PUT /rest/v1/rule/{ruleUuid}` takes back:
    /// the rule and its connections.
    ///
    /// ```
    /// use atlassian_rotation::automation::{Rule, RuleDocument};
    ///
    /// let doc: RuleDocument = serde_json::from_str(r#"{"rule":{"name":"r"},"connections":[]}"#).unwrap();
    /// assert_eq!(doc.rule.name(), Some("r"));
    /// let new = RuleDocument::new(Rule::new("s"));
    /// assert_eq!(serde_json::to_string(&new).unwrap(), r#"{"rule":{"name":"s"}}"#);
    /// ```
    #[derive(Clone, Default, PartialEq)]
    #[non_exhaustive]
    pub struct RuleDocument via rule_document_serde {
        /// The rule.
        pub rule: Rule,
        /// The rule's connections (`ConnectionReadDTO`s on read), opaque.
        #[serde(default, skip_serializing_if = "Field::is_absent")]
        pub connections: Field<Value>,
        /// Every other field, unchanged.
        #[serde(flatten)]
        pub extra: Map<String, Value>,
        #[serde(skip)]
        key_order: KeyOrder,
    }
    known: ["rule", "connections"]
}

impl RuleDocument {
    /// A document holding `rule` and no connections.
    ///
    /// ```
    /// use atlassian_rotation::automation::{Rule, RuleDocument};
    /// assert!(RuleDocument::new(Rule::new("r")).connections.is_absent());
    /// ```
    pub fn new(rule: Rule) -> Self {
        Self {
            rule,
            ..Self::default()
        }
    }
}

impl fmt::Debug for RuleDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleDocument")
            .field("rule", &self.rule)
            .field("connections", &redacted(&self.connections))
            .field("extra", &ExtraKeys(&self.extra))
            .finish()
    }
}

lossless_model! {
    /// A file written by Jira's "Export rules": `{"cloud": true, "rules": [...]}` (Cloud and the 2018
    /// Connect format), in either key order.
    ///
    /// ```
    /// use atlassian_rotation::automation::ExportFile;
    ///
    /// let text = br#"{"rules":[{"id":42,"name":"r","components":[]}],"cloud":true}"#;
    /// let export = ExportFile::from_slice(text).unwrap();
    /// assert_eq!(export.cloud.get(), Some(&true));
    /// assert_eq!(export.rules[0].extra["id"], 42);
    /// assert_eq!(export.to_vec().unwrap(), text.to_vec());
    /// ```
    #[derive(Clone, Default, PartialEq)]
    #[non_exhaustive]
    pub struct ExportFile via export_file_serde {
        /// `true` for a Cloud export.
        #[serde(default, skip_serializing_if = "Field::is_absent")]
        pub cloud: Field<bool>,
        /// The exported rules.
        pub rules: Vec<Rule>,
        /// Every other field, unchanged.
        #[serde(flatten)]
        pub extra: Map<String, Value>,
        #[serde(skip)]
        key_order: KeyOrder,
    }
    known: ["cloud", "rules"]
}

impl ExportFile {
    /// A Cloud export file (`"cloud": true`) of `rules`.
    ///
    /// ```
    /// use atlassian_rotation::automation::{ExportFile, Rule};
    /// let export = ExportFile::new(vec![Rule::new("r")]);
    /// assert_eq!(String::from_utf8(export.to_vec().unwrap()).unwrap(), r#"{"cloud":true,"rules":[{"name":"r"}]}"#);
    /// ```
    pub fn new(rules: Vec<Rule>) -> Self {
        Self {
            cloud: Field::Present(true),
            rules,
            ..Self::default()
        }
    }

    /// Parses an export file, naming the path of any field that does not fit.
    ///
    /// ```
    /// use atlassian_rotation::automation::ExportFile;
    /// let err = ExportFile::from_slice(br#"{"cloud":true}"#).unwrap_err();
    /// assert!(err.to_string().contains("rules"), "{err}");
    /// ```
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let parsed: Self = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            Error::invalid_input(
                "rule export file",
                located(&e.path().to_string(), &e.inner().to_string()),
            )
        })?;
        de.end()
            .map_err(|e| Error::invalid_input("rule export file", e.to_string()))?;
        Ok(parsed)
    }

    /// Writes the file as compact JSON, keys in the order they were read.
    ///
    /// ```
    /// use atlassian_rotation::automation::ExportFile;
    /// assert!(ExportFile::new(vec![]).to_vec().unwrap().starts_with(b"{"));
    /// ```
    pub fn to_vec(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self)
            .map_err(|e| Error::invalid_input("rule export file", e.to_string()))
    }
}

impl fmt::Debug for ExportFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExportFile")
            .field("cloud", &self.cloud)
            .field("rules", &self.rules)
            .field("extra", &ExtraKeys(&self.extra))
            .finish()
    }
}

fn from_json_value<T: serde::de::DeserializeOwned>(what: &'static str, value: Value) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        Error::invalid_input(what, located(&e.path().to_string(), &e.inner().to_string()))
    })
}

fn to_json_value<T: Serialize>(what: &'static str, value: &T) -> Result<Value> {
    serde_json::to_value(value).map_err(|e| Error::invalid_input(what, e.to_string()))
}

/// Shows whether a field holding secret material is there, never what it holds.
fn redacted<T>(field: &Field<T>) -> &'static str {
    match field {
        Field::Absent => "Absent",
        Field::Null => "Null",
        Field::Present(_) => crate::secret::REDACTED,
    }
}

/// Shows the names of unknown fields, never their values.
struct ExtraKeys<'a>(&'a Map<String, Value>);

impl fmt::Debug for ExtraKeys<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Each type's list of typed fields (given to `lossless_model!`) names exactly the keys its
    /// derived serializer writes: a key missing from the list would read into `extra` and leave
    /// the typed field absent.
    #[test]
    fn every_typed_field_reads_into_its_field_not_into_extra() {
        let component = json!({
            "id": "1", "component": "ACTION", "schemaVersion": 1, "type": "t", "value": {"a": 1},
            "children": [], "conditions": [], "parentId": "p", "conditionParentId": "c",
            "connectionId": "k"
        });
        let parsed: Component = serde_json::from_value(component.clone()).unwrap();
        assert!(parsed.extra.is_empty(), "{:?}", parsed.extra.keys());
        assert_eq!(serde_json::to_value(&parsed).unwrap(), component);

        let rule =
            json!({"uuid": "u", "name": "n", "state": "ENABLED", "trigger": {}, "components": []});
        let parsed: Rule = serde_json::from_value(rule.clone()).unwrap();
        assert!(parsed.extra.is_empty(), "{:?}", parsed.extra.keys());
        assert!(parsed.trigger.get().is_some());
        assert_eq!(serde_json::to_value(&parsed).unwrap(), rule);

        let document = json!({"rule": {"name": "n"}, "connections": []});
        let parsed: RuleDocument = serde_json::from_value(document.clone()).unwrap();
        assert!(parsed.extra.is_empty(), "{:?}", parsed.extra.keys());
        assert_eq!(serde_json::to_value(&parsed).unwrap(), document);

        let export = json!({"cloud": true, "rules": [{"name": "n"}]});
        let parsed: ExportFile = serde_json::from_value(export.clone()).unwrap();
        assert!(parsed.extra.is_empty(), "{:?}", parsed.extra.keys());
        assert_eq!(serde_json::to_value(&parsed).unwrap(), export);
    }
}
