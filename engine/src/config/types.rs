//! Type constraints of variables (`string`, `list(string)`, `object({...})`, ...) and the
//! conversion of values to them.

use std::collections::BTreeMap;

use hcl_edit::expr::{Expression, ObjectKey};

use crate::value::Value;

/// A variable's type constraint.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum TypeConstraint {
    /// Any value.
    #[default]
    Any,
    /// A string (numbers and bools convert).
    String,
    /// A number (numeric strings convert).
    Number,
    /// A bool ("true"/"false" convert).
    Bool,
    /// A list of one type.
    List(Box<TypeConstraint>),
    /// A set of one type: distinct, sorted.
    Set(Box<TypeConstraint>),
    /// A map of one type.
    Map(Box<TypeConstraint>),
    /// An object with typed attributes; `optional(T, default)` attributes may be absent.
    Object(BTreeMap<String, ObjectAttribute>),
    /// A tuple of positional types.
    Tuple(Vec<TypeConstraint>),
}

/// One attribute of an object type.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectAttribute {
    /// Its type.
    pub constraint: TypeConstraint,
    /// Declared with `optional(...)`.
    pub optional: bool,
    /// The default of an optional attribute.
    pub default: Option<Value>,
}

impl TypeConstraint {
    /// Parse a type expression; the error says what was expected.
    pub fn parse(expr: &Expression) -> Result<TypeConstraint, String> {
        match expr {
            Expression::Variable(v) => match v.as_str() {
                "any" => Ok(TypeConstraint::Any),
                "string" => Ok(TypeConstraint::String),
                "number" => Ok(TypeConstraint::Number),
                "bool" => Ok(TypeConstraint::Bool),
                other => Err(format!(
                    "unknown type \"{other}\"; expected string, number, bool, any, list(...), set(...), map(...), object({{...}}) or tuple([...])"
                )),
            },
            Expression::FuncCall(call) => {
                let name = call.name.name.as_str();
                let args: Vec<&Expression> = call.args.iter().collect();
                let one = |args: &[&Expression]| -> Result<Box<TypeConstraint>, String> {
                    match args {
                        [a] => Ok(Box::new(TypeConstraint::parse(a)?)),
                        _ => Err(format!("{name}(...) takes exactly one element type")),
                    }
                };
                match name {
                    "list" => Ok(TypeConstraint::List(one(&args)?)),
                    "set" => Ok(TypeConstraint::Set(one(&args)?)),
                    "map" => Ok(TypeConstraint::Map(one(&args)?)),
                    "tuple" => match args.as_slice() {
                        [Expression::Array(items)] => Ok(TypeConstraint::Tuple(
                            items.iter().map(TypeConstraint::parse).collect::<Result<_, _>>()?,
                        )),
                        _ => Err("tuple(...) takes a list of types: tuple([string, number])".into()),
                    },
                    "object" => match args.as_slice() {
                        [Expression::Object(obj)] => parse_object(obj),
                        _ => Err("object(...) takes an object of attribute types: object({ name = string })".into()),
                    },
                    other => Err(format!("unknown type constructor \"{other}\"")),
                }
            }
            _ => Err("expected a type, such as string, list(string) or object({ name = string })".into()),
        }
    }

    /// How the type reads in messages.
    pub fn describe(&self) -> String {
        match self {
            TypeConstraint::Any => "any".into(),
            TypeConstraint::String => "string".into(),
            TypeConstraint::Number => "number".into(),
            TypeConstraint::Bool => "bool".into(),
            TypeConstraint::List(t) => format!("list({})", t.describe()),
            TypeConstraint::Set(t) => format!("set({})", t.describe()),
            TypeConstraint::Map(t) => format!("map({})", t.describe()),
            TypeConstraint::Object(attrs) => {
                let inner: Vec<String> = attrs
                    .iter()
                    .map(|(k, a)| format!("{k} = {}", a.constraint.describe()))
                    .collect();
                format!("object({{{}}})", inner.join(", "))
            }
            TypeConstraint::Tuple(items) => {
                let inner: Vec<String> = items.iter().map(TypeConstraint::describe).collect();
                format!("tuple([{}])", inner.join(", "))
            }
        }
    }

