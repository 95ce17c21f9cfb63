//! What names mean during a plan or an apply: the [`Scope`] of one module instance.
//!
//! An [`Evaluation`] holds the values of resources as the walk knows them (planned values
//! while planning, applied values while applying) and evaluates variables, locals, module
//! outputs and `each`/`count`/`path` on demand. While planning it memoizes them; while applying
//! it re-evaluates, because applied values replace unknowns as resources complete.

mod body;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use hcl_edit::expr::TraversalOperator;

pub(crate) use body::unsupported;
pub use body::{attr_type_constraint, eval_body, keep_ignored_changes};

use crate::address::{InstanceKey, ModulePath};
use crate::config::{Expr, Module, Repetition};
use crate::diagnostics::{did_you_mean, Diagnostic, SourceLocation};
use crate::eval::{evaluate, Scope};
use crate::value::Value;

/// How a resource's instances are keyed, which decides the shape of its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One object.
    Single,
    /// A list by index.
    Count,
    /// A map by key.
    ForEach,
}

/// The known instances of one resource.
#[derive(Debug, Clone)]
pub struct ResourceValues {
    /// The shape of its value.
    pub shape: Shape,
    /// Instance values by key.
    pub instances: BTreeMap<InstanceKey, Value>,
}

impl ResourceValues {
    fn to_value(&self) -> Value {
        match self.shape {
            Shape::Single => self
                .instances
                .values()
                .next()
                .cloned()
                .unwrap_or(Value::Null),
            Shape::Count => Value::List(self.instances.values().cloned().collect()),
            Shape::ForEach => Value::Map(
                self.instances
                    .iter()
                    .map(|(k, v)| match k {
                        InstanceKey::Key(k) => (k.clone(), v.clone()),
                        other => (other.to_string(), v.clone()),
                    })
                    .collect(),
            ),
        }
    }
}

/// The values a plan or apply walk knows, shared by every module instance scope.
pub struct Evaluation {
    root: Arc<Module>,
    root_vars: BTreeMap<String, Value>,
    root_dir: PathBuf,
    resources: RwLock<HashMap<String, ResourceValues>>,
    memo: Option<Mutex<HashMap<String, Value>>>,
}

impl Evaluation {
    /// A new evaluation; `memoize` for planning, not for applying.
    pub fn new(root: Arc<Module>, root_vars: BTreeMap<String, Value>, memoize: bool) -> Evaluation {
        let root_dir = root.dir.clone();
        Evaluation {
            root,
            root_vars,
            root_dir,
            resources: RwLock::new(HashMap::new()),
            memo: memoize.then(|| Mutex::new(HashMap::new())),
        }
    }

    /// The root module.
    pub fn root(&self) -> &Arc<Module> {
        &self.root
    }

    /// The module configuration at a module instance path.
    pub fn module_at(&self, path: &ModulePath) -> Arc<Module> {
        let mut module = self.root.clone();
        for (name, _) in &path.0 {
            let child = module.module_calls.get(name).map(|c| c.module.clone());
            match child {
                Some(c) => module = c,
                None => break,
            }
        }
        module
    }

    /// Record the value of one resource instance (`resource` is the resource address).
    pub fn set_instance(&self, resource: &str, shape: Shape, key: InstanceKey, value: Value) {
        let mut table = self.resources.write().unwrap_or_else(|e| e.into_inner());
        let entry = table
            .entry(resource.to_string())
            .or_insert_with(|| ResourceValues {
                shape,
                instances: BTreeMap::new(),
            });
        entry.instances.insert(key, value);
    }

    /// Record a resource with no instances (count = 0, empty for_each).
    pub fn set_empty(&self, resource: &str, shape: Shape) {
        let mut table = self.resources.write().unwrap_or_else(|e| e.into_inner());
        table
            .entry(resource.to_string())
            .or_insert_with(|| ResourceValues {
                shape,
                instances: BTreeMap::new(),
            });
    }

    /// Remove an instance (a deleted resource).
    pub fn remove_instance(&self, resource: &str, key: &InstanceKey) {
        let mut table = self.resources.write().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = table.get_mut(resource) {
            entry.instances.remove(key);
        }
    }

