//! Unary and binary operators: arithmetic, comparison, logic.

use hcl_edit::expr::{BinaryOperator, UnaryOperator};

use super::Evaluator;
use crate::diagnostics::Diagnostic;
use crate::value::Value;

impl Evaluator<'_> {
    pub(super) fn unary(&mut self, op: &hcl_edit::expr::UnaryOp) -> Result<Value, Diagnostic> {
        let v = self.eval(&op.expr)?;
        let marks = v.top_marks();
        if marks.unknown {
            return Ok(marks.apply(Value::Unknown));
        }
        let result = match (op.operator.value(), v.unmark().0) {
            (UnaryOperator::Neg, Value::Number(n)) => Value::Number(-n),
            (UnaryOperator::Not, Value::Bool(b)) => Value::Bool(!b),
            (UnaryOperator::Neg, other) => {
                return Err(self.error(
                    &op.expr,
                    "Invalid operand",
                    format!("unary - needs a number, got {}", other.type_name()),
                ))
            }
            (UnaryOperator::Not, other) => {
                return Err(self.error(
                    &op.expr,
                    "Invalid operand",
                    format!("! needs a bool, got {}", other.type_name()),
                ))
            }
        };
        Ok(marks.apply(result))
    }

    pub(super) fn binary(&mut self, op: &hcl_edit::expr::BinaryOp) -> Result<Value, Diagnostic> {
        let operator = *op.operator.value();
        let lhs = self.eval(&op.lhs_expr)?;
        // && and || short-circuit on a known deciding left side.
        if matches!(operator, BinaryOperator::And | BinaryOperator::Or) {
            if let (Value::Bool(l), false) = (lhs.unmark().0, lhs.top_marks().unknown) {
                let decided = (operator == BinaryOperator::And && !l)
                    || (operator == BinaryOperator::Or && *l);
                if decided {
                    return Ok(lhs.top_marks().apply(Value::Bool(*l)));
                }
            }
        }
        let rhs = self.eval(&op.rhs_expr)?;
        let marks = lhs.deep_marks().union(rhs.deep_marks());
        if lhs.top_marks().unknown || rhs.top_marks().unknown {
            return Ok(marks.apply(Value::Unknown));
        }
        let (l, r) = (lhs.strip_sensitive(), rhs.strip_sensitive());
        let result = match operator {
            BinaryOperator::Eq | BinaryOperator::NotEq => {
                if marks.unknown {
                    return Ok(marks.apply(Value::Unknown));
                }
                let equal = values_equal(&l, &r);
                Value::Bool(if operator == BinaryOperator::Eq {
                    equal
                } else {
                    !equal
                })
            }
            BinaryOperator::And | BinaryOperator::Or => match (&l, &r) {
                (Value::Bool(a), Value::Bool(b)) => {
                    Value::Bool(if operator == BinaryOperator::And {
                        *a && *b
                    } else {
                        *a || *b
                    })
                }
                _ => {
                    return Err(self.error(
                        &op.rhs_expr,
                        "Invalid operand",
                        format!(
                            "{} needs bools on both sides, got {} and {}",
                            operator.as_str(),
                            l.type_name(),
                            r.type_name()
                        ),
                    ))
                }
            },
            _ => {
                let (a, b) = match (as_number(&l), as_number(&r)) {
                    (Some(a), Some(b)) => (a, b),
                    (None, _) => {
                        return Err(self.error(
                            &op.lhs_expr,
                            "Invalid operand",
                            format!("{} needs numbers, got {}", operator.as_str(), l.type_name()),
                        ))
                    }
                    (_, None) => {
                        return Err(self.error(
                            &op.rhs_expr,
                            "Invalid operand",
                            format!("{} needs numbers, got {}", operator.as_str(), r.type_name()),
                        ))
                    }
                };
                match operator {
                    BinaryOperator::Plus => Value::Number(a + b),
                    BinaryOperator::Minus => Value::Number(a - b),
                    BinaryOperator::Mul => Value::Number(a * b),
                    BinaryOperator::Div if b == 0.0 => {
                        return Err(self.error(
                            &op.rhs_expr,
                            "Division by zero",
                            "the divisor is zero",
                        ))
                    }
                    BinaryOperator::Div => Value::Number(a / b),
                    BinaryOperator::Mod if b == 0.0 => {
                        return Err(self.error(
                            &op.rhs_expr,
                            "Division by zero",
                            "the divisor of % is zero",
                        ))
                    }
                    BinaryOperator::Mod => Value::Number(a % b),
                    BinaryOperator::Less => Value::Bool(a < b),
                    BinaryOperator::LessEq => Value::Bool(a <= b),
                    BinaryOperator::Greater => Value::Bool(a > b),
                    BinaryOperator::GreaterEq => Value::Bool(a >= b),
                    _ => unreachable!("handled above"),
                }
            }
        };
        if let Value::Number(n) = result {
            if !n.is_finite() {
                return Err(self.error(
                    op,
                    "Invalid arithmetic result",
                    format!(
                        "the result of {} is too large to be a number",
                        operator.as_str()
                    ),
                ));
            }
        }
        Ok(marks.apply(result))
    }
}

/// Numbers, and strings that hold numbers, take part in arithmetic.
fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => Some(*n),
        Value::String(s) => s.trim().parse().ok().filter(|n: &f64| n.is_finite()),
        _ => None,
    }
}

/// Equality as the language sees it: numbers by value, collections deeply.
pub(crate) fn values_equal(a: &Value, b: &Value) -> bool {
    a == b
}
