//! Visiting every component of a rule, at any depth, with its JSON pointer.

use super::model::{Component, Rule};

/// One component met while walking a rule, with where it sits.
///
/// ```
/// use atlassian_rotation::automation::Rule;
///
/// let rule: Rule = serde_json::from_str(
///     r#"{"components":[{"id":"a","children":[{"id":"b","conditions":[{"id":"c"}]}]}]}"#,
/// ).unwrap();
/// let found: Vec<(String, usize)> = rule
///     .walk_components()
///     .map(|at| (at.pointer, at.depth))
///     .collect();
/// assert_eq!(found, [
///     ("/components/0".to_owned(), 0),
///     ("/components/0/children/0".to_owned(), 1),
///     ("/components/0/children/0/conditions/0".to_owned(), 2),
/// ]);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ComponentAt<'a> {
    /// The JSON pointer of the component inside the rule object, e.g.
    /// `/components/2/children/0/conditions/1` or `/trigger`. Inside a
    /// [`RuleDocument`](super::RuleDocument) the same component sits at `/rule` followed by it.
    pub pointer: String,
    /// How deeply it is nested: 0 for the trigger and the top-level components.
    pub depth: usize,
    /// The component.
    pub component: &'a Component,
}

/// An iterator over every component of a rule; see [`Rule::walk_components`].
#[derive(Debug)]
pub struct WalkComponents<'a> {
    stack: Vec<(String, usize, &'a Component)>,
}

impl<'a> WalkComponents<'a> {
    fn push_nested(&mut self, pointer: &str, depth: usize, component: &'a Component) {
        // Pushed in reverse so that conditions come out before children, each in order.
        for (i, child) in component.children().iter().enumerate().rev() {
            self.stack
                .push((format!("{pointer}/children/{i}"), depth + 1, child));
        }
        for (i, condition) in component.conditions().iter().enumerate().rev() {
            self.stack
                .push((format!("{pointer}/conditions/{i}"), depth + 1, condition));
        }
    }
}

impl<'a> Iterator for WalkComponents<'a> {
    type Item = ComponentAt<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        let (pointer, depth, component) = self.stack.pop()?;
        self.push_nested(&pointer, depth, component);
        Some(ComponentAt {
            pointer,
            depth,
            component,
        })
    }
}

impl Rule {
    /// Every component of the rule, depth first in document order: the trigger and its
    /// conditions, then each top-level component followed by its conditions and then its
    /// children, at any depth.
    ///
    /// ```
    /// use atlassian_rotation::automation::Rule;
    ///
    /// let rule: Rule = serde_json::from_str(r#"{
    ///     "trigger": {"id": "t", "conditions": [{"id": "tc"}]},
    ///     "components": [{"id": "a"}, {"id": "b", "conditions": [{"id": "bc"}], "children": [{"id": "bk"}]}]
    /// }"#).unwrap();
    /// let ids: Vec<&str> = rule.walk_components().filter_map(|at| at.component.id.get().map(String::as_str)).collect();
    /// assert_eq!(ids, ["t", "tc", "a", "b", "bc", "bk"]);
    /// ```
    pub fn walk_components(&self) -> WalkComponents<'_> {
        let mut walk = WalkComponents { stack: Vec::new() };
        for (i, component) in self.components().iter().enumerate().rev() {
            walk.stack.push((format!("/components/{i}"), 0, component));
        }
        if let Some(trigger) = self.trigger.get() {
            walk.stack.push(("/trigger".to_owned(), 0, trigger));
        }
        walk
    }

    /// The component at a pointer given by [`Rule::walk_components`].
    ///
    /// ```
    /// use atlassian_rotation::automation::Rule;
    ///
    /// let rule: Rule = serde_json::from_str(r#"{"components":[{"children":[{"id":"x"}]}]}"#).unwrap();
    /// assert_eq!(rule.component_at("/components/0/children/0").unwrap().id.get().unwrap(), "x");
    /// assert!(rule.component_at("/components/1").is_none());
    /// ```
    pub fn component_at(&self, pointer: &str) -> Option<&Component> {
        let (first, rest) = first_step(pointer)?;
        let mut current = match first {
            Step::Trigger => self.trigger.get()?,
            Step::Components(i) => self.components.get()?.get(i)?,
        };
        for step in rest {
            current = match step? {
                Nested::Children(i) => current.children.get()?.get(i)?,
                Nested::Conditions(i) => current.conditions.get()?.get(i)?,
            };
        }
        Some(current)
    }

    /// The component at a pointer given by [`Rule::walk_components`], to change it in place.
    ///
    /// ```
    /// use atlassian_rotation::automation::{Field, Rule};
    ///
    /// let mut rule: Rule = serde_json::from_str(r#"{"trigger":{"conditions":[{"value":"old"}]}}"#).unwrap();
    /// rule.component_at_mut("/trigger/conditions/0").unwrap().value = Field::from(serde_json::json!("new"));
    /// assert_eq!(rule.to_value().unwrap()["trigger"]["conditions"][0]["value"], "new");
    /// ```
    pub fn component_at_mut(&mut self, pointer: &str) -> Option<&mut Component> {
        let (first, rest) = first_step(pointer)?;
        let mut current = match first {
            Step::Trigger => self.trigger.get_mut()?,
            Step::Components(i) => self.components.get_mut()?.get_mut(i)?,
        };
        for step in rest {
            current = match step? {
                Nested::Children(i) => current.children.get_mut()?.get_mut(i)?,
                Nested::Conditions(i) => current.conditions.get_mut()?.get_mut(i)?,
            };
        }
        Some(current)
    }
}

enum Step {
    Trigger,
    Components(usize),
}

enum Nested {
    Children(usize),
    Conditions(usize),
}

fn index(token: Option<&str>) -> Option<usize> {
    let token = token?;
    // JSON pointer array indices have no sign and no leading zeros.
    if token.is_empty() || (token.len() > 1 && token.starts_with('0')) {
        return None;
    }
    if !token.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    token.parse().ok()
}

fn first_step(pointer: &str) -> Option<(Step, impl Iterator<Item = Option<Nested>> + '_)> {
    let mut tokens = pointer.strip_prefix('/')?.split('/');
    let first = match tokens.next()? {
        "trigger" => Step::Trigger,
        "components" => Step::Components(index(tokens.next())?),
        _ => return None,
    };
    let rest = std::iter::from_fn(move || {
        let key = tokens.next()?;
        let i = index(tokens.next());
        Some(match (key, i) {
            ("children", Some(i)) => Some(Nested::Children(i)),
            ("conditions", Some(i)) => Some(Nested::Conditions(i)),
            _ => None,
        })
    });
    Some((first, rest))
}