    /// The keys of a resource's instances, as known.
    pub fn instance_keys(&self, resource: &str) -> Vec<InstanceKey> {
        let table = self.resources.read().unwrap_or_else(|e| e.into_inner());
        table
            .get(resource)
            .map(|r| r.instances.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Every resource address recorded under a prefix (for `depends_on = [module.x]`).
    pub fn instances_under(&self, prefix: &str) -> Vec<String> {
        let table = self.resources.read().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<String> = table
            .iter()
            .filter(|(addr, _)| addr.starts_with(prefix))
            .flat_map(|(addr, r)| r.instances.keys().map(move |k| format!("{addr}{k}")))
            .collect();
        out.sort();
        out
    }

    fn resource_value(&self, address: &str) -> Option<Value> {
        let table = self.resources.read().unwrap_or_else(|e| e.into_inner());
        table.get(address).map(ResourceValues::to_value)
    }

    fn memoized(
        &self,
        key: &str,
        compute: impl FnOnce() -> Result<Value, Diagnostic>,
    ) -> Result<Value, Diagnostic> {
        let Some(memo) = &self.memo else {
            return compute();
        };
        if let Some(v) = memo.lock().unwrap_or_else(|e| e.into_inner()).get(key) {
            return Ok(v.clone());
        }
        let v = compute()?;
        memo.lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.to_string(), v.clone());
        Ok(v)
    }

    /// A scope for a module instance, optionally inside one repeated instance.
    pub fn scope<'a>(
        &'a self,
        path: &'a ModulePath,
        repetition: RepetitionBinding,
    ) -> InstanceScope<'a> {
        InstanceScope {
            evaluation: self,
            module: self.module_at(path),
            path,
            repetition,
        }
    }

    /// The keys (and `each.value`s) a `count`/`for_each` expands to. Errors when the value is
    /// unknown, sensitive, or of the wrong type.
    pub fn expand(
        &self,
        repetition: &Repetition,
        scope: &InstanceScope<'_>,
    ) -> Result<Vec<RepetitionBinding>, Diagnostic> {
        match repetition {
            Repetition::Single => Ok(vec![RepetitionBinding::None]),
            Repetition::Count(expr) => expand_count(expr, scope),
            Repetition::ForEach(expr) => expand_for_each(expr, scope),
        }
    }
}

/// `count.index` or `each.key`/`each.value` of one instance.
#[derive(Debug, Clone, PartialEq)]
pub enum RepetitionBinding {
    /// Not repeated.
    None,
    /// `count.index`.
    Count(usize),
    /// `each.key` and `each.value`.
    Each(String, Value),
}

impl RepetitionBinding {
    /// The instance key this binding stands for.
    pub fn key(&self) -> InstanceKey {
        match self {
            RepetitionBinding::None => InstanceKey::None,
            RepetitionBinding::Count(i) => InstanceKey::Index(*i),
            RepetitionBinding::Each(k, _) => InstanceKey::Key(k.clone()),
        }
    }
}

fn not_known(expr: &Expr, what: &str) -> Diagnostic {
    Diagnostic::error(
        format!("Invalid {what} argument"),
        format!("the \"{what}\" value depends on values that will be known only after apply, so mesh cannot tell how many instances to plan"),
        Some(expr.location()),
    )
    .with_help("use -target to apply the resources it depends on first, or derive the value from variables and locals")
}

fn expand_count(
    expr: &Expr,
    scope: &InstanceScope<'_>,
) -> Result<Vec<RepetitionBinding>, Diagnostic> {
    let v = evaluate(expr, scope)?;
    if v.is_unknown_deep() {
        return Err(not_known(expr, "count"));
    }
    match v.unmark().0 {
        Value::Number(n) if *n >= 0.0 && n.fract() == 0.0 => {
            Ok((0..*n as usize).map(RepetitionBinding::Count).collect())
        }
        other => Err(Diagnostic::error(
            "Invalid count argument",
            format!("count must be a non-negative whole number, got {other}"),
            Some(expr.location()),
        )),
    }
}