    /// Convert a value to this type, keeping its marks. The error names what was expected and
    /// where inside the value (e.g. `element "a": a number is required`).
    pub fn convert(&self, value: Value) -> Result<Value, String> {
        match value {
            Value::Unknown | Value::Null => Ok(value),
            Value::Sensitive(inner) => Ok(self.convert(*inner)?.into_sensitive()),
            value => self.convert_plain(value),
        }
    }

    fn convert_plain(&self, value: Value) -> Result<Value, String> {
        match (self, value) {
            (TypeConstraint::Any, v) => Ok(v),
            (TypeConstraint::String, Value::String(s)) => Ok(Value::String(s)),
            (TypeConstraint::String, Value::Number(n)) => {
                Ok(Value::String(crate::value::format_number(n)))
            }
            (TypeConstraint::String, Value::Bool(b)) => Ok(Value::String(b.to_string())),
            (TypeConstraint::Number, Value::Number(n)) => Ok(Value::Number(n)),
            (TypeConstraint::Number, Value::String(s)) => match s.trim().parse::<f64>() {
                // "inf" and "NaN" parse, but are no number a spec can use (JSON has none).
                Ok(n) if n.is_finite() => Ok(Value::Number(n)),
                _ => Err(format!("a number is required, got the string {s:?}")),
            },
            (TypeConstraint::Bool, Value::Bool(b)) => Ok(Value::Bool(b)),
            (TypeConstraint::Bool, Value::String(s)) if s == "true" || s == "false" => {
                Ok(Value::Bool(s == "true"))
            }
            (TypeConstraint::List(t), Value::List(items)) => {
                convert_items(t, items).map(Value::List)
            }
            (TypeConstraint::Set(t), Value::List(items)) => {
                let mut items = convert_items(t, items)?;
                items.sort_by_key(|v| v.to_string());
                items.dedup();
                Ok(Value::List(items))
            }
            (TypeConstraint::Map(t), Value::Map(map)) => map
                .into_iter()
                .map(|(k, v)| {
                    t.convert(v)
                        .map(|v| (k.clone(), v))
                        .map_err(|e| format!("element \"{k}\": {e}"))
                })
                .collect::<Result<_, _>>()
                .map(Value::Map),
            (TypeConstraint::Object(attrs), Value::Map(map)) => convert_object(attrs, map),
            (TypeConstraint::Tuple(types), Value::List(items)) => {
                if types.len() != items.len() {
                    return Err(format!(
                        "a tuple of {} elements is required, got {}",
                        types.len(),
                        items.len()
                    ));
                }
                types
                    .iter()
                    .zip(items)
                    .enumerate()
                    .map(|(i, (t, v))| t.convert(v).map_err(|e| format!("element {i}: {e}")))
                    .collect::<Result<_, _>>()
                    .map(Value::List)
            }
            (t, v) => Err(format!(
                "{} is required, got {}",
                article(&t.describe()),
                v.type_name()
            )),
        }
    }
}

fn article(what: &str) -> String {
    if what.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {what}")
    } else {
        format!("a {what}")
    }
}

fn convert_items(t: &TypeConstraint, items: Vec<Value>) -> Result<Vec<Value>, String> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, v)| t.convert(v).map_err(|e| format!("element {i}: {e}")))
        .collect()
}

fn convert_object(
    attrs: &BTreeMap<String, ObjectAttribute>,
    mut map: BTreeMap<String, Value>,
) -> Result<Value, String> {
    let mut out = BTreeMap::new();
    for (name, attr) in attrs {
        match map.remove(name) {
            Some(v) if !v.is_null() => {
                let v = attr
                    .constraint
                    .convert(v)
                    .map_err(|e| format!("attribute \"{name}\": {e}"))?;
                out.insert(name.clone(), v);
            }
            _ if attr.optional => {
                out.insert(name.clone(), attr.default.clone().unwrap_or(Value::Null));
            }
            _ => return Err(format!("attribute \"{name}\" is required")),
        }
    }
    if let Some(extra) = map.keys().next() {
        return Err(format!("unexpected attribute \"{extra}\""));
    }
    Ok(Value::Map(out))
}

