//! Numeric functions.

use super::args::Kind::*;
use super::args::{def, parse_number, Call, Def};
use super::FunctionError;
use crate::value::{format_number, Value};

/// The most elements `range` may produce.
const RANGE_LIMIT: f64 = 1024.0 * 1024.0;

#[rustfmt::skip]
pub(super) const DEFS: &[Def] = &[
    def("abs", "abs(number) number", "The absolute value of a number.", abs).args(&[Num]),
    def("ceil", "ceil(number) number", "The smallest whole number not less than the given number.", ceil).args(&[Num]),
    def("floor", "floor(number) number", "The largest whole number not greater than the given number.", floor).args(&[Num]),
    def("log", "log(number, base) number", "The logarithm of a number in the given base.", log).args(&[Num, Num]),
    def("max", "max(number...) number", "The greatest of one or more numbers.", max).args(&[Num]).rest(Num),
    def("min", "min(number...) number", "The smallest of one or more numbers.", min).args(&[Num]).rest(Num),
    def("parseint", "parseint(string, base) number", "Parses a whole number written in a base from 2 to 62.", parseint).args(&[Str, Num]),
    def("pow", "pow(base, exponent) number", "Raises a number to a power.", pow).args(&[Num, Num]),
    def("range", "range([start,] limit[, step]) list(number)", "A list of numbers from start (default 0) up to but excluding limit, by step (default 1 or -1).", range).args(&[Num, Num, Num]).optional(2),
    def("signum", "signum(number) number", "-1, 0 or 1 according to the sign of a number.", signum).args(&[Num]),
    def("sum", "sum(list) number", "The total of a non-empty list of numbers.", sum).args(&[List]),
];

fn number(n: f64) -> Result<Value, FunctionError> {
    Ok(Value::Number(n))
}

fn abs(c: &Call) -> Result<Value, FunctionError> {
    number(c.num(0)?.abs())
}

fn ceil(c: &Call) -> Result<Value, FunctionError> {
    number(c.num(0)?.ceil())
}

fn floor(c: &Call) -> Result<Value, FunctionError> {
    number(c.num(0)?.floor())
}

fn signum(c: &Call) -> Result<Value, FunctionError> {
    let n = c.num(0)?;
    number(if n == 0.0 { 0.0 } else { n.signum() })
}

fn log(c: &Call) -> Result<Value, FunctionError> {
    number(c.num(0)?.log(c.num(1)?))
}

fn pow(c: &Call) -> Result<Value, FunctionError> {
    number(c.num(0)?.powf(c.num(1)?))
}

fn all_numbers(c: &Call) -> Result<Vec<f64>, FunctionError> {
    (0..c.len()).map(|i| c.num(i)).collect()
}

fn max(c: &Call) -> Result<Value, FunctionError> {
    number(
        all_numbers(c)?
            .into_iter()
            .fold(f64::NEG_INFINITY, f64::max),
    )
}

fn min(c: &Call) -> Result<Value, FunctionError> {
    number(all_numbers(c)?.into_iter().fold(f64::INFINITY, f64::min))
}

fn sum(c: &Call) -> Result<Value, FunctionError> {
    let items = c.list(0)?;
    if items.is_empty() {
        return Err(c.err(0, "cannot sum an empty list"));
    }
    let mut total = 0.0;
    for (j, item) in items.iter().enumerate() {
        total += match item {
            Value::Number(n) => *n,
            Value::String(s) => parse_number(s)
                .ok_or_else(|| c.err(0, format!("element {j} is a string that is not a number")))?,
            other => {
                return Err(c.err(
                    0,
                    format!("element {j}: expected a number, got {}", other.type_name()),
                ))
            }
        };
    }
    number(total)
}

fn parseint(c: &Call) -> Result<Value, FunctionError> {
    let (text, base) = (c.str(0)?, c.int(1)?);
    if !(2..=62).contains(&base) {
        return Err(c.err(
            1,
            format!("base must be a whole number from 2 to 62, got {base}"),
        ));
    }
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let invalid = || {
        c.err(
            0,
            format!("cannot parse {} as a base {base} integer", c.show(0, text)),
        )
    };
    if digits.is_empty() {
        return Err(invalid());
    }
    let mut value = 0.0f64;
    for ch in digits.chars() {
        let d = match ch {
            '0'..='9' => ch as i64 - '0' as i64,
            'a'..='z' => ch as i64 - 'a' as i64 + 10,
            'A'..='Z' if base <= 36 => ch as i64 - 'A' as i64 + 10,
            'A'..='Z' => ch as i64 - 'A' as i64 + 36,
            _ => return Err(invalid()),
        };
        if d >= base {
            return Err(invalid());
        }
        value = value * base as f64 + d as f64;
    }
    number(if negative { -value } else { value })
}

