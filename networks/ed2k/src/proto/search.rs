//! The ed2k search tree carried by OP_SEARCHREQUEST, and how a server
//! evaluates it against a file.
//!
//! Wire format (prefix notation, as eMule's `CSearchExprTarget` writes it):
//! - `0x00 op left right`: boolean node, op 0x00 AND, 0x01 OR, 0x02 NOT
//!   (NOT is binary: left AND NOT right);
//! - `0x01 string16`: keyword;
//! - `0x02 string16(value) name`: string meta tag, e.g. type (0x03) "Video",
//!   format (0x04) "mkv";
//! - `0x03 u32 op(1) name` / `0x08 u64 op(1) name`: numeric constraint, e.g.
//!   size (0x02) >= value. Operators are eMule's `ED2K_SEARCH_OP_*`: 0 `=`,
//!   1 `>`, 2 `<`, 3 `>=`, 4 `<=`, 5 `!=`. eMule sends min/max size as `>=`/`<=`
//!   (only old "dserver" understood just 1 and 2).
//!
//! A meta tag name is written `u16 length, bytes`, a 1-byte name being an id.
//!
//! A tree read from the wire is bounded when it is parsed (bytes, terms,
//! depth), so every walk of it (matching, encoding, dropping) is bounded
//! too; a server matches many files with a [`Matcher`], which splits the
//! keywords into words once and says what each match costs.

use super::reader::{Ed2kRead, PutExt, ReadError, Reader};
use super::tag::{ids, TagName};
use swarmux_net::{FileKind, QueryExpr, SearchRequest};

/// Largest OP_SEARCHREQUEST payload accepted. What swarmux sends for its
/// longest query (`MAX_QUERY_BYTES` of words plus type, size and extension)
/// stays well under it; eMule's search box gives a few hundred bytes.
pub const MAX_SEARCH_BYTES: usize = 4096;
/// Most leaves (keywords and constraints) in a tree: twice what swarmux
/// sends at most (`MAX_QUERY_TERMS` words and four constraints).
pub const MAX_SEARCH_TERMS: usize = 2 * swarmux_net::query::MAX_QUERY_TERMS;
/// Deepest tree accepted (a chain of n leaves is n - 1 deep, so this bounds
/// only nesting that adds no leaves, which the leaf count cannot see).
pub const MAX_SEARCH_DEPTH: usize = MAX_SEARCH_TERMS;

/// Numeric comparison operator (`ED2K_SEARCH_OP_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumOp {
    Equal = 0,
    Greater = 1,
    Less = 2,
    GreaterEqual = 3,
    LessEqual = 4,
    NotEqual = 5,
}

impl NumOp {
    /// The operator for a wire byte.
    pub fn from_u8(b: u8) -> Option<NumOp> {
        Some(match b {
            0 => NumOp::Equal,
            1 => NumOp::Greater,
            2 => NumOp::Less,
            3 => NumOp::GreaterEqual,
            4 => NumOp::LessEqual,
            5 => NumOp::NotEqual,
            _ => return None,
        })
    }

    /// `have OP want`.
    pub fn test(self, have: u64, want: u64) -> bool {
        match self {
            NumOp::Equal => have == want,
            NumOp::Greater => have > want,
            NumOp::Less => have < want,
            NumOp::GreaterEqual => have >= want,
            NumOp::LessEqual => have <= want,
            NumOp::NotEqual => have != want,
        }
    }
}

/// A search expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SearchTree {
    And(Box<SearchTree>, Box<SearchTree>),
    Or(Box<SearchTree>, Box<SearchTree>),
    /// Left AND NOT right.
    AndNot(Box<SearchTree>, Box<SearchTree>),
    Keyword(String),
    /// A string attribute equal to `value` (case-insensitive).
    MetaStr {
        tag: TagName,
        value: String,
    },
    /// A numeric attribute compared with `value`; encoded as u32 when it fits.
    Numeric {
        tag: TagName,
        op: NumOp,
        value: u64,
    },
}