fn parse_object(obj: &hcl_edit::expr::Object) -> Result<TypeConstraint, String> {
    let mut attrs = BTreeMap::new();
    for (key, value) in obj.iter() {
        let name = match key {
            ObjectKey::Ident(id) => id.as_str().to_string(),
            ObjectKey::Expression(Expression::String(s)) => s.value().to_string(),
            _ => return Err("object attribute names must be identifiers".into()),
        };
        let attr = match value.expr() {
            Expression::FuncCall(call) if call.name.name.as_str() == "optional" => {
                let args: Vec<&Expression> = call.args.iter().collect();
                let constraint = match args.first() {
                    Some(t) => TypeConstraint::parse(t)?,
                    None => return Err("optional(...) takes a type and an optional default".into()),
                };
                let default = match args.get(1) {
                    Some(d) => Some(literal_value(d)?),
                    None => None,
                };
                ObjectAttribute {
                    constraint,
                    optional: true,
                    default,
                }
            }
            other => ObjectAttribute {
                constraint: TypeConstraint::parse(other)?,
                optional: false,
                default: None,
            },
        };
        attrs.insert(name, attr);
    }
    Ok(TypeConstraint::Object(attrs))
}

/// A literal value in a type expression (the default of `optional`).
fn literal_value(expr: &Expression) -> Result<Value, String> {
    match expr {
        Expression::Null(_) => Ok(Value::Null),
        Expression::Bool(b) => Ok(Value::Bool(*b.value())),
        Expression::Number(n) => Ok(Value::Number(n.value().as_f64().unwrap_or(0.0))),
        Expression::String(s) => Ok(Value::String(s.value().to_string())),
        Expression::StringTemplate(t) => match t.as_single_element().and_then(|e| e.as_literal()) {
            Some(l) => Ok(Value::String(l.value().to_string())),
            None if t.is_empty() => Ok(Value::String(String::new())),
            None => Err("defaults of optional attributes must be literals".into()),
        },
        Expression::Array(items) => items
            .iter()
            .map(literal_value)
            .collect::<Result<_, _>>()
            .map(Value::List),
        Expression::Object(obj) => {
            let mut map = BTreeMap::new();
            for (k, v) in obj.iter() {
                let key = match k {
                    ObjectKey::Ident(id) => id.as_str().to_string(),
                    ObjectKey::Expression(e) => match literal_value(e)? {
                        Value::String(s) => s,
                        _ => return Err("object keys must be strings".into()),
                    },
                };
                map.insert(key, literal_value(v.expr())?);
            }
            Ok(Value::Map(map))
        }
        _ => Err("defaults of optional attributes must be literals".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(src: &str) -> TypeConstraint {
        TypeConstraint::parse(&hcl_edit::parser::parse_expr(src).expect("parses")).expect("type")
    }

    #[test]
    fn converts_primitives_and_collections() {
        assert_eq!(
            ty("string").convert(Value::Number(3.0)),
            Ok(Value::string("3"))
        );
        assert_eq!(
            ty("number").convert(Value::string("2.5")),
            Ok(Value::Number(2.5))
        );
        assert!(ty("number").convert(Value::string("x")).is_err());
        for text in ["inf", "-infinity", "NaN"] {
            assert!(ty("number").convert(Value::string(text)).is_err(), "{text}");
        }
        let set = ty("set(string)")
            .convert(Value::List(vec![
                Value::string("b"),
                Value::string("a"),
                Value::string("b"),
            ]))
            .expect("converts");
        assert_eq!(
            set,
            Value::List(vec![Value::string("a"), Value::string("b")])
        );
    }

    #[test]
    fn objects_with_optional_defaults() {
        let t = ty(r#"object({ name = string, size = optional(number, 3) })"#);
        let v = Value::Map(BTreeMap::from([("name".into(), Value::string("x"))]));
        let out = t.convert(v).expect("converts");
        assert_eq!(out.get("size"), Some(&Value::Number(3.0)));
        let missing = t.convert(Value::Map(BTreeMap::new())).unwrap_err();
        assert!(missing.contains("\"name\" is required"), "{missing}");
    }

    #[test]
    fn marks_survive_conversion() {
        assert_eq!(
            ty("number").convert(Value::string("1").into_sensitive()),
            Ok(Value::Number(1.0).into_sensitive())
        );
        assert_eq!(
            ty("list(string)").convert(Value::Unknown),
            Ok(Value::Unknown)
        );
    }

    #[test]
    fn bad_types_are_explained() {
        let err = TypeConstraint::parse(&hcl_edit::parser::parse_expr("strng").expect("parses"))
            .unwrap_err();
        assert!(err.contains("unknown type \"strng\""));
    }
}
