//! Expectations: what a profile says a value should be.
//!
//! Grammar (whitespace around operators is not allowed inside a component):
//! - `1`, `madvise`: exactly this value;
//! - `>=262144`, `<=15`, `>0`, `<5`: a bound (tuned's `>N` means "at least";
//!   operators write `>=` here to say so unambiguously);
//! - `never|madvise`: one of several alternatives;
//! - `4096 87380 >=16777216`: a multi-value key (`net.ipv4.tcp_rmem`),
//!   compared component by component with whitespace normalised;
//! - integers may carry a binary size suffix (`256KiB`, `16MiB`), converted to
//!   the unit of the value (bytes unless the key says otherwise).

use std::fmt;

use thiserror::Error;

/// Why an expectation string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ExpectError {
    /// Nothing to expect.
    #[error("the expectation is empty")]
    Empty,
    /// An alternative between `|` is empty.
    #[error("`{0}` has an empty alternative around `|`")]
    EmptyAlternative(String),
    /// A bound whose operand is not an integer.
    #[error("`{0}`: a bound (>=, <=, >, <) needs an integer, e.g. >=262144 or >=256KiB")]
    BoundNotInteger(String),
    /// A size suffix that does not divide into the value's unit.
    #[error("`{0}` is not a whole number of the value's unit")]
    Fraction(String),
    /// A number no kernel value can hold (kernel values fit in 64 bits).
    #[error("`{0}` is out of range: kernel values lie between {min} and {max}", min = i64::MIN, max = u64::MAX)]
    OutOfRange(String),
}

/// A comparison operator of one component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Equal.
    Eq,
    /// Greater than or equal.
    Ge,
    /// Less than or equal.
    Le,
    /// Strictly greater.
    Gt,
    /// Strictly less.
    Lt,
}

impl Op {
    fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "",
            Op::Ge => ">=",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Lt => "<",
        }
    }
}

/// An operand: an integer (sizes already converted) or a word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// A whole number.
    Int(i128),
    /// Anything else, compared as text.
    Text(String),
}

/// One whitespace-separated component with its operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// How to compare.
    pub op: Op,
    /// What to compare with.
    pub operand: Operand,
}

/// A parsed expectation: any one of the alternatives must match.
///
/// ```
/// use tunekeeper::expect::Expectation;
///
/// let rmem = Expectation::parse("4096 >=65536 >=16MiB").unwrap();
/// assert!(rmem.matches("4096\t131072\t33554432"));
/// assert!(!rmem.matches("4096 16384 4194304"));
/// // Never lower what is already higher; raise what is too low.
/// assert_eq!(rmem.target(Some("4096 131072 6291456")), "4096 131072 16777216");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    alternatives: Vec<Vec<Component>>,
}

/// Parses an integer with an optional binary size suffix, in units of `unit` bytes.
pub fn parse_size(text: &str, unit: u64) -> Option<Result<i128, ExpectError>> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '-'))
        .unwrap_or(text.len());
    let (digits, suffix) = text.split_at(split);
    if digits.is_empty() || digits.chars().skip(1).any(|c| c == '-') {
        return None;
    }
    let n: i128 = match digits.parse() {
        Ok(n) => n,
        // Digits too long even for i128: a number, just not one any value holds.
        Err(_)
            if digits
                .trim_start_matches('-')
                .bytes()
                .all(|b| b.is_ascii_digit()) =>
        {
            return Some(Err(ExpectError::OutOfRange(text.to_string())));
        }
        Err(_) => return None,
    };
    let factor: i128 = match suffix {
        "" => return in_range(n, text),
        "KiB" | "K" | "k" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        "TiB" | "T" => 1 << 40,
        _ => return None,
    };
    let Some(bytes) = n.checked_mul(factor) else {
        return Some(Err(ExpectError::OutOfRange(text.to_string())));
    };
    let unit = i128::from(unit.max(1));
    if bytes % unit != 0 {
        return Some(Err(ExpectError::Fraction(text.to_string())));
    }
    in_range(bytes / unit, text)
}

/// Kernel values are 64-bit (signed or unsigned): anything outside both can
/// never match, so it is a mistake in the profile, not a bound.
fn in_range(n: i128, text: &str) -> Option<Result<i128, ExpectError>> {
    if n < i128::from(i64::MIN) || n > i128::from(u64::MAX) {
        return Some(Err(ExpectError::OutOfRange(text.to_string())));
    }
    Some(Ok(n))
}