/// The facts about a file a search tree is evaluated against.
#[derive(Clone, Copy, Debug)]
pub struct SearchFile<'a> {
    pub name: &'a str,
    pub size: u64,
    /// ed2k type name ("Video", "Pro", ...), empty when unknown.
    pub file_type: &'a str,
    /// Extension without the dot.
    pub ext: &'a str,
    pub sources: u32,
    pub complete_sources: u32,
}

/// The ed2k type name eMule uses for a kind (`ED2KFTSTR_*`); `None` for Any.
pub fn ed2k_type_name(kind: FileKind) -> Option<&'static str> {
    Some(match kind {
        FileKind::Audio => "Audio",
        FileKind::Video => "Video",
        FileKind::Image => "Image",
        FileKind::Program => "Pro",
        FileKind::Document => "Doc",
        FileKind::Archive => "Arc",
        FileKind::Iso => "Iso",
        FileKind::Any => return None,
    })
}

/// The kind for an ed2k type name (case-insensitive).
pub fn kind_from_ed2k_type(name: &str) -> Option<FileKind> {
    FileKind::ALL
        .into_iter()
        .find(|k| ed2k_type_name(*k).is_some_and(|n| n.eq_ignore_ascii_case(name)))
}

/// Lowercase alphanumeric words of a file name or keyword: the unit of keyword
/// matching and of the server's word index.
pub fn name_words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .collect()
}

fn expr_to_tree(e: &QueryExpr) -> SearchTree {
    let b = |e: &QueryExpr| Box::new(expr_to_tree(e));
    match e {
        QueryExpr::Keyword(k) => SearchTree::Keyword(k.clone()),
        QueryExpr::And(a, c) => SearchTree::And(b(a), b(c)),
        QueryExpr::Or(a, c) => SearchTree::Or(b(a), b(c)),
        QueryExpr::AndNot(a, c) => SearchTree::AndNot(b(a), b(c)),
    }
}

/// Builds the tree eMule would send for a request: the keyword expression
/// ANDed with type, size and extension constraints.
pub fn tree_from_request(req: &SearchRequest) -> SearchTree {
    let mut tree = expr_to_tree(&req.expr);
    let mut and = |t: SearchTree| {
        let left = std::mem::replace(&mut tree, SearchTree::Keyword(String::new()));
        tree = SearchTree::And(Box::new(left), Box::new(t));
    };
    if let Some(name) = req.kind.and_then(ed2k_type_name) {
        and(SearchTree::MetaStr {
            tag: TagName::Id(ids::TYPE),
            value: name.into(),
        });
    }
    if let Some(min) = req.min_size.filter(|m| *m > 0) {
        and(SearchTree::Numeric {
            tag: TagName::Id(ids::SIZE),
            op: NumOp::GreaterEqual,
            value: min,
        });
    }
    if let Some(max) = req.max_size {
        and(SearchTree::Numeric {
            tag: TagName::Id(ids::SIZE),
            op: NumOp::LessEqual,
            value: max,
        });
    }
    if let Some(ext) = req.extension.as_ref().filter(|e| !e.is_empty()) {
        and(SearchTree::MetaStr {
            tag: TagName::Id(ids::FORMAT),
            value: ext.trim_start_matches('.').to_string(),
        });
    }
    tree
}

fn put_name(out: &mut Vec<u8>, name: &TagName) {
    match name {
        TagName::Id(id) => {
            out.put_u16(1);
            out.put_u8(*id);
        }
        TagName::Str(s) => out.put_string16(s),
    }
}

fn read_name(r: &mut Reader<'_>) -> Result<TagName, ReadError> {
    let n = r.u16_le()? as usize;
    let raw = r.bytes(n)?;
    Ok(match raw {
        [id] => TagName::Id(*id),
        _ => TagName::Str(super::reader::decode_str(raw)),
    })
}

