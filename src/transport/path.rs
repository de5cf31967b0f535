//! Request paths: literal segments and escaped parameters, with a template for logs and errors.

use url::Url;

use crate::error::{Error, Result};

/// The longest id accepted as a path parameter.
pub(crate) const MAX_ID_LEN: usize = 1024;

/// Checks that `value` can stand as one path segment: not empty, not `.` or `..`, not overlong.
/// Every other character is escaped when the segment is joined.
pub(crate) fn check_id(what: &'static str, value: &str) -> Result<()> {
    match value {
        "" => Err(Error::invalid_input(what, "is empty")),
        "." | ".." => Err(Error::invalid_input(what, "cannot be `.` or `..`")),
        v if v.len() > MAX_ID_LEN => Err(Error::invalid_input(
            what,
            format!("is longer than {MAX_ID_LEN} bytes"),
        )),
        v if v.chars().any(char::is_control) => {
            Err(Error::invalid_input(what, "contains a control character"))
        }
        _ => Ok(()),
    }
}

/// A path below a client's base URL.
///
/// `Path::new("admin/v1/orgs").param("organization id", org)?.lit("tunnels")` joins to
/// `{base}/admin/v1/orgs/<escaped org>/tunnels`, with the template `/admin/v1/orgs/{}/tunnels`.
#[derive(Debug, Clone)]
pub(crate) struct Path {
    segments: Vec<String>,
    template: String,
}

impl Path {
    /// Starts a path with literal segments, separated by `/`.
    pub(crate) fn new(literal: &str) -> Self {
        Self {
            segments: Vec::new(),
            template: String::new(),
        }
        .lit(literal)
    }

    /// Appends literal segments, separated by `/`.
    pub(crate) fn lit(mut self, literal: &str) -> Self {
        for seg in literal.split('/').filter(|s| !s.is_empty()) {
            self.template.push('/');
            self.template.push_str(seg);
            self.segments.push(seg.to_owned());
        }
        self
    }

    /// Appends one parameter segment, escaped, after checking it with [`check_id`].
    pub(crate) fn param(mut self, what: &'static str, value: &str) -> Result<Self> {
        check_id(what, value)?;
        self.template.push_str("/{}");
        self.segments.push(value.to_owned());
        Ok(self)
    }

    /// The template, ids shown as `{}`.
    pub(crate) fn template(&self) -> &str {
        &self.template
    }

    /// Joins the segments onto `base`, escaping each as a single segment.
    pub(crate) fn join_onto(&self, base: &Url) -> Url {
        let mut url = base.clone();
        {
            let mut segs = url
                .path_segments_mut()
                .expect("base URLs are checked to be http(s), which always have a path");
            segs.pop_if_empty();
            segs.extend(&self.segments);
        }
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_escaped_as_single_segments() {
        let base = Url::parse("https://api.atlassian.com/automation/public/jira/abc/").unwrap();
        let path = Path::new("rest/v1/rule")
            .param("rule uuid", "a/b?c#d%2Fe f")
            .unwrap()
            .lit("state");
        assert_eq!(path.template(), "/rest/v1/rule/{}/state");
        assert_eq!(
            path.join_onto(&base).as_str(),
            "https://api.atlassian.com/automation/public/jira/abc/rest/v1/rule/a%2Fb%3Fc%23d%252Fe%20f/state"
        );
    }

    #[test]
    fn ids_that_cannot_be_a_segment_are_refused() {
        for bad in ["", ".", "..", "a\nb"] {
            assert!(Path::new("x").param("id", bad).is_err(), "{bad:?}");
        }
        assert!(check_id("id", &"a".repeat(MAX_ID_LEN + 1)).is_err());
        assert!(check_id("id", "...").is_ok());
    }
}