fn range(c: &Call) -> Result<Value, FunctionError> {
    let (start, limit, step) = match c.len() {
        1 => (0.0, c.num(0)?, None),
        2 => (c.num(0)?, c.num(1)?, None),
        _ => (c.num(0)?, c.num(1)?, Some(c.num(2)?)),
    };
    let step = step.unwrap_or(if limit < start { -1.0 } else { 1.0 });
    if step == 0.0 {
        if start == limit {
            return Ok(Value::List(vec![]));
        }
        return Err(c.err(2, "step must not be zero"));
    }
    if step < 0.0 && limit > start {
        return Err(c.fail("limit cannot be greater than start when step is negative"));
    }
    if step > 0.0 && start > limit {
        return Err(c.fail("start cannot be greater than limit when step is positive"));
    }
    let count = ((limit - start) / step).ceil();
    if !count.is_finite() || count > RANGE_LIMIT {
        return Err(c.fail(format!(
            "more than {} values would be generated; decrease the difference between start and limit or use a larger step",
            format_number(RANGE_LIMIT)
        )));
    }
    Ok(Value::List(
        (0..count as usize)
            .map(|i| Value::Number(start + step * i as f64))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::tests::support::*;
    use crate::value::Value;

    #[test]
    fn unary() {
        assert_eq!(ok("abs", vec![n(-12.4)]), n(12.4));
        assert_eq!(ok("ceil", vec![n(4.1)]), n(5.0));
        assert_eq!(ok("floor", vec![s("4.9")]), n(4.0));
        assert_eq!(ok("signum", vec![n(-3.0)]), n(-1.0));
        assert_eq!(ok("signum", vec![n(0.0)]), n(0.0));
        assert!(err("abs", vec![s("x")])
            .message
            .contains("expected a number"));
        assert!(err("ceil", vec![list(vec![])])
            .message
            .contains("expected a number"));
        assert!(err("floor", vec![Value::Null]).message.contains("got null"));
        assert!(err("signum", vec![]).message.contains("exactly 1"));
    }

    #[test]
    fn binary() {
        assert_eq!(ok("pow", vec![n(3.0), n(2.0)]), n(9.0));
        assert_eq!(ok("log", vec![n(16.0), n(2.0)]), n(4.0));
        assert!(err("pow", vec![n(3.0)]).message.contains("exactly 2"));
        assert!(err("log", vec![n(3.0), map(&[])])
            .message
            .contains("argument 2"));
        assert_eq!(ok("parseint", vec![s("FF"), n(16.0)]), n(255.0));
        assert_eq!(ok("parseint", vec![s("-1010"), n(2.0)]), n(-10.0));
        assert!(err("parseint", vec![s("12"), n(1.0)])
            .message
            .contains("base must be"));
        assert!(err("parseint", vec![s("19"), n(8.0)])
            .message
            .contains("cannot parse \"19\""));
    }

    #[test]
    fn min_max_sum() {
        assert_eq!(ok("max", vec![n(12.0), n(54.0), n(3.0)]), n(54.0));
        assert_eq!(ok("min", vec![n(12.0), s("-1"), n(3.0)]), n(-1.0));
        assert_eq!(err("min", vec![n(1.0), s("a")]).argument, Some(1));
        assert!(err("max", vec![]).message.contains("at least 1"));
        assert_eq!(ok("sum", vec![list(vec![n(1.0), n(2.5), s("3")])]), n(6.5));
        assert!(err("sum", vec![list(vec![])])
            .message
            .contains("empty list"));
        assert!(err("sum", vec![list(vec![Value::Null])])
            .message
            .contains("element 0"));
    }

    #[test]
    fn ranges() {
        assert_eq!(
            ok("range", vec![n(3.0)]),
            list(vec![n(0.0), n(1.0), n(2.0)])
        );
        assert_eq!(
            ok("range", vec![n(1.0), n(4.0)]),
            list(vec![n(1.0), n(2.0), n(3.0)])
        );
        assert_eq!(
            ok("range", vec![n(4.0), n(1.0)]),
            list(vec![n(4.0), n(3.0), n(2.0)])
        );
        assert_eq!(
            ok("range", vec![n(0.0), n(1.0), n(0.25)]),
            list(vec![n(0.0), n(0.25), n(0.5), n(0.75)])
        );
        assert_eq!(ok("range", vec![n(0.0)]), list(vec![]));
        assert_eq!(ok("range", vec![n(-2.0)]), list(vec![n(0.0), n(-1.0)]));
        assert!(err("range", vec![n(0.0), n(5.0), n(-1.0)])
            .message
            .contains("limit cannot be greater"));
        assert!(err("range", vec![n(0.0), n(5.0), n(0.0)])
            .message
            .contains("zero"));
        assert!(err("range", vec![n(2e6)])
            .message
            .contains("more than 1048576 values"));
        assert!(err("range", vec![]).message.contains("1 to 3 arguments"));
    }

    #[test]
    fn marks() {
        assert_eq!(ok("max", vec![n(1.0), Value::Unknown]), Value::Unknown);
        assert_eq!(ok("abs", vec![secret(n(-1.0))]), secret(n(1.0)));
        assert_eq!(
            ok("sum", vec![list(vec![n(1.0), secret(n(2.0))])]),
            secret(n(3.0))
        );
        assert_eq!(
            ok("sum", vec![list(vec![n(1.0), Value::Unknown])]),
            Value::Unknown
        );
    }
}