impl SearchTree {
    /// Appends the wire form.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            SearchTree::And(a, b) | SearchTree::Or(a, b) | SearchTree::AndNot(a, b) => {
                out.put_u8(0x00);
                out.put_u8(match self {
                    SearchTree::And(..) => 0x00,
                    SearchTree::Or(..) => 0x01,
                    _ => 0x02,
                });
                a.encode(out);
                b.encode(out);
            }
            SearchTree::Keyword(k) => {
                out.put_u8(0x01);
                out.put_string16(k);
            }
            SearchTree::MetaStr { tag, value } => {
                out.put_u8(0x02);
                out.put_string16(value);
                put_name(out, tag);
            }
            SearchTree::Numeric { tag, op, value } => {
                match u32::try_from(*value) {
                    Ok(v) => {
                        out.put_u8(0x03);
                        out.put_u32(v);
                    }
                    Err(_) => {
                        out.put_u8(0x08);
                        out.put_u64(*value);
                    }
                }
                out.put_u8(*op as u8);
                put_name(out, tag);
            }
        }
    }

    /// The wire form as a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(&mut v);
        v
    }

    /// Reads a tree, refusing one deeper than [`MAX_SEARCH_DEPTH`] or with
    /// more than [`MAX_SEARCH_TERMS`] leaves with [`ReadError::TooLarge`]
    /// (the caller bounds the bytes, see [`MAX_SEARCH_BYTES`]).
    pub fn decode(r: &mut Reader<'_>) -> Result<SearchTree, ReadError> {
        let mut leaves = 0;
        Self::decode_at(r, 0, &mut leaves)
    }

    fn decode_at(
        r: &mut Reader<'_>,
        depth: usize,
        leaves: &mut usize,
    ) -> Result<SearchTree, ReadError> {
        if depth > MAX_SEARCH_DEPTH {
            return Err(ReadError::TooLarge(format!(
                "search tree deeper than {MAX_SEARCH_DEPTH}"
            )));
        }
        let node = r.u8()?;
        if node != 0x00 {
            *leaves += 1;
            if *leaves > MAX_SEARCH_TERMS {
                return Err(ReadError::TooLarge(format!(
                    "search tree with more than {MAX_SEARCH_TERMS} terms"
                )));
            }
        }
        Ok(match node {
            0x00 => {
                let op = r.u8()?;
                if op > 0x02 {
                    return Err(ReadError::invalid(format!("unknown boolean op {op}")));
                }
                let a = Box::new(Self::decode_at(r, depth + 1, leaves)?);
                let b = Box::new(Self::decode_at(r, depth + 1, leaves)?);
                match op {
                    0x00 => SearchTree::And(a, b),
                    0x01 => SearchTree::Or(a, b),
                    _ => SearchTree::AndNot(a, b),
                }
            }
            0x01 => SearchTree::Keyword(r.string16()?),
            0x02 => {
                let value = r.string16()?;
                SearchTree::MetaStr {
                    tag: read_name(r)?,
                    value,
                }
            }
            t @ (0x03 | 0x08) => {
                let value = if t == 0x03 {
                    r.u32_le()?.into()
                } else {
                    r.u64_le()?
                };
                let op = r.u8()?;
                let op = NumOp::from_u8(op)
                    .ok_or_else(|| ReadError::invalid(format!("unknown comparison {op}")))?;
                SearchTree::Numeric {
                    tag: read_name(r)?,
                    op,
                    value,
                }
            }
            t => return Err(ReadError::invalid(format!("unknown search node 0x{t:02X}"))),
        })
    }

    /// Evaluates the tree against one file (see [`Matcher`] for many).
    pub fn matches(&self, f: &SearchFile<'_>) -> bool {
        Matcher::new(self).matches(f, &name_words(f.name))
    }
}

