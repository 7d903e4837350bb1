//! The Torznab answer to a search: an RSS 2.0 document whose `<item>`s carry
//! `<title>`, `<size>`, `<link>`, `<enclosure url length>` and
//! `<torznab:attr name value>` elements (`infohash`, `magneturl`, `size`,
//! `seeders`, `peers`), or an `<error code description>` element.
//!
//! Sans-IO: [`parse_feed`] reads a string (the caller bounds its length) and
//! never panics; every kept text is cut to [`MAX_TEXT`] bytes and at most
//! [`MAX_ITEMS`] items are read.

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::{Decoder, Reader, XmlVersion};
use swarmux_net::names::cut_at_char;

/// Most items read from one feed (the rest are ignored).
pub const MAX_ITEMS: usize = 1000;
/// Longest text kept from one element or attribute (longer ones are cut).
pub const MAX_TEXT: usize = 64 * 1024;

/// One `<item>` of a Torznab feed, as found (nothing checked yet).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FeedItem {
    /// `<title>`.
    pub title: String,
    /// `<size>`, else `torznab:attr size`, else the enclosure's `length`.
    pub size: Option<u64>,
    /// `<link>` (a .torrent URL, or a magnet link on magnet-only indexers).
    pub link: Option<String>,
    /// `<enclosure url>`.
    pub enclosure: Option<String>,
    /// `torznab:attr infohash`, as written (hex, or base32).
    pub info_hash: Option<String>,
    /// `torznab:attr magneturl`.
    pub magnet: Option<String>,
    /// `torznab:attr seeders`.
    pub seeders: Option<u32>,
    /// `torznab:attr peers` (seeders and leechers).
    pub peers: Option<u32>,
}

/// Why a feed gave no items.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    #[error("the indexer answered error {code}: {description}")]
    Indexer { code: String, description: String },
    #[error("not an RSS feed (no <rss> or <channel> element)")]
    NotRss,
    #[error("malformed XML at byte {position}: {message}")]
    Xml { position: u64, message: String },
}

/// The item child whose text is being read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Title,
    Size,
    Link,
}

/// Parser state between events.
#[derive(Default)]
struct State {
    items: Vec<FeedItem>,
    /// The item being read.
    item: Option<FeedItem>,
    /// Element depth (open start tags).
    depth: usize,
    /// Depth of the current item's start tag.
    item_depth: usize,
    /// The field being read, and the text so far.
    field: Option<(Field, String)>,
    /// `<size>` text, kept apart: it wins over the attr and the enclosure.
    size_element: Option<u64>,
    size_attr: Option<u64>,
    enclosure_length: Option<u64>,
    seen_rss: bool,
}

