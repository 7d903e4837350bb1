//! .torrent files (BEP 3, BEP 12 tiers, BEP 47 padding files): the file is
//! decoded once by the bounded decoder, the info dictionary is read from
//! that document, and the info-hash is the SHA-1 of its exact bytes.

use std::path::PathBuf;

use sha1::{Digest, Sha1};

use super::bencode::{self, BencodeError, Item};

/// Largest .torrent file accepted: libtorrent's `max_buffer_size`.
pub const MAX_TORRENT_BYTES: usize = 10_000_000;
/// Largest info dictionary accepted (from a file or fetched from peers): no
/// more than fits in a .torrent we would accept.
pub const MAX_INFO_BYTES: usize = MAX_TORRENT_BYTES;
/// Largest piece length accepted.
pub const MAX_PIECE_LENGTH: u64 = 64 << 20;
/// Most files in one torrent.
pub const MAX_FILES: usize = 200_000;
/// Most tracker tiers, and most trackers in a tier, kept.
pub const MAX_TRACKERS: usize = 64;

/// Why a torrent was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetainfoError {
    #[error("torrent is larger than {MAX_TORRENT_BYTES} bytes")]
    TooLarge,
    #[error("torrent is not valid bencode: {0}")]
    Bencode(#[from] BencodeError),
    #[error("torrent has no info dictionary")]
    MissingInfo,
    #[error("invalid info dictionary: {0}")]
    Invalid(String),
    #[error("torrent file path {0:?} leaves the download folder")]
    UnsafePath(String),
    #[error("BitTorrent v2-only torrents are not supported (no v1 piece hashes)")]
    V2Only,
    #[error("torrent piece length {0} is out of range (1 byte to 64 MiB)")]
    BadPieceLength(u64),
    #[error("torrent has {actual} piece hashes but its {total} bytes need {expected}")]
    PieceCount {
        total: u64,
        expected: u64,
        actual: u64,
    },
    #[error("torrent has more than {MAX_FILES} files")]
    TooManyFiles,
    #[error("torrent file lengths overflow")]
    LengthOverflow,
    #[error("torrent holds no data")]
    Empty,
}

/// One file of a torrent, in piece-space order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    /// Path components below the torrent root (for a single-file torrent,
    /// just the name). Every component passed [`is_safe_component`].
    pub path: Vec<String>,
    /// Length in bytes.
    pub length: u64,
    /// Offset of the first byte in the torrent's concatenated data.
    pub offset: u64,
    /// A BEP 47 padding file: counts in the piece space, never written.
    pub padding: bool,
}

/// A checked info dictionary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Info {
    /// SHA-1 of [`Info::info_bytes`].
    pub info_hash: [u8; 20],
    /// The info dictionary exactly as received (served to magnet peers).
    pub info_bytes: Vec<u8>,
    /// Suggested file name (single file) or directory name (multi-file).
    pub name: String,
    /// Bytes per piece (the last piece may be shorter).
    pub piece_length: u64,
    /// SHA-1 of every piece.
    pub pieces: Vec<[u8; 20]>,
    /// The files, in order.
    pub files: Vec<FileEntry>,
    /// Sum of the file lengths.
    pub total_length: u64,
    /// BEP 27: only the torrent's trackers may be used (no DHT or PEX).
    pub private: bool,
    /// True when the files live in a directory named [`Info::name`].
    pub multi_file: bool,
}

/// A parsed .torrent file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metainfo {
    /// The info dictionary.
    pub info: Info,
    /// Tracker URLs by tier (BEP 12): `announce-list`, else `announce`.
    pub trackers: Vec<Vec<String>>,
}

/// True when `c` is a file or directory name that stays where it is put:
/// not empty, not `.` or `..`, no `/`, `\` or NUL, no drive letter (`C:`).
pub fn is_safe_component(c: &str) -> bool {
    let b = c.as_bytes();
    !c.is_empty()
        && c != "."
        && c != ".."
        && !b.iter().any(|&x| x == b'/' || x == b'\\' || x == 0)
        && !(b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':')
}