impl Expectation {
    /// Parses an expectation whose sizes are in bytes.
    pub fn parse(text: &str) -> Result<Expectation, ExpectError> {
        Expectation::parse_in_unit(text, 1)
    }

    /// Parses an expectation whose sizes are in units of `unit` bytes
    /// (`read_ahead_kb` takes 1024: `4MiB` means 4096).
    pub fn parse_in_unit(text: &str, unit: u64) -> Result<Expectation, ExpectError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ExpectError::Empty);
        }
        let mut alternatives = Vec::new();
        for alt in text.split('|') {
            let words: Vec<&str> = alt.split_whitespace().collect();
            if words.is_empty() {
                return Err(ExpectError::EmptyAlternative(text.to_string()));
            }
            let mut comps = Vec::with_capacity(words.len());
            for word in words {
                comps.push(parse_component(word, unit)?);
            }
            alternatives.push(comps);
        }
        Ok(Expectation { alternatives })
    }

    /// True when `actual` (as the kernel prints it) satisfies the expectation.
    pub fn matches(&self, actual: &str) -> bool {
        let words: Vec<&str> = actual.split_whitespace().collect();
        self.alternatives.iter().any(|alt| {
            alt.len() == words.len() && alt.iter().zip(&words).all(|(c, w)| component_matches(c, w))
        })
    }

    /// The value to write so that the expectation holds, given the current
    /// value: exact components take their value, bounds keep a current value
    /// that already satisfies them (never lower a value that is already
    /// higher), and the first alternative is the one aimed for.
    pub fn target(&self, current: Option<&str>) -> String {
        if let Some(cur) = current {
            if self.matches(cur) {
                return normalise(cur);
            }
        }
        let words: Vec<&str> = current
            .map(|c| c.split_whitespace().collect())
            .unwrap_or_default();
        let alt = &self.alternatives[0];
        let parts: Vec<String> = alt
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let cur = words.get(i).and_then(|w| w.parse::<i128>().ok());
                match (&c.operand, c.op, cur) {
                    (Operand::Int(v), Op::Ge, Some(cur)) if cur >= *v => cur.to_string(),
                    (Operand::Int(v), Op::Le, Some(cur)) if cur <= *v => cur.to_string(),
                    (Operand::Int(v), Op::Gt, Some(cur)) if cur > *v => cur.to_string(),
                    (Operand::Int(v), Op::Lt, Some(cur)) if cur < *v => cur.to_string(),
                    (Operand::Int(v), Op::Gt, _) => (v + 1).to_string(),
                    (Operand::Int(v), Op::Lt, _) => (v - 1).to_string(),
                    (Operand::Int(v), _, _) => v.to_string(),
                    (Operand::Text(t), _, _) => t.clone(),
                }
            })
            .collect();
        parts.join(" ")
    }

    /// The alternatives, for renderers that need them.
    pub fn alternatives(&self) -> &[Vec<Component>] {
        &self.alternatives
    }
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, alt) in self.alternatives.iter().enumerate() {
            if i > 0 {
                f.write_str("|")?;
            }
            for (j, c) in alt.iter().enumerate() {
                if j > 0 {
                    f.write_str(" ")?;
                }
                f.write_str(c.op.symbol())?;
                match &c.operand {
                    Operand::Int(n) => write!(f, "{n}")?,
                    Operand::Text(t) => f.write_str(t)?,
                }
            }
        }
        Ok(())
    }
}

