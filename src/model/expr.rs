//! The rule language: linear (in)equalities over figure keys.
//!
//! ```text
//! rule := sum op sum            op := "=" | "<=" | ">=" | "<" | ">"
//! sum  := term (("+" | "-") term)*
//! term := INT | INT "*" KEY | KEY
//! ```

use std::collections::BTreeMap;
use std::fmt;

/// A comparison between the two sides of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Le,
    Ge,
    Lt,
    Gt,
}

impl Op {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Le => "<=",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Gt => ">",
        }
    }

    /// Whether `a op b` is true.
    pub fn test(self, a: i128, b: i128) -> bool {
        match self {
            Op::Eq => a == b,
            Op::Le => a <= b,
            Op::Ge => a >= b,
            Op::Lt => a < b,
            Op::Gt => a > b,
        }
    }
}

/// One term of a sum: `coefficient * key`, or a constant when `key` is `None`.
/// The sign of a `-` in front is folded into the coefficient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub coefficient: i64,
    pub key: Option<String>,
}

/// A parsed rule expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expression {
    pub lhs: Vec<Term>,
    pub op: Op,
    pub rhs: Vec<Term>,
}

/// Why an expression does not parse, and where (1-based character column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

/// `lhs - rhs` with like terms combined: `Σ coefficient·key + constant`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Linear {
    pub terms: BTreeMap<String, i128>,
    pub constant: i128,
}

impl Expression {
    /// Every figure key the expression names, once each, in order of appearance.
    pub fn keys(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for t in self.lhs.iter().chain(&self.rhs) {
            if let Some(k) = t.key.as_deref() {
                if !out.contains(&k) {
                    out.push(k);
                }
            }
        }
        out
    }

    /// The rule as `Σ c·key + constant  op  0`, like terms combined and zero
    /// coefficients dropped.
    pub fn linear(&self) -> Linear {
        let mut lin = Linear::default();
        let sides = [(1i128, &self.lhs), (-1i128, &self.rhs)];
        for (sign, side) in sides {
            for t in side {
                let c = sign * i128::from(t.coefficient);
                match &t.key {
                    Some(k) => *lin.terms.entry(k.clone()).or_insert(0) += c,
                    None => lin.constant += c,
                }
            }
        }
        lin.terms.retain(|_, c| *c != 0);
        lin
    }
}

impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn side(f: &mut fmt::Formatter<'_>, terms: &[Term]) -> fmt::Result {
            for (i, t) in terms.iter().enumerate() {
                let c = t.coefficient;
                if i > 0 {
                    f.write_str(if c < 0 { " - " } else { " + " })?;
                } else if c < 0 {
                    f.write_str("-")?;
                }
                let shown = c.unsigned_abs();
                match (&t.key, shown) {
                    (Some(k), 1) => f.write_str(k)?,
                    (Some(k), n) => write!(f, "{n} * {k}")?,
                    (None, n) => write!(f, "{n}")?,
                }
            }
            Ok(())
        }
        side(f, &self.lhs)?;
        write!(f, " {} ", self.op.as_str())?;
        side(f, &self.rhs)
    }
}

/// Whether `s` is a figure key: lower-case segments of letters, digits and
/// `_`, each starting with a letter, joined by `.`, at most 64 characters.
pub fn is_figure_key(s: &str) -> bool {
    s.len() <= 64
        && !s.is_empty()
        && s.split('.').all(|seg| {
            let mut b = seg.bytes();
            b.next().is_some_and(|c| c.is_ascii_lowercase())
                && b.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
        })
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Int(i64),
    Key(String),
    Plus,
    Minus,
    Star,
    Op(Op),
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Int(n) => format!("number {n}"),
            Tok::Key(k) => format!("figure key '{k}'"),
            Tok::Plus => "'+'".into(),
            Tok::Minus => "'-'".into(),
            Tok::Star => "'*'".into(),
            Tok::Op(o) => format!("'{}'", o.as_str()),
        }
    }
}

