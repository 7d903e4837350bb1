//! The servent GUID (the one in our query hits, that Push requests are
//! routed by), kept across restarts in [`FILE_NAME`] in the network's data
//! directory, next to the host cache: 32 hex digits and a newline. Created
//! once at random; a file that is not a valid GUID is replaced with a fresh
//! one, which the caller logs.

use crate::magnet::parse_guid;
use crate::proto::descriptor::Guid;
use std::path::Path;

/// The file's name in the data directory.
pub const FILE_NAME: &str = "gnutella_guid";

/// Reads a GUID from the file text: 32 hex digits, surrounding whitespace
/// ignored. The blank (all-zero) GUID is refused: servents treat it as none.
pub fn parse(text: &str) -> Option<Guid> {
    parse_guid(text.trim()).filter(|g| *g != Guid::default())
}

/// The file text for `guid`.
pub fn format(guid: &Guid) -> String {
    format!("{}\n", guid.to_hex())
}

/// Our servent GUID, as found in `path` or newly created there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServentId {
    pub guid: Guid,
    /// Something worth a warning: the file was corrupt and replaced, or a
    /// fresh GUID could not be saved (it then changes at the next start).
    pub warning: Option<String>,
}

/// Loads the GUID from `path`, or creates, saves and returns a fresh one when
/// the file is missing or corrupt. Never fails: at worst the GUID is not kept.
pub fn load_or_create(path: &Path) -> ServentId {
    let corrupt = match std::fs::read(path) {
        Ok(bytes) => match parse(&String::from_utf8_lossy(&bytes)) {
            Some(guid) => {
                return ServentId {
                    guid,
                    warning: None,
                }
            }
            None => true,
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(_) => true,
    };
    let guid = Guid::random();
    let warning = match save(path, &guid) {
        Err(e) => Some(format!(
            "cannot save the servent GUID in {}: {e}; it will change at the next start",
            path.display()
        )),
        Ok(()) if corrupt => Some(format!(
            "{} was not a valid servent GUID: replaced with a new one ({})",
            path.display(),
            guid.to_hex()
        )),
        Ok(()) => None,
    };
    ServentId { guid, warning }
}

/// Writes `path` through a temporary file, then renames it.
fn save(path: &Path, guid: &Guid) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, format(guid))?;
    std::fs::rename(tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn created_once_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let first = load_or_create(&path);
        assert_eq!(first.warning, None);
        assert_eq!(
            (first.guid.0[8], first.guid.0[15]),
            (0xFF, 0),
            "modern marks"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format(&first.guid));
        let again = load_or_create(&path);
        assert_eq!(again, first);
    }

    #[test]
    fn corrupt_or_short_files_are_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        for bad in [
            &b"0123"[..],
            b"zz0102030405060708090A0B0C0D0E0F\n",
            b"00000000000000000000000000000000",
            &[0xFF, 0xFE, 0x00][..],
        ] {
            std::fs::write(&path, bad).unwrap();
            let id = load_or_create(&path);
            let w = id.warning.expect("a warning");
            assert!(w.contains("replaced"), "{w}");
            assert_eq!(load_or_create(&path).guid, id.guid, "the new one is kept");
        }
    }

    #[test]
    fn unsaveable_guid_still_works() {
        let dir = tempfile::tempdir().unwrap();
        // A file where the directory should be: nothing can be saved.
        let blocker = dir.path().join("blocker");
        std::fs::write(&blocker, b"x").unwrap();
        let id = load_or_create(&blocker.join(FILE_NAME));
        assert!(id.warning.unwrap().contains("cannot save"));
        assert_ne!(id.guid, Guid::default());
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_round_trips(s in "\\PC{0,40}", g in any::<[u8; 16]>()) {
            let _ = parse(&s);
            let guid = Guid(g);
            let back = parse(&format(&guid));
            prop_assert_eq!(back, (guid != Guid::default()).then_some(guid));
        }
    }
}