/// Collapses runs of whitespace to single spaces, as values are compared.
pub fn normalise(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn parse_component(word: &str, unit: u64) -> Result<Component, ExpectError> {
    let (op, rest) = if let Some(r) = word.strip_prefix(">=") {
        (Op::Ge, r)
    } else if let Some(r) = word.strip_prefix("<=") {
        (Op::Le, r)
    } else if let Some(r) = word.strip_prefix('>') {
        (Op::Gt, r)
    } else if let Some(r) = word.strip_prefix('<') {
        (Op::Lt, r)
    } else {
        (Op::Eq, word)
    };
    match parse_size(rest, unit) {
        Some(Ok(n)) => Ok(Component {
            op,
            operand: Operand::Int(n),
        }),
        Some(Err(e)) => Err(e),
        None if op == Op::Eq => Ok(Component {
            op,
            operand: Operand::Text(rest.to_string()),
        }),
        None => Err(ExpectError::BoundNotInteger(word.to_string())),
    }
}

fn component_matches(c: &Component, actual: &str) -> bool {
    match &c.operand {
        Operand::Text(t) => c.op == Op::Eq && t == actual,
        Operand::Int(v) => {
            let Ok(a) = actual.parse::<i128>() else {
                return false;
            };
            match c.op {
                Op::Eq => a == *v,
                Op::Ge => a >= *v,
                Op::Le => a <= *v,
                Op::Gt => a > *v,
                Op::Lt => a < *v,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(s: &str) -> Expectation {
        Expectation::parse(s).unwrap()
    }

    #[test]
    fn exact_bounds_and_alternatives() {
        assert!(e("1").matches("1"));
        assert!(!e("1").matches("60"));
        assert!(e(">=262144").matches("262144"));
        assert!(e(">=262144").matches("1048576"));
        assert!(!e(">=262144").matches("65530"));
        assert!(e("<=5").matches("5") && !e("<=5").matches("10"));
        assert!(e(">0").matches("1") && !e(">0").matches("0"));
        assert!(e("never|madvise").matches("madvise"));
        assert!(!e("never|madvise").matches("always"));
    }

    #[test]
    fn multi_value_keys_normalise_whitespace() {
        let x = e("4096 87380 16777216");
        assert!(x.matches("4096\t87380\t16777216"));
        assert!(x.matches("  4096 87380   16777216\n"));
        assert!(!x.matches("4096 87380"));
        let y = e("4096 >=65536 >=16777216");
        assert!(y.matches("4096\t131072\t33554432"));
        assert!(!y.matches("4096\t131072\t6291456"));
    }

    #[test]
    fn sizes_convert_to_the_unit() {
        assert_eq!(e("256KiB"), e("262144"));
        assert_eq!(e(">=16MiB"), e(">=16777216"));
        let ra = Expectation::parse_in_unit("4MiB", 1024).unwrap();
        assert!(ra.matches("4096"));
        assert_eq!(
            Expectation::parse_in_unit("1000", 1024)
                .unwrap()
                .to_string(),
            "1000"
        );
        assert_eq!(
            Expectation::parse_in_unit("1536KiB", 1024)
                .unwrap()
                .to_string(),
            "1536"
        );
        assert!(matches!(
            Expectation::parse_in_unit("3K", 2048),
            Err(ExpectError::Fraction(_))
        ));
    }

    #[test]
    fn bad_expectations_are_errors() {
        assert_eq!(Expectation::parse("  "), Err(ExpectError::Empty));
        assert!(matches!(
            Expectation::parse("a||b"),
            Err(ExpectError::EmptyAlternative(_))
        ));
        assert!(matches!(
            Expectation::parse(">=lots"),
            Err(ExpectError::BoundNotInteger(_))
        ));
    }

    #[test]
    fn numbers_no_kernel_value_holds_are_refused() {
        // Used to wrap to >=-7.5e37 in release builds and audit ok.
        for text in [
            ">=99999999999999999999999999999999999TiB",
            ">=9999999999999999999999999999999999999999999",
            "18446744073709551616",
            "<=-9223372036854775809",
            "4096 >=99999999999999999999999TiB",
        ] {
            assert!(
                matches!(Expectation::parse(text), Err(ExpectError::OutOfRange(_))),
                "{text}: {:?}",
                Expectation::parse(text)
            );
        }
        assert!(Expectation::parse("18446744073709551615").is_ok());
        assert!(Expectation::parse(">=-9223372036854775808").is_ok());
        assert!(Expectation::parse(">=16777215TiB").is_ok());
        // Dashes inside a word keep it a word.
        assert!(Expectation::parse("12-34").is_ok());
    }

    #[test]
    fn target_never_lowers_a_higher_value() {
        assert_eq!(e(">=262144").target(Some("1048576")), "1048576");
        assert_eq!(e(">=262144").target(Some("65530")), "262144");
        assert_eq!(e("1").target(Some("60")), "1");
        assert_eq!(e("<=5").target(Some("10")), "5");
        assert_eq!(e("never|madvise").target(Some("always")), "never");
        assert_eq!(
            e("4096 >=87380 >=16777216").target(Some("4096 131072 6291456")),
            "4096 131072 16777216"
        );
        assert_eq!(e("1").target(None), "1");
    }

    #[test]
    fn display_round_trips() {
        for s in ["1", ">=262144", "never|madvise", "4096 >=87380 <=16777216"] {
            assert_eq!(e(s).to_string(), s);
        }
    }
}