fn tokenize(input: &str) -> Result<Vec<(usize, Tok)>, ParseError> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let tok = match c {
            '+' => Tok::Plus,
            '-' => Tok::Minus,
            '*' => Tok::Star,
            '=' => Tok::Op(Op::Eq),
            '<' | '>' => {
                let eq = chars.get(i + 1) == Some(&'=');
                if eq {
                    i += 1;
                }
                Tok::Op(match (c, eq) {
                    ('<', true) => Op::Le,
                    ('<', false) => Op::Lt,
                    ('>', true) => Op::Ge,
                    _ => Op::Gt,
                })
            }
            '0'..='9' => {
                let start = i;
                while chars.get(i + 1).is_some_and(char::is_ascii_digit) {
                    i += 1;
                }
                let text: String = chars[start..=i].iter().collect();
                let n = text.parse::<i64>().map_err(|_| ParseError {
                    column: col,
                    message: format!("the number {text} is too large (at most {})", i64::MAX),
                })?;
                Tok::Int(n)
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while chars
                    .get(i + 1)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
                {
                    i += 1;
                }
                let text: String = chars[start..=i].iter().collect();
                if !is_figure_key(&text) {
                    return Err(ParseError {
                        column: col,
                        message: format!(
                            "'{text}' is not a figure key (lower-case words of letters, digits and _ joined by '.')"
                        ),
                    });
                }
                Tok::Key(text)
            }
            other => {
                return Err(ParseError {
                    column: col,
                    message: format!("unexpected character '{other}'"),
                })
            }
        };
        out.push((col, tok));
        i += 1;
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(_, t)| t)
    }

    fn column(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |(c, _)| *c)
    }

    fn err<T>(&self, message: String) -> Result<T, ParseError> {
        Err(ParseError {
            column: self.column(),
            message,
        })
    }

    fn found(&self) -> String {
        self.peek()
            .map_or_else(|| "the end of the expression".into(), Tok::describe)
    }

    fn term(&mut self, negative: bool) -> Result<Term, ParseError> {
        let sign = if negative { -1 } else { 1 };
        match self.peek().cloned() {
            Some(Tok::Key(k)) => {
                self.pos += 1;
                Ok(Term {
                    coefficient: sign,
                    key: Some(k),
                })
            }
            Some(Tok::Int(n)) => {
                self.pos += 1;
                if self.peek() == Some(&Tok::Star) {
                    self.pos += 1;
                    match self.peek().cloned() {
                        Some(Tok::Key(k)) => {
                            self.pos += 1;
                            Ok(Term {
                                coefficient: sign * n,
                                key: Some(k),
                            })
                        }
                        _ => self.err(format!(
                            "expected a figure key after '*', found {}",
                            self.found()
                        )),
                    }
                } else {
                    Ok(Term {
                        coefficient: sign * n,
                        key: None,
                    })
                }
            }
            _ => self.err(format!(
                "expected a number or a figure key, found {}",
                self.found()
            )),
        }
    }

    fn sum(&mut self) -> Result<Vec<Term>, ParseError> {
        let mut terms = vec![self.term(false)?];
        loop {
            match self.peek() {
                Some(Tok::Plus) => {
                    self.pos += 1;
                    terms.push(self.term(false)?);
                }
                Some(Tok::Minus) => {
                    self.pos += 1;
                    terms.push(self.term(true)?);
                }
                _ => return Ok(terms),
            }
        }
    }
}

/// Parses a rule expression; the error names the column of the problem.
pub fn parse(input: &str) -> Result<Expression, ParseError> {
    let toks = tokenize(input)?;
    let mut p = Parser {
        toks,
        pos: 0,
        end: input.chars().count() + 1,
    };
    if p.toks.is_empty() {
        return p.err("the expression is empty".into());
    }
    let lhs = p.sum()?;
    let op = match p.peek() {
        Some(Tok::Op(op)) => *op,
        _ => {
            return p.err(format!(
                "expected a comparison (=, <=, >=, <, >), found {}",
                p.found()
            ))
        }
    };
    p.pos += 1;
    let rhs = p.sum()?;
    if p.peek().is_some() {
        let what = match p.peek() {
            Some(Tok::Op(_)) => "a rule has exactly one comparison; found another".to_string(),
            _ => format!("expected '+', '-' or the end, found {}", p.found()),
        };
        return p.err(what);
    }
    Ok(Expression { lhs, op, rhs })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_design_examples() {
        let e = parse("militants.died + militants.captured = militants.entered").unwrap();
        assert_eq!(e.op, Op::Eq);
        assert_eq!(
            e.keys(),
            ["militants.died", "militants.captured", "militants.entered"]
        );
        let e = parse("2 * a.b - 3 >= c").unwrap();
        assert_eq!(e.lhs[0].coefficient, 2);
        assert_eq!(
            e.lhs[1],
            Term {
                coefficient: -3,
                key: None
            }
        );
        assert_eq!(e.to_string(), "2 * a.b - 3 >= c");
        let lin = parse("a + a - b = a").unwrap().linear();
        assert_eq!(lin.terms.get("a"), Some(&1));
        assert_eq!(lin.terms.get("b"), Some(&-1));
    }

    #[test]
    fn errors_name_the_column() {
        let cases = [
            ("", 1, "empty"),
            ("a <= ", 6, "expected a number or a figure key"),
            ("a b", 3, "expected a comparison"),
            ("a + = b", 5, "expected a number or a figure key"),
            ("a = b = c", 7, "exactly one comparison"),
            ("a = 99999999999999999999", 5, "too large"),
            ("a = B", 5, "not a figure key"),
            ("a = b; c", 6, "unexpected character ';'"),
            ("2 * = a", 5, "after '*'"),
            ("a.1x = b", 1, "not a figure key"),
        ];
        for (input, column, text) in cases {
            let e = parse(input).unwrap_err();
            assert_eq!(e.column, column, "{input}: {e}");
            assert!(e.message.contains(text), "{input}: {e}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = parse(&s);
        }

        #[test]
        fn never_panics_on_rule_like_text(s in "[a-c. 0-9+*<>=_-]{0,30}") {
            if let Ok(e) = parse(&s) {
                // What parses prints back to something that parses the same.
                prop_assert_eq!(parse(&e.to_string()).ok(), Some(e));
            }
        }
    }
}