fn expand_for_each(
    expr: &Expr,
    scope: &InstanceScope<'_>,
) -> Result<Vec<RepetitionBinding>, Diagnostic> {
    let v = evaluate(expr, scope)?;
    if v.is_unknown() || v.as_map().map(|_| false).unwrap_or(v.is_unknown_deep()) {
        return Err(not_known(expr, "for_each"));
    }
    if v.top_marks().sensitive {
        return Err(Diagnostic::error(
            "Invalid for_each argument",
            "sensitive values cannot be used as for_each: the keys would be shown in addresses",
            Some(expr.location()),
        ));
    }
    match v {
        Value::Map(map) => Ok(map
            .into_iter()
            .map(|(k, v)| RepetitionBinding::Each(k, v))
            .collect()),
        Value::List(items) => {
            let mut keys = Vec::new();
            for item in items {
                match item {
                    Value::String(s) => {
                        keys.push(RepetitionBinding::Each(s.clone(), Value::String(s)))
                    }
                    other => {
                        return Err(Diagnostic::error(
                            "Invalid for_each argument",
                            format!(
                                "for_each needs a map or a set of strings; this set contains a {}",
                                other.type_name()
                            ),
                            Some(expr.location()),
                        ))
                    }
                }
            }
            keys.sort_by_key(|a| a.key());
            keys.dedup_by(|a, b| a.key() == b.key());
            Ok(keys)
        }
        other => Err(Diagnostic::error(
            "Invalid for_each argument",
            format!(
                "for_each needs a map or a set of strings, got {}",
                other.type_name()
            ),
            Some(expr.location()),
        )),
    }
}

/// The scope of one module instance (and one repeated instance within it).
pub struct InstanceScope<'a> {
    evaluation: &'a Evaluation,
    module: Arc<Module>,
    path: &'a ModulePath,
    repetition: RepetitionBinding,
}