/// A search tree prepared for matching: keywords split into words once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Matcher {
    And(Box<Matcher>, Box<Matcher>),
    Or(Box<Matcher>, Box<Matcher>),
    AndNot(Box<Matcher>, Box<Matcher>),
    /// Each word must be a prefix of some word of the name; no words match
    /// nothing.
    Keyword(Vec<String>),
    /// The ed2k type name, case-insensitive.
    Type(String),
    /// The extension without the dot, case-insensitive.
    Format(String),
    Size(NumOp, u64),
    Sources(NumOp, u64),
    CompleteSources(NumOp, u64),
    /// An attribute no file has.
    Never,
}

impl Matcher {
    /// Prepares `tree`.
    pub fn new(tree: &SearchTree) -> Matcher {
        let b = |t: &SearchTree| Box::new(Matcher::new(t));
        match tree {
            SearchTree::And(a, c) => Matcher::And(b(a), b(c)),
            SearchTree::Or(a, c) => Matcher::Or(b(a), b(c)),
            SearchTree::AndNot(a, c) => Matcher::AndNot(b(a), b(c)),
            SearchTree::Keyword(k) => Matcher::Keyword(name_words(k)),
            SearchTree::MetaStr { tag, value } => match tag {
                TagName::Id(ids::TYPE) => Matcher::Type(value.clone()),
                TagName::Id(ids::FORMAT) => {
                    Matcher::Format(value.trim_start_matches('.').to_string())
                }
                _ => Matcher::Never,
            },
            SearchTree::Numeric { tag, op, value } => match tag {
                TagName::Id(ids::SIZE) => Matcher::Size(*op, *value),
                TagName::Id(ids::SOURCES) => Matcher::Sources(*op, *value),
                TagName::Id(ids::COMPLETE_SOURCES) => Matcher::CompleteSources(*op, *value),
                _ => Matcher::Never,
            },
        }
    }

    /// True when the file matches; `words` are [`name_words`] of its name.
    /// A keyword matches when each of its words is a prefix of some word of
    /// the name (case-insensitive). Attributes the file does not have never
    /// match.
    pub fn matches(&self, f: &SearchFile<'_>, words: &[String]) -> bool {
        match self {
            Matcher::And(a, b) => a.matches(f, words) && b.matches(f, words),
            Matcher::Or(a, b) => a.matches(f, words) || b.matches(f, words),
            Matcher::AndNot(a, b) => a.matches(f, words) && !b.matches(f, words),
            Matcher::Keyword(kw) => {
                !kw.is_empty()
                    && kw
                        .iter()
                        .all(|k| words.iter().any(|w| w.starts_with(k.as_str())))
            }
            Matcher::Type(t) => f.file_type.eq_ignore_ascii_case(t),
            Matcher::Format(e) => f.ext.eq_ignore_ascii_case(e),
            Matcher::Size(op, v) => op.test(f.size, *v),
            Matcher::Sources(op, v) => op.test(f.sources.into(), *v),
            Matcher::CompleteSources(op, v) => op.test(f.complete_sources.into(), *v),
            Matcher::Never => false,
        }
    }

    /// An upper bound of the work of [`Self::matches`] for a name of
    /// `name_words` words, in word comparisons and nodes visited.
    pub fn cost(&self, name_words: usize) -> u64 {
        match self {
            Matcher::And(a, b) | Matcher::Or(a, b) | Matcher::AndNot(a, b) => {
                1 + a.cost(name_words) + b.cost(name_words)
            }
            Matcher::Keyword(kw) => 1 + (kw.len() * name_words) as u64,
            _ => 1,
        }
    }

