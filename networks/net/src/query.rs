//! The user's search syntax, parsed into a boolean tree every network can map
//! onto its own query format.
//!
//! Syntax (as in mldonkey and eMule): words are ANDed; `OR` between two terms
//! makes an alternative; `-word` or `NOT word` excludes; `"quoted words"` is one
//! keyword; parentheses group.
//!
//! A query is bounded when it is parsed (length, words, nesting), so every
//! tree walk after it (matching, conversion to a network's format, dropping)
//! recurses a bounded depth whatever a client sends.

use serde::{Deserialize, Serialize};

/// The longest search text, in bytes (eMule's search box and real ed2k
/// servers stop at a few hundred).
pub const MAX_QUERY_BYTES: usize = 1024;
/// Most words and quoted phrases in one search.
pub const MAX_QUERY_TERMS: usize = 64;
/// Deepest nesting of parentheses.
pub const MAX_QUERY_DEPTH: usize = 8;

/// A boolean keyword expression.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum QueryExpr {
    Keyword(String),
    And(Box<QueryExpr>, Box<QueryExpr>),
    Or(Box<QueryExpr>, Box<QueryExpr>),
    /// Left side AND NOT right side (ed2k's NOT is binary).
    AndNot(Box<QueryExpr>, Box<QueryExpr>),
}

impl QueryExpr {
    /// True when a file name matches: keywords match case-insensitively as substrings
    /// of the name's words.
    pub fn matches(&self, name: &str) -> bool {
        let lower = name.to_lowercase();
        self.matches_lower(&lower)
    }

    fn matches_lower(&self, name: &str) -> bool {
        match self {
            QueryExpr::Keyword(k) => k
                .to_lowercase()
                .split_whitespace()
                .all(|w| name.contains(w)),
            QueryExpr::And(a, b) => a.matches_lower(name) && b.matches_lower(name),
            QueryExpr::Or(a, b) => a.matches_lower(name) || b.matches_lower(name),
            QueryExpr::AndNot(a, b) => a.matches_lower(name) && !b.matches_lower(name),
        }
    }

    /// Every positive keyword, for networks that only take a word list.
    pub fn keywords(&self) -> Vec<&str> {
        match self {
            QueryExpr::Keyword(k) => vec![k.as_str()],
            QueryExpr::And(a, b) | QueryExpr::Or(a, b) => {
                let mut v = a.keywords();
                v.extend(b.keywords());
                v
            }
            QueryExpr::AndNot(a, _) => a.keywords(),
        }
    }
}

/// Why a query string could not be parsed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryParseError {
    #[error("the search is empty: type at least one word")]
    Empty,
    #[error("unbalanced parenthesis or quote in the search")]
    Unbalanced,
    #[error("a search needs at least one word that is not excluded")]
    OnlyNegative,
    #[error("'{0}' needs a term on both sides")]
    Dangling(String),
    #[error("the search is longer than {MAX_QUERY_BYTES} bytes")]
    TooLong,
    #[error("the search has more than {MAX_QUERY_TERMS} words")]
    TooManyTerms,
    #[error("the search nests parentheses deeper than {MAX_QUERY_DEPTH}")]
    TooDeep,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Or,
    Not,
    Open,
    Close,
}

/// Splits the text into tokens and checks the bounds on words and nesting.
fn tokenize(s: &str) -> Result<Vec<Tok>, QueryParseError> {
    let toks = split(s)?;
    if toks.iter().filter(|t| matches!(t, Tok::Word(_))).count() > MAX_QUERY_TERMS {
        return Err(QueryParseError::TooManyTerms);
    }
    let mut depth = 0usize;
    for t in &toks {
        match t {
            Tok::Open => depth += 1,
            Tok::Close => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > MAX_QUERY_DEPTH {
            return Err(QueryParseError::TooDeep);
        }
    }
    Ok(toks)
}

fn split(s: &str) -> Result<Vec<Tok>, QueryParseError> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Tok::Open);
            }
            ')' => {
                chars.next();
                out.push(Tok::Close);
            }
            '-' => {
                chars.next();
                out.push(Tok::Not);
            }
            '"' => {
                chars.next();
                let mut w = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some(c) => w.push(c),
                        None => return Err(QueryParseError::Unbalanced),
                    }
                }
                let w = w.split_whitespace().collect::<Vec<_>>().join(" ");
                if !w.is_empty() {
                    out.push(Tok::Word(w));
                }
            }
            _ => {
                let mut w = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || c == '(' || c == ')' || c == '"' {
                        break;
                    }
                    w.push(c);
                    chars.next();
                }
                out.push(match w.as_str() {
                    "OR" | "|" => Tok::Or,
                    "NOT" => Tok::Not,
                    "AND" | "&" => continue,
                    _ => Tok::Word(w),
                });
            }
        }
    }
    Ok(out)
}