impl InstanceScope<'_> {
    fn memo_key(&self, what: &str) -> String {
        format!("{}|{what}", self.path)
    }

    /// The value of `var.name` in this module instance (converted, marked sensitive if declared so).
    pub fn variable(&self, name: &str, location: &SourceLocation) -> Result<Value, Diagnostic> {
        let Some(var) = self.module.variables.get(name) else {
            let mut d = Diagnostic::error(
                "Reference to undeclared input variable",
                format!("var.{name} is not declared in this module"),
                Some(location.clone()),
            );
            if let Some(h) = did_you_mean(name, self.module.variables.keys().map(String::as_str)) {
                d = d.with_help(h);
            }
            return Err(d);
        };
        let ev = self.evaluation;
        ev.memoized(&self.memo_key(&format!("var.{name}")), || {
            let raw = match self.path.split_last() {
                None => ev.root_vars.get(name).cloned(),
                Some((parent, (call_name, key))) => {
                    let parent_module = ev.module_at(&parent);
                    let call = &parent_module.module_calls[call_name];
                    match call.inputs.get(name) {
                        Some(input) => {
                            let binding = binding_for(ev, &parent, &call.repetition, key)?;
                            let parent_scope = ev.scope(&parent, binding);
                            Some(evaluate(input, &parent_scope)?)
                        }
                        None => None,
                    }
                }
            };
            let value = match (raw, &var.default) {
                (Some(v), _) if !v.is_null() || var.default.is_none() => v,
                (_, Some(default)) => evaluate(default, self)?,
                (_, None) => Value::Null,
            };
            let value = var.type_constraint.convert(value).map_err(|e| {
                Diagnostic::error(
                    "Invalid value for variable",
                    format!("var.{name}: {e}"),
                    Some(var.location.clone()),
                )
            })?;
            Ok(if var.sensitive {
                value.into_sensitive()
            } else {
                value
            })
        })
    }

    /// The value of `local.name` in this module instance.
    pub fn local(&self, name: &str, location: &SourceLocation) -> Result<Value, Diagnostic> {
        let Some(local) = self.module.locals.get(name) else {
            let mut d = Diagnostic::error(
                "Reference to undeclared local value",
                format!("local.{name} is not declared in this module"),
                Some(location.clone()),
            );
            if let Some(h) = did_you_mean(name, self.module.locals.keys().map(String::as_str)) {
                d = d.with_help(h);
            }
            return Err(d);
        };
        let scope = self.evaluation.scope(self.path, RepetitionBinding::None);
        self.evaluation
            .memoized(&self.memo_key(&format!("local.{name}")), || {
                evaluate(&local.value, &scope)
            })
    }

    /// The value of `module.name`: its outputs, per instance.
    fn module_call(&self, name: &str, location: &SourceLocation) -> Result<Value, Diagnostic> {
        let Some(call) = self.module.module_calls.get(name) else {
            return Err(Diagnostic::error(
                "Reference to undeclared module",
                format!("module.{name} is not declared in this module"),
                Some(location.clone()),
            ));
        };
        let ev = self.evaluation;
        let base = ev.scope(self.path, RepetitionBinding::None);
        let bindings = ev.expand(&call.repetition, &base)?;
        let mut instances = Vec::new();
        for binding in bindings {
            let key = binding.key();
            let child = self.path.child(name, key.clone());
            let child_scope = ev.scope(&child, RepetitionBinding::None);
            let outputs = child_scope.outputs()?;
            instances.push((key, outputs));
        }
        Ok(match call.repetition {
            Repetition::Single => instances.pop().map(|(_, v)| v).unwrap_or(Value::Null),
            Repetition::Count(_) => Value::List(instances.into_iter().map(|(_, v)| v).collect()),
            Repetition::ForEach(_) => Value::Map(
                instances
                    .into_iter()
                    .map(|(k, v)| {
                        (
                            if let InstanceKey::Key(k) = k {
                                k
                            } else {
                                k.to_string()
                            },
                            v,
                        )
                    })
                    .collect(),
            ),
        })
    }

    /// Every output of this module instance, as an object.
    pub fn outputs(&self) -> Result<Value, Diagnostic> {
        let mut map = BTreeMap::new();
        for name in self.module.outputs.keys() {
            map.insert(name.clone(), self.output(name)?);
        }
        Ok(Value::Map(map))
    }

    /// One output of this module instance.
    pub fn output(&self, name: &str) -> Result<Value, Diagnostic> {
        let output = &self.module.outputs[name];
        let scope = self.evaluation.scope(self.path, RepetitionBinding::None);
        self.evaluation
            .memoized(&self.memo_key(&format!("output.{name}")), || {
                let v = evaluate(&output.value, &scope)?;
                Ok(if output.sensitive {
                    v.into_sensitive()
                } else {
                    v
                })
            })
    }

    /// A resource's value; one with no known instances is an empty list or map when repeated
    /// (count = 0), and unknown otherwise (not planned yet).
    fn resource_or_empty(&self, address: &str, config_address: &str) -> Value {
        if let Some(v) = self.evaluation.resource_value(address) {
            return v;
        }
        match self
            .module
            .resources
            .get(config_address)
            .map(|r| &r.repetition)
        {
            Some(Repetition::Count(_)) => Value::List(Vec::new()),
            Some(Repetition::ForEach(_)) => Value::Map(BTreeMap::new()),
            _ => Value::Unknown,
        }
    }

    /// `path.module` and `path.root` relative to the root module's directory (`.` for the
    /// root itself), as in Terraform; `path.cwd` absolute.
    fn path_value(&self) -> Value {
        let cwd = std::env::current_dir().unwrap_or_default();
        let module = relative_to(&self.module.dir, &self.evaluation.root_dir);
        Value::Map(BTreeMap::from([
            ("module".to_string(), Value::string(module)),
            ("root".to_string(), Value::string(".")),
            ("cwd".to_string(), Value::string(cwd.display().to_string())),
        ]))
    }
}

/// `dir` relative to `base`, with `.` and `..` components resolved: `modules/net`, or `.`.
fn relative_to(dir: &Path, base: &Path) -> String {
    use std::path::Component;
    let mut parts: Vec<String> = Vec::new();
    let rel = dir.strip_prefix(base).unwrap_or(dir);
    for c in rel.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if parts.last().is_some_and(|p| p != "..") => {
                parts.pop();
            }
            other => parts.push(other.as_os_str().to_string_lossy().into_owned()),
        }
    }
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

/// The `each`/`count` binding of a module call instance with the given key.
fn binding_for(
    ev: &Evaluation,
    parent: &ModulePath,
    repetition: &Repetition,
    key: &InstanceKey,
) -> Result<RepetitionBinding, Diagnostic> {
    Ok(match (repetition, key) {
        (Repetition::Count(_), InstanceKey::Index(i)) => RepetitionBinding::Count(*i),
        (Repetition::ForEach(_), InstanceKey::Key(k)) => {
            let scope = ev.scope(parent, RepetitionBinding::None);
            ev.expand(repetition, &scope)?
                .into_iter()
                .find(|b| b.key() == *key)
                .unwrap_or(RepetitionBinding::Each(k.clone(), Value::Null))
        }
        _ => RepetitionBinding::None,
    })
}