/// Checks every component with [`is_safe_component`].
pub fn check_path(components: &[String]) -> Result<(), MetainfoError> {
    if components.is_empty() || !components.iter().all(|c| is_safe_component(c)) {
        return Err(MetainfoError::UnsafePath(components.join("/")));
    }
    Ok(())
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The value of `key` in `dict` when it is a byte string (`Ok(None)` when absent).
fn bytes_field<'d>(dict: &Item<'d>, key: &'static str) -> Result<Option<&'d [u8]>, MetainfoError> {
    dict.get(key)
        .map(|v| v.as_bytes().ok_or_else(|| invalid_field(key)))
        .transpose()
}

/// The value of `key` in `dict` when it is a non-negative integer.
fn uint_field(dict: &Item<'_>, key: &'static str) -> Result<Option<u64>, MetainfoError> {
    dict.get(key)
        .map(|v| {
            v.as_int()
                .and_then(|i| u64::try_from(i).ok())
                .ok_or_else(|| invalid_field(key))
        })
        .transpose()
}

fn invalid_field(key: &str) -> MetainfoError {
    MetainfoError::Invalid(format!("{key} has the wrong type"))
}

impl Info {
    /// Checks an info dictionary (from a .torrent or fetched with BEP 9).
    pub fn from_info_bytes(bytes: &[u8]) -> Result<Info, MetainfoError> {
        if bytes.len() > MAX_INFO_BYTES {
            return Err(MetainfoError::TooLarge);
        }
        Info::from_item(&bencode::decode(bytes)?.root())
    }

    /// Checks a decoded info dictionary; the hash covers its exact bytes.
    fn from_item(info: &Item<'_>) -> Result<Info, MetainfoError> {
        let bytes = info.raw();
        if bytes.len() > MAX_INFO_BYTES {
            return Err(MetainfoError::TooLarge);
        }
        if info.as_dict().is_none() {
            return Err(MetainfoError::Invalid("not a dictionary".into()));
        }
        let name = match bytes_field(info, "name.utf-8")?.or(bytes_field(info, "name")?) {
            Some(n) => text(n),
            None => return Err(MetainfoError::Invalid("missing name".into())),
        };
        check_path(std::slice::from_ref(&name))?;
        let piece_length = uint_field(info, "piece length")?
            .ok_or_else(|| MetainfoError::Invalid("missing piece length".into()))?;
        if piece_length == 0 || piece_length > MAX_PIECE_LENGTH {
            return Err(MetainfoError::BadPieceLength(piece_length));
        }
        let pieces = bytes_field(info, "pieces")?.ok_or(MetainfoError::V2Only)?;
        if !pieces.len().is_multiple_of(20) {
            return Err(MetainfoError::Invalid(
                "pieces is not a multiple of 20 bytes".into(),
            ));
        }
        let (files, multi_file) = match (uint_field(info, "length")?, info.get("files")) {
            (Some(length), None) => (single_file(&name, length), false),
            (None, Some(files)) => (multi_files(&files)?, true),
            _ => {
                return Err(MetainfoError::Invalid(
                    "needs exactly one of length and files".into(),
                ))
            }
        };
        let total_length = files.last().map_or(0, |f| f.offset + f.length);
        if total_length == 0 {
            return Err(MetainfoError::Empty);
        }
        let expected = total_length.div_ceil(piece_length);
        let actual = (pieces.len() / 20) as u64;
        if expected != actual {
            return Err(MetainfoError::PieceCount {
                total: total_length,
                expected,
                actual,
            });
        }
        Ok(Info {
            info_hash: Sha1::digest(bytes).into(),
            info_bytes: bytes.to_vec(),
            name,
            piece_length,
            pieces: pieces
                .chunks_exact(20)
                .map(|c| {
                    let mut h = [0u8; 20];
                    h.copy_from_slice(c);
                    h
                })
                .collect(),
            files,
            total_length,
            private: info.get("private").and_then(|p| p.as_int()) == Some(1),
            multi_file,
        })
    }

    /// Number of pieces.
    pub fn num_pieces(&self) -> usize {
        self.pieces.len()
    }

    /// Length of piece `index` (the last one may be short; 0 when out of range).
    pub fn piece_size(&self, index: usize) -> u64 {
        let start = index as u64 * self.piece_length;
        if index >= self.pieces.len() {
            return 0;
        }
        (self.total_length - start).min(self.piece_length)
    }

    /// Where `file` goes below the download folder: `name/...` for a
    /// multi-file torrent, `name` for a single file.
    pub fn relative_path(&self, file: &FileEntry) -> PathBuf {
        let mut p = PathBuf::new();
        if self.multi_file {
            p.push(&self.name);
        }
        file.path.iter().for_each(|c| p.push(c));
        p
    }
}

fn single_file(name: &str, length: u64) -> Vec<FileEntry> {
    vec![FileEntry {
        path: vec![name.to_string()],
        length,
        offset: 0,
        padding: false,
    }]
}

fn multi_files(raw: &Item<'_>) -> Result<Vec<FileEntry>, MetainfoError> {
    let list = raw.as_list().ok_or_else(|| invalid_field("files"))?;
    if list.clone().count() > MAX_FILES {
        return Err(MetainfoError::TooManyFiles);
    }
    let mut offset = 0u64;
    let mut files = Vec::with_capacity(list.clone().count());
    for f in list {
        let length = uint_field(&f, "length")?.ok_or_else(|| invalid_field("length"))?;
        let components = f
            .get("path.utf-8")
            .or(f.get("path"))
            .and_then(|p| p.as_list())
            .ok_or_else(|| invalid_field("path"))?;
        let mut path = Vec::with_capacity(components.clone().count());
        for c in components {
            path.push(
                c.as_bytes()
                    .map(text)
                    .ok_or_else(|| invalid_field("path"))?,
            );
        }
        check_path(&path)?;
        files.push(FileEntry {
            path,
            length,
            offset,
            padding: bytes_field(&f, "attr")?.is_some_and(|a| a.contains(&b'p')),
        });
        offset = offset
            .checked_add(length)
            .ok_or(MetainfoError::LengthOverflow)?;
    }
    if offset > i64::MAX as u64 {
        return Err(MetainfoError::LengthOverflow);
    }
    Ok(files)
}

fn tracker_tiers(top: &Item<'_>) -> Vec<Vec<String>> {
    let url = |v: Item<'_>| {
        v.as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
    };
    let tiers: Vec<Vec<String>> = top
        .get("announce-list")
        .and_then(|l| l.as_list())
        .into_iter()
        .flatten()
        .filter_map(|tier| tier.as_list())
        .map(|tier| tier.filter_map(url).take(MAX_TRACKERS).collect::<Vec<_>>())
        .filter(|tier| !tier.is_empty())
        .take(MAX_TRACKERS)
        .collect();
    if !tiers.is_empty() {
        return tiers;
    }
    top.get("announce")
        .and_then(url)
        .map(|u| vec![vec![u]])
        .unwrap_or_default()
}

impl Metainfo {
    /// Parses and checks the bytes of a .torrent file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Metainfo, MetainfoError> {
        if bytes.len() > MAX_TORRENT_BYTES {
            return Err(MetainfoError::TooLarge);
        }
        let doc = bencode::decode(bytes)?;
        let top = doc.root();
        let info = top.get("info").ok_or(MetainfoError::MissingInfo)?;
        Ok(Metainfo {
            info: Info::from_item(&info)?,
            trackers: tracker_tiers(&top),
        })
    }

    /// The torrent's info-hash.
    pub fn info_hash(&self) -> [u8; 20] {
        self.info.info_hash
    }
}

#[cfg(test)]
mod tests;