    /// True when the matcher compares complete-source counts (which cost a
    /// walk over a file's sources to know).
    pub fn needs_complete_sources(&self) -> bool {
        match self {
            Matcher::And(a, b) | Matcher::Or(a, b) | Matcher::AndNot(a, b) => {
                a.needs_complete_sources() || b.needs_complete_sources()
            }
            Matcher::CompleteSources(..) => true,
            _ => false,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use swarmux_net::parse_query;

    fn file<'a>(name: &'a str, size: u64, ty: &'a str, ext: &'a str) -> SearchFile<'a> {
        SearchFile {
            name,
            size,
            file_type: ty,
            ext,
            sources: 1,
            complete_sources: 1,
        }
    }

    #[test]
    fn known_bytes() {
        let t = SearchTree::And(
            Box::new(SearchTree::Keyword("ab".into())),
            Box::new(SearchTree::Numeric {
                tag: TagName::Id(ids::SIZE),
                op: NumOp::GreaterEqual,
                value: 5,
            }),
        );
        assert_eq!(
            t.to_bytes(),
            vec![0, 0, 1, 2, 0, b'a', b'b', 3, 5, 0, 0, 0, 3, 1, 0, 2]
        );
        let m = SearchTree::MetaStr {
            tag: TagName::Id(ids::TYPE),
            value: "Video".into(),
        };
        assert_eq!(m.to_bytes(), b"\x02\x05\x00Video\x01\x00\x03".to_vec());
        let big = SearchTree::Numeric {
            tag: TagName::Id(ids::SIZE),
            op: NumOp::LessEqual,
            value: 1 << 33,
        };
        assert_eq!(big.to_bytes()[0], 0x08);
        assert_eq!(
            SearchTree::decode(&mut Reader::new(&big.to_bytes())).unwrap(),
            big
        );
    }

    #[test]
    fn from_request_and_match() {
        let req = SearchRequest {
            id: 1,
            text: String::new(),
            expr: parse_query("ubuntu -beta").unwrap(),
            min_size: Some(100),
            max_size: Some(1000),
            kind: Some(FileKind::Iso),
            extension: Some("iso".into()),
        };
        let t = tree_from_request(&req);
        let rt = SearchTree::decode(&mut Reader::new(&t.to_bytes())).unwrap();
        assert_eq!(rt, t);
        assert!(t.matches(&file("Ubuntu-24.04-desktop.iso", 500, "Iso", "iso")));
        assert!(!t.matches(&file("ubuntu-beta.iso", 500, "Iso", "iso")));
        assert!(!t.matches(&file("ubuntu.iso", 50, "Iso", "iso")));
        assert!(!t.matches(&file("ubuntu.iso", 5000, "Iso", "iso")));
        assert!(!t.matches(&file("ubuntu.img", 500, "Iso", "img")));
        assert!(!t.matches(&file("ubuntu.iso", 500, "Pro", "iso")));
        assert!(!t.matches(&file("kubuntu.iso", 500, "Iso", "iso")));
        assert!(SearchTree::Keyword("ubu".into()).matches(&file("ubuntu.iso", 1, "", "iso")));
        assert!(!SearchTree::Keyword(" - ".into()).matches(&file("a-b", 1, "", "")));
        assert_eq!(kind_from_ed2k_type("pro"), Some(FileKind::Program));
    }

    #[test]
    fn deep_or_wide_trees_are_refused() {
        let mut v = vec![];
        for _ in 0..10_000 {
            v.extend([0, 0]);
        }
        let e = SearchTree::decode(&mut Reader::new(&v)).unwrap_err();
        assert_eq!(e, ReadError::TooLarge("search tree deeper than 128".into()));
        // A balanced OR tree: shallow, but too many terms.
        let k = |_| "k".to_string();
        let wide = balanced_or(MAX_SEARCH_TERMS + 1, &k).to_bytes();
        let e = SearchTree::decode(&mut Reader::new(&wide)).unwrap_err();
        assert_eq!(
            e,
            ReadError::TooLarge("search tree with more than 128 terms".into())
        );
        let ok = balanced_or(MAX_SEARCH_TERMS, &k);
        assert_eq!(
            SearchTree::decode(&mut Reader::new(&ok.to_bytes())).unwrap(),
            ok
        );
    }