fn attr_name<'o>(ops: &[&'o TraversalOperator], i: usize) -> Option<&'o str> {
    match ops.get(i) {
        Some(TraversalOperator::GetAttr(id)) => Some(id.as_str()),
        _ => None,
    }
}

impl Scope for InstanceScope<'_> {
    fn resolve(
        &self,
        name: &str,
        ops: &[&TraversalOperator],
        location: &SourceLocation,
    ) -> Result<(Value, usize), Diagnostic> {
        let need_attr = |what: &str| {
            Diagnostic::error(
                "Invalid reference",
                format!("a reference to {what} needs an attribute name, such as {what}.NAME"),
                Some(location.clone()),
            )
        };
        match name {
            "var" => Ok((self.variable(attr_name(ops, 0).ok_or_else(|| need_attr("var"))?, location)?, 1)),
            "local" => Ok((self.local(attr_name(ops, 0).ok_or_else(|| need_attr("local"))?, location)?, 1)),
            "module" => Ok((self.module_call(attr_name(ops, 0).ok_or_else(|| need_attr("module"))?, location)?, 1)),
            "count" => match &self.repetition {
                RepetitionBinding::Count(i) => Ok((Value::Map(BTreeMap::from([("index".into(), Value::Number(*i as f64))])), 0)),
                _ => Err(Diagnostic::error("Reference to \"count\" in non-counted context", "count.index can only be used in blocks that set count", Some(location.clone()))),
            },
            "each" => match &self.repetition {
                RepetitionBinding::Each(k, v) => Ok((Value::Map(BTreeMap::from([("key".into(), Value::string(k.clone())), ("value".into(), v.clone())])), 0)),
                _ => Err(Diagnostic::error("Reference to \"each\" in context without for_each", "each.key and each.value can only be used in blocks that set for_each", Some(location.clone()))),
            },
            "path" => Ok((self.path_value(), 0)),
            "data" => {
                let (Some(t), Some(n)) = (attr_name(ops, 0), attr_name(ops, 1)) else {
                    return Err(need_attr("data.TYPE"));
                };
                let address = format!("{}data.{t}.{n}", self.path.prefix());
                Ok((self.resource_or_empty(&address, &format!("data.{t}.{n}")), 2))
            }
            other if other.contains('_') => {
                let n = attr_name(ops, 0).ok_or_else(|| need_attr(other))?;
                let address = format!("{}{other}.{n}", self.path.prefix());
                if !self.module.resources.contains_key(&format!("{other}.{n}")) {
                    return Err(Diagnostic::error("Reference to undeclared resource", format!("{other}.{n} is not declared in this module"), Some(location.clone())));
                }
                Ok((self.resource_or_empty(&address, &format!("{other}.{n}")), 1))
            }
            other => Err(Diagnostic::error(
                "Unknown reference",
                format!("\"{other}\" is not a valid reference; expected var.NAME, local.NAME, module.NAME, data.TYPE.NAME, TYPE.NAME, each, count or path"),
                Some(location.clone()),
            )),
        }
    }

    fn base_dir(&self) -> &Path {
        &self.module.dir
    }

    fn instance_key_position(&self, name: &str) -> Option<usize> {
        match name {
            "data" => Some(2),
            "var" | "local" | "module" | "count" | "each" | "path" | "self" => None,
            other if other.contains('_') => Some(1),
            _ => None,
        }
    }

    fn resolve_instance(
        &self,
        name: &str,
        ops: &[&TraversalOperator],
        key: &Value,
    ) -> Option<(Value, usize)> {
        let (config_address, consumed) = match name {
            "data" => (
                format!("data.{}.{}", attr_name(ops, 0)?, attr_name(ops, 1)?),
                3,
            ),
            other => (format!("{other}.{}", attr_name(ops, 0)?), 2),
        };
        let address = format!("{}{config_address}", self.path.prefix());
        let instance_key = match key {
            Value::Number(n) if *n >= 0.0 && n.fract() == 0.0 => InstanceKey::Index(*n as usize),
            Value::String(s) => InstanceKey::Key(s.clone()),
            _ => return None,
        };
        let table = self
            .evaluation
            .resources
            .read()
            .unwrap_or_else(|e| e.into_inner());
        let value = table.get(&address)?.instances.get(&instance_key)?.clone();
        Some((value, consumed))
    }
}
