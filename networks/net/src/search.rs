//! Search requests sent to every network and the hits they stream back.

use crate::hash::ContentHash;
use crate::query::QueryExpr;
use serde::{Deserialize, Serialize};

/// Identifies one search across the engine and all networks.
pub type SearchId = u64;

/// The broad type of a file, as ed2k servers and the search filters know it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    Audio,
    Video,
    Image,
    Program,
    Document,
    Archive,
    Iso,
    #[default]
    Any,
}

impl FileKind {
    /// All kinds a user can filter on, in the order the TUI cycles them.
    pub const ALL: [FileKind; 8] = [
        FileKind::Any,
        FileKind::Audio,
        FileKind::Video,
        FileKind::Image,
        FileKind::Program,
        FileKind::Document,
        FileKind::Archive,
        FileKind::Iso,
    ];

    /// Parses a user-typed kind name such as `video` or `iso`.
    pub fn parse(s: &str) -> Option<FileKind> {
        FileKind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s))
    }

    /// The lowercase name used on the command line and in the TUI.
    pub fn name(self) -> &'static str {
        match self {
            FileKind::Audio => "audio",
            FileKind::Video => "video",
            FileKind::Image => "image",
            FileKind::Program => "program",
            FileKind::Document => "document",
            FileKind::Archive => "archive",
            FileKind::Iso => "iso",
            FileKind::Any => "any",
        }
    }

    /// Guesses the kind from a file name's extension.
    pub fn from_name(name: &str) -> FileKind {
        let ext = name
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            "mp3" | "ogg" | "flac" | "wav" | "m4a" | "aac" | "opus" | "wma" => FileKind::Audio,
            "avi" | "mkv" | "mp4" | "mpg" | "mpeg" | "mov" | "wmv" | "webm" | "ogm" | "m4v" => {
                FileKind::Video
            }
            "jpg" | "jpeg" | "png" | "gif" | "bmp" | "webp" | "tif" | "tiff" | "svg" => {
                FileKind::Image
            }
            "exe" | "msi" | "deb" | "rpm" | "apk" | "dmg" | "bin" | "sh" | "appimage" => {
                FileKind::Program
            }
            "pdf" | "txt" | "doc" | "docx" | "odt" | "epub" | "djvu" | "rtf" | "html" | "md" => {
                FileKind::Document
            }
            "zip" | "rar" | "7z" | "tar" | "gz" | "bz2" | "xz" | "zst" | "tgz" => FileKind::Archive,
            "iso" | "img" | "nrg" | "cue" | "mdf" => FileKind::Iso,
            _ => FileKind::Any,
        }
    }
}

/// One search as a network receives it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchRequest {
    pub id: SearchId,
    /// The text the user typed, kept for display and for networks that want it raw.
    pub text: String,
    /// The parsed boolean expression (AND/OR/NOT of keywords).
    pub expr: QueryExpr,
    pub min_size: Option<u64>,
    pub max_size: Option<u64>,
    /// `None` or `Some(FileKind::Any)` means every kind.
    pub kind: Option<FileKind>,
    /// File extension without the dot, lowercase.
    pub extension: Option<String>,
}

impl SearchRequest {
    /// True when a file of this name and size passes the size, kind and extension
    /// constraints (not the keywords). Networks and the engine use it to filter.
    pub fn accepts(&self, name: &str, size: u64) -> bool {
        if self.min_size.is_some_and(|m| size < m) || self.max_size.is_some_and(|m| size > m) {
            return false;
        }
        if let Some(kind) = self.kind {
            if kind != FileKind::Any && FileKind::from_name(name) != kind {
                return false;
            }
        }
        if let Some(ext) = &self.extension {
            let got = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
            if !got.eq_ignore_ascii_case(ext) {
                return false;
            }
        }
        true
    }
}

/// One file found by a network for a search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    pub search: SearchId,
    /// The network's name, as [`crate::Network::name`] returns it.
    pub network: String,
    pub name: String,
    pub size: u64,
    /// Every hash this network knows for the file; rows merge on any equal hash.
    pub hashes: Vec<ContentHash>,
    pub sources: u32,
    pub complete_sources: Option<u32>,
    /// A link that [`crate::NetCommand::StartDownload`] on this network understands
    /// (for ed2k an `ed2k://|file|...|/` link).
    pub link: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_from_extension() {
        assert_eq!(FileKind::from_name("Ubuntu.ISO"), FileKind::Iso);
        assert_eq!(FileKind::from_name("song.mp3"), FileKind::Audio);
        assert_eq!(FileKind::from_name("noext"), FileKind::Any);
        assert_eq!(FileKind::parse("Video"), Some(FileKind::Video));
    }

    #[test]
    fn accepts_filters() {
        let req = SearchRequest {
            id: 1,
            text: "x".into(),
            expr: QueryExpr::Keyword("x".into()),
            min_size: Some(10),
            max_size: Some(100),
            kind: Some(FileKind::Video),
            extension: Some("mkv".into()),
        };
        assert!(req.accepts("a.mkv", 50));
        assert!(!req.accepts("a.mkv", 5));
        assert!(!req.accepts("a.mkv", 500));
        assert!(!req.accepts("a.avi", 50));
        assert!(!req.accepts("a.mp3", 50));
    }
}