    #[test]
    fn the_largest_query_swarmux_sends_is_accepted() {
        let words: Vec<String> = (0..swarmux_net::query::MAX_QUERY_TERMS)
            .map(|i| format!("w{i:02}"))
            .collect();
        let req = SearchRequest {
            id: 1,
            text: String::new(),
            expr: parse_query(&words.join(" ")).unwrap(),
            min_size: Some(1),
            max_size: Some(1 << 40),
            kind: Some(FileKind::Video),
            extension: Some("mkv".into()),
        };
        let t = tree_from_request(&req);
        let bytes = t.to_bytes();
        assert!(bytes.len() <= MAX_SEARCH_BYTES, "{}", bytes.len());
        assert_eq!(SearchTree::decode(&mut Reader::new(&bytes)).unwrap(), t);
    }

    #[test]
    fn matcher_agrees_and_costs() {
        let t = SearchTree::AndNot(
            Box::new(SearchTree::Keyword("big file".into())),
            Box::new(SearchTree::Keyword("sample".into())),
        );
        let m = Matcher::new(&t);
        let f = file("Big File.mkv", 1, "Video", "mkv");
        assert!(m.matches(&f, &name_words(f.name)));
        assert!(!m.matches(
            &file("big sample file", 1, "", ""),
            &name_words("big sample file")
        ));
        // Two keyword words and one against three name words, three nodes.
        assert_eq!(m.cost(3), 3 + 2 * 3 + 3);
        assert!(!m.needs_complete_sources());
    }

    /// A balanced OR tree of `n` keywords, the `i`th being `word(i)`.
    pub(crate) fn balanced_or(n: usize, word: &dyn Fn(usize) -> String) -> SearchTree {
        fn build(range: std::ops::Range<usize>, word: &dyn Fn(usize) -> String) -> SearchTree {
            if range.len() == 1 {
                return SearchTree::Keyword(word(range.start));
            }
            let mid = range.start + range.len() / 2;
            SearchTree::Or(
                Box::new(build(range.start..mid, word)),
                Box::new(build(mid..range.end, word)),
            )
        }
        build(0..n.max(1), word)
    }

    pub(crate) fn arb_tree() -> impl Strategy<Value = SearchTree> {
        let name = prop_oneof![
            any::<u8>().prop_map(TagName::Id),
            "[a-z]{2,6}".prop_map(TagName::Str)
        ];
        let leaf = prop_oneof![
            "[a-z ]{0,12}".prop_map(SearchTree::Keyword),
            (name.clone(), "[A-Za-z]{0,8}")
                .prop_map(|(tag, value)| SearchTree::MetaStr { tag, value }),
            (name, 0u8..6, any::<u64>()).prop_map(|(tag, op, value)| SearchTree::Numeric {
                tag,
                op: NumOp::from_u8(op).unwrap_or(NumOp::Equal),
                value
            }),
        ];
        leaf.prop_recursive(6, 40, 2, |inner| {
            (0u8..3, inner.clone(), inner).prop_map(|(op, a, b)| {
                let (a, b) = (Box::new(a), Box::new(b));
                match op {
                    0 => SearchTree::And(a, b),
                    1 => SearchTree::Or(a, b),
                    _ => SearchTree::AndNot(a, b),
                }
            })
        })
    }

    proptest! {
        #[test]
        fn roundtrip(t in arb_tree()) {
            let bytes = t.to_bytes();
            let mut r = Reader::new(&bytes);
            prop_assert_eq!(SearchTree::decode(&mut r).unwrap(), t);
            prop_assert!(r.is_empty());
        }

        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(t) = SearchTree::decode(&mut Reader::new(&data)) {
                let _ = t.matches(&file("a b c", 1, "Video", "mkv"));
            }
        }
    }
}