/// A term with its polarity, before ANDs are folded.
enum Term {
    Pos(QueryExpr),
    Neg(QueryExpr),
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    /// or := and ("OR" and)*
    fn or(&mut self) -> Result<QueryExpr, QueryParseError> {
        let mut left = self.and()?;
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            let right = self.and()?;
            left = QueryExpr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    /// and := term+ (at least one positive)
    fn and(&mut self) -> Result<QueryExpr, QueryParseError> {
        let mut terms = Vec::new();
        loop {
            match self.peek() {
                None | Some(Tok::Close) => break,
                Some(Tok::Or) if terms.is_empty() => {
                    return Err(QueryParseError::Dangling("OR".into()))
                }
                Some(Tok::Or) => break,
                _ => terms.push(self.term()?),
            }
        }
        let mut pos: Option<QueryExpr> = None;
        let mut negs = Vec::new();
        for t in terms {
            match t {
                Term::Pos(e) => {
                    pos = Some(match pos {
                        None => e,
                        Some(p) => QueryExpr::And(Box::new(p), Box::new(e)),
                    })
                }
                Term::Neg(e) => negs.push(e),
            }
        }
        let Some(mut expr) = pos else {
            return Err(if negs.is_empty() {
                QueryParseError::Empty
            } else {
                QueryParseError::OnlyNegative
            });
        };
        for n in negs {
            expr = QueryExpr::AndNot(Box::new(expr), Box::new(n));
        }
        Ok(expr)
    }

    fn term(&mut self) -> Result<Term, QueryParseError> {
        match self.toks.get(self.pos).cloned() {
            Some(Tok::Not) => {
                self.pos += 1;
                match self.term()? {
                    Term::Pos(e) => Ok(Term::Neg(e)),
                    Term::Neg(_) => Err(QueryParseError::Dangling("NOT".into())),
                }
            }
            Some(Tok::Word(w)) => {
                self.pos += 1;
                Ok(Term::Pos(QueryExpr::Keyword(w)))
            }
            Some(Tok::Open) => {
                self.pos += 1;
                let e = self.or()?;
                if self.peek() != Some(&Tok::Close) {
                    return Err(QueryParseError::Unbalanced);
                }
                self.pos += 1;
                Ok(Term::Pos(e))
            }
            Some(Tok::Close) => Err(QueryParseError::Unbalanced),
            Some(Tok::Or) => Err(QueryParseError::Dangling("OR".into())),
            None => Err(QueryParseError::Dangling("NOT".into())),
        }
    }
}

/// Parses the user's search text into a [`QueryExpr`].
pub fn parse_query(text: &str) -> Result<QueryExpr, QueryParseError> {
    if text.len() > MAX_QUERY_BYTES {
        return Err(QueryParseError::TooLong);
    }
    let toks = tokenize(text)?;
    if toks.is_empty() {
        return Err(QueryParseError::Empty);
    }
    let mut p = Parser { toks, pos: 0 };
    let e = p.or()?;
    if p.pos != p.toks.len() {
        return Err(QueryParseError::Unbalanced);
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ops::Add;

    fn kw(s: &str) -> Box<QueryExpr> {
        Box::new(QueryExpr::Keyword(s.into()))
    }

    #[test]
    fn words_and() {
        assert_eq!(
            parse_query("ubuntu iso").unwrap(),
            QueryExpr::And(kw("ubuntu"), kw("iso"))
        );
    }

    #[test]
    fn or_and_not() {
        assert_eq!(
            parse_query("a OR b -c").unwrap(),
            QueryExpr::Or(kw("a"), Box::new(QueryExpr::AndNot(kw("b"), kw("c"))))
        );
        assert_eq!(
            parse_query("(a OR b) NOT c").unwrap(),
            QueryExpr::AndNot(Box::new(QueryExpr::Or(kw("a"), kw("b"))), kw("c"))
        );
        assert_eq!(parse_query("\"big  file\"").unwrap(), *kw("big file"));
    }

    #[test]
    fn errors() {
        assert_eq!(parse_query("  "), Err(QueryParseError::Empty));
        assert_eq!(parse_query("-a"), Err(QueryParseError::OnlyNegative));
        assert_eq!(parse_query("(a"), Err(QueryParseError::Unbalanced));
        assert_eq!(parse_query("a)"), Err(QueryParseError::Unbalanced));
        assert!(parse_query("OR a").is_err());
        assert!(parse_query("a OR").is_err());
        assert!(parse_query("\"a").is_err());
    }

    #[test]
    fn hostile_queries_are_refused_before_any_tree_is_built() {
        // Each of these overflowed the stack of the whole daemon once.
        let deep = format!("{}a{}", "(".repeat(20_000), ")".repeat(20_000));
        assert_eq!(parse_query(&deep), Err(QueryParseError::TooLong));
        let nested = format!("{}a{}", "(".repeat(9), ")".repeat(9));
        assert_eq!(parse_query(&nested), Err(QueryParseError::TooDeep));
        let ok = format!("{}a{}", "(".repeat(8), ")".repeat(8));
        assert_eq!(parse_query(&ok).unwrap(), *kw("a"));
        assert_eq!(
            parse_query(&"a ".repeat(30_000)),
            Err(QueryParseError::TooLong)
        );
        assert_eq!(
            parse_query(&"a ".repeat(65)),
            Err(QueryParseError::TooManyTerms)
        );
        // The largest accepted query is walked and dropped without trouble.
        let q = parse_query(&"a OR ".repeat(63).add("b")).unwrap();
        assert_eq!(q.keywords().len(), 64);
        assert!(q.matches("b"));
    }

    #[test]
    fn matching() {
        let q = parse_query("ubuntu -beta").unwrap();
        assert!(q.matches("Ubuntu-24.04.iso"));
        assert!(!q.matches("ubuntu-beta.iso"));
        assert_eq!(parse_query("a OR b").unwrap().keywords(), vec!["a", "b"]);
    }
}
