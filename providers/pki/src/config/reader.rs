//! Reading attributes out of an evaluated configuration, collecting every problem.

use mesh_engine::provider::ProviderError;
use mesh_engine::value::Value;

/// Reads typed attributes from a configuration value. Each method returns `None` when the
/// value is null, unknown or wrong (and records an error for the wrong ones), so one pass
/// reports every problem and callers can tell a complete configuration by `Some`.
pub(crate) struct Reader<'a> {
    config: &'a Value,
    errors: Vec<ProviderError>,
    /// Some attribute read was unknown.
    unknown: bool,
}

/// Longest validity accepted, in days (about 100 years).
pub(crate) const MAX_DAYS: u32 = 36_500;

impl<'a> Reader<'a> {
    /// A reader over `config`.
    pub fn new(config: &'a Value) -> Reader<'a> {
        Reader {
            config,
            errors: Vec::new(),
            unknown: false,
        }
    }

    /// The errors found so far, and whether any value was unknown.
    pub fn finish(self) -> (Vec<ProviderError>, bool) {
        (self.errors, self.unknown)
    }

    /// Record an error about an attribute.
    pub fn error(&mut self, attribute: &str, message: impl Into<String>) {
        self.errors
            .push(ProviderError::at_attribute(message, attribute));
    }

    /// The attribute without its sensitive mark, noting unknowns.
    fn raw(&mut self, name: &str) -> Option<&'a Value> {
        let value = self.config.get(name).map(|v| v.unmark().0)?;
        match value {
            Value::Null => None,
            Value::Unknown => {
                self.unknown = true;
                None
            }
            other => Some(other),
        }
    }

    /// True when the attribute is known to be null (absent).
    pub fn is_null(&self, name: &str) -> bool {
        self.config.get(name).is_none_or(Value::is_null)
    }

    /// A string attribute.
    pub fn text(&mut self, name: &str) -> Option<&'a str> {
        match self.raw(name)? {
            Value::String(s) => Some(s.as_str()),
            other => {
                let kind = other.type_name();
                self.error(name, format!("{name} must be a string, not a {kind}"));
                None
            }
        }
    }

    /// A string attribute that must not be empty.
    pub fn non_empty(&mut self, name: &str) -> Option<&'a str> {
        let text = self.text(name)?;
        if text.trim().is_empty() {
            self.error(name, format!("{name} must not be empty"));
            return None;
        }
        Some(text)
    }

    /// A whole number of days from `min` to [`MAX_DAYS`].
    pub fn days(&mut self, name: &str, min: u32) -> Option<u32> {
        let value = self.raw(name)?;
        let Value::Number(n) = value else {
            let kind = value.type_name();
            self.error(
                name,
                format!("{name} must be a number of days, not a {kind}"),
            );
            return None;
        };
        let whole = n.is_finite() && n.fract() == 0.0;
        if !whole || *n < f64::from(min) || *n > f64::from(MAX_DAYS) {
            let shown = mesh_engine::value::format_number(*n);
            self.error(
                name,
                format!(
                    "{name} must be a whole number of days from {min} to {MAX_DAYS}, not {shown}"
                ),
            );
            return None;
        }
        Some(*n as u32)
    }

    /// A list of strings; `Some(empty)` when null. `None` when the list or an element is
    /// unknown or wrong.
    pub fn texts(&mut self, name: &str) -> Option<Vec<&'a str>> {
        let Some(value) = self.raw(name) else {
            return (!self.is_unknown(name)).then(Vec::new);
        };
        let Value::List(items) = value else {
            let kind = value.type_name();
            self.error(
                name,
                format!("{name} must be a list of strings, not a {kind}"),
            );
            return None;
        };
        let mut out = Vec::new();
        let mut complete = true;
        for (i, item) in items.iter().enumerate() {
            match item.unmark().0 {
                Value::String(s) => out.push(s.as_str()),
                Value::Unknown => {
                    self.unknown = true;
                    complete = false;
                }
                other => {
                    let kind = other.type_name();
                    self.error(name, format!("{name}[{i}] must be a string, not a {kind}"));
                    complete = false;
                }
            }
        }
        complete.then_some(out)
    }

    /// True when the attribute is unknown (known only after apply).
    pub fn is_unknown(&self, name: &str) -> bool {
        self.config.get(name).is_some_and(Value::is_unknown)
    }
}