/// Reads the items of a Torznab (or plain RSS) feed.
pub fn parse_feed(xml: &str) -> Result<Vec<FeedItem>, FeedError> {
    let mut reader = Reader::from_str(xml);
    {
        let c = reader.config_mut();
        c.allow_dangling_amp = true;
        c.check_end_names = false;
        c.check_comments = false;
    }
    let mut st = State::default();
    loop {
        let event = reader.read_event().map_err(|e| FeedError::Xml {
            position: reader.error_position(),
            message: e.to_string(),
        })?;
        let decoder = reader.decoder();
        match event {
            Event::Start(e) => {
                st.open(&e, false, decoder)?;
                st.depth += 1;
            }
            Event::Empty(e) => st.open(&e, true, decoder)?,
            Event::End(_) => {
                st.depth = st.depth.saturating_sub(1);
                st.close();
            }
            Event::Text(t) => {
                if let Ok(s) = t.decode() {
                    st.text(&s);
                }
            }
            Event::CData(c) => {
                if let Ok(s) = c.decode() {
                    st.text(&s);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(s) = resolve_ref(&r) {
                    st.text(&s);
                }
            }
            Event::Eof => break,
            _ => {}
        }
        if st.items.len() >= MAX_ITEMS {
            break;
        }
    }
    if !st.seen_rss {
        return Err(FeedError::NotRss);
    }
    Ok(st.items)
}

/// The text a `&name;` or `&#N;` reference stands for.
fn resolve_ref(r: &BytesRef<'_>) -> Option<String> {
    if let Ok(Some(c)) = r.resolve_char_ref() {
        return Some(c.to_string());
    }
    let name = r.decode().ok()?;
    resolve_predefined_entity(&name).map(str::to_string)
}

/// `s` cut to at most [`MAX_TEXT`] bytes, on a character boundary.
fn capped(s: &str) -> &str {
    cut_at_char(s, MAX_TEXT)
}

/// The value of attribute `key` of `e`, if present and readable.
fn attr(e: &BytesStart<'_>, key: &str, decoder: Decoder) -> Option<String> {
    let a = e.try_get_attribute(key).ok()??;
    let v = a
        .decoded_and_normalized_value(XmlVersion::Implicit1_0, decoder)
        .ok()?;
    Some(capped(v.trim()).to_string())
}

fn number<T: std::str::FromStr>(s: &str) -> Option<T> {
    s.trim().parse().ok()
}

impl State {
    /// A start tag, or an `empty` one (`<x/>`, no text follows), at the current depth.
    fn open(&mut self, e: &BytesStart<'_>, empty: bool, decoder: Decoder) -> Result<(), FeedError> {
        let local = e.local_name();
        let name = local.as_ref();
        if self.depth == 0 {
            if name.eq_ignore_ascii_case(b"error") {
                return Err(FeedError::Indexer {
                    code: attr(e, "code", decoder).unwrap_or_default(),
                    description: attr(e, "description", decoder).unwrap_or_default(),
                });
            }
            if name.eq_ignore_ascii_case(b"rss") || name.eq_ignore_ascii_case(b"channel") {
                self.seen_rss = true;
            }
            return Ok(());
        }
        if name == b"item" && !empty && self.item.is_none() {
            self.item = Some(FeedItem::default());
            self.item_depth = self.depth;
            self.size_element = None;
            self.size_attr = None;
            self.enclosure_length = None;
            return Ok(());
        }
        let Some(item) = self.item.as_mut() else {
            return Ok(());
        };
        if self.depth != self.item_depth + 1 {
            return Ok(());
        }
        match name {
            b"title" if !empty => self.field = Some((Field::Title, String::new())),
            b"size" if !empty => self.field = Some((Field::Size, String::new())),
            b"link" if !empty => self.field = Some((Field::Link, String::new())),
            b"enclosure" => {
                item.enclosure = attr(e, "url", decoder).filter(|u| !u.is_empty());
                self.enclosure_length = attr(e, "length", decoder).and_then(|l| number(&l));
            }
            b"attr" => {
                let (Some(key), Some(value)) =
                    (attr(e, "name", decoder), attr(e, "value", decoder))
                else {
                    return Ok(());
                };
                match key.to_ascii_lowercase().as_str() {
                    "infohash" => item.info_hash = Some(value),
                    "magneturl" => item.magnet = Some(value).filter(|v| !v.is_empty()),
                    "size" => self.size_attr = number(&value),
                    "seeders" => item.seeders = number(&value),
                    "peers" => item.peers = number(&value),
                    _ => {}
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Text inside the current element.
    fn text(&mut self, s: &str) {
        if let Some((_, buf)) = self.field.as_mut() {
            let room = MAX_TEXT.saturating_sub(buf.len());
            if room > 0 {
                buf.push_str(cut_at_char(s, room));
            }
        }
    }

    /// An end tag; the depth is already that of the closed element's parent.
    fn close(&mut self) {
        let Some(item) = self.item.as_mut() else {
            return;
        };
        if self.depth == self.item_depth + 1 {
            if let Some((field, text)) = self.field.take() {
                let text = text.trim();
                match field {
                    Field::Title => item.title = text.to_string(),
                    Field::Size => self.size_element = number(text),
                    Field::Link => item.link = Some(text.to_string()).filter(|t| !t.is_empty()),
                }
            }
        } else if self.depth == self.item_depth {
            if let Some(mut item) = self.item.take() {
                item.size = self
                    .size_element
                    .or(self.size_attr)
                    .or(self.enclosure_length);
                self.items.push(item);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FEED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:torznab="http://torznab.com/schemas/2015/feed">
  <channel>
    <title>AggregateSearch</title>
    <item>
      <title>Big &amp; Small <![CDATA[<Film>]]> &#x41;</title>
      <guid>http://127.0.0.1/details/1</guid>
      <link>http://127.0.0.1/dl/1.torrent?a=1&amp;b=2</link>
      <size>1234</size>
      <enclosure url="http://127.0.0.1/dl/1.torrent" length="99" type="application/x-bittorrent" />
      <torznab:attr name="seeders" value="7" />
      <torznab:attr name="peers" value="9" />
      <torznab:attr name="infohash" value="0123456789abcdef0123456789abcdef01234567" />
      <torznab:attr name="magneturl" value="magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&amp;tr=x" />
    </item>
    <item>
      <title>Only enclosure</title>
      <enclosure url="http://127.0.0.1/dl/2.torrent" length="55" />
    </item>
    <item>
      <title>Attr size</title>
      <torznab:attr name="size" value="77" />
      <enclosure url="http://127.0.0.1/dl/3.torrent" length="55" />
    </item>
  </channel>
</rss>"#;

    #[test]
    fn reads_jackett_shaped_items() {
        let items = parse_feed(FEED).unwrap();
        assert_eq!(items.len(), 3);
        let a = &items[0];
        assert_eq!(a.title, "Big & Small <Film> A");
        assert_eq!(a.size, Some(1234));
        assert_eq!(
            a.link.as_deref(),
            Some("http://127.0.0.1/dl/1.torrent?a=1&b=2")
        );
        assert_eq!(
            a.enclosure.as_deref(),
            Some("http://127.0.0.1/dl/1.torrent")
        );
        assert_eq!((a.seeders, a.peers), (Some(7), Some(9)));
        assert_eq!(
            a.info_hash.as_deref(),
            Some("0123456789abcdef0123456789abcdef01234567")
        );
        assert!(a.magnet.as_deref().unwrap().ends_with("&tr=x"));
        assert_eq!(items[1].size, Some(55));
        assert_eq!(items[1].link, None);
        assert_eq!(items[2].size, Some(77));
    }

    #[test]
    fn errors_and_non_feeds() {
        assert_eq!(
            parse_feed(r#"<?xml version="1.0"?><error code="100" description="Invalid API Key"/>"#),
            Err(FeedError::Indexer {
                code: "100".into(),
                description: "Invalid API Key".into()
            })
        );
        assert_eq!(parse_feed("garbage"), Err(FeedError::NotRss));
        assert_eq!(parse_feed(""), Err(FeedError::NotRss));
        assert_eq!(
            parse_feed("<html><body>x</body></html>"),
            Err(FeedError::NotRss)
        );
        assert!(matches!(
            parse_feed("<rss><channel><item><title"),
            Err(FeedError::Xml { .. })
        ));
        assert_eq!(parse_feed("<rss></rss>"), Ok(vec![]));
    }

    #[test]
    fn hostile_shapes_are_bounded() {
        let mut many = String::from("<rss><channel>");
        for _ in 0..MAX_ITEMS + 50 {
            many.push_str("<item><title>x</title></item>");
        }
        assert_eq!(parse_feed(&many).unwrap().len(), MAX_ITEMS);
        let long = format!(
            "<rss><item><title>{}</title></item></rss>",
            "é".repeat(MAX_TEXT)
        );
        let items = parse_feed(&long).unwrap();
        assert!(items[0].title.len() <= MAX_TEXT);
        // nested items, unclosed items, items outside a channel, deep nesting
        let odd = format!(
            "<rss><item><item><title>in</title></item><title>t</title>{}",
            "<a>".repeat(10_000)
        );
        let items = parse_feed(&odd).unwrap_or_default();
        assert!(items.len() <= 1);
        // an empty <title/> does not swallow the next element's text
        let items =
            parse_feed("<rss><item><title/><guid>g</guid><size>5</size></item></rss>").unwrap();
        assert_eq!((items[0].title.as_str(), items[0].size), ("", Some(5)));
        assert!(parse_feed(
            "<rss><item><size>-5</size><size>99999999999999999999999</size></item></rss>"
        )
        .unwrap()[0]
            .size
            .is_none());
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in ".{0,400}") {
            let _ = parse_feed(&s);
        }

        #[test]
        fn arbitrary_tags_never_panic(parts in proptest::collection::vec(
            prop_oneof![
                Just("<rss>"), Just("<item>"), Just("</item>"), Just("<title>"),
                Just("</title>"), Just("<size>12</size>"), Just("<![CDATA[x"),
                Just("]]>"), Just("&amp;"), Just("&#0;"), Just("&#xFFFFFFFF;"),
                Just("&bogus;"), Just("<torznab:attr name=\"size\" value=\"3\"/>"),
                Just("<enclosure url='u' length='x'/>"), Just("</rss>"), Just("<"),
                Just("<!--"), Just("\u{0}"), Just("é"),
            ],
            0..40,
        )) {
            let _ = parse_feed(&parts.concat());
        }
    }
}
