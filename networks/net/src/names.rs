//! File names that fit the file system: names peers give us are cut to the
//! file system's limit in *bytes* (255 on ext4, btrfs, xfs; less on some
//! encrypted file systems), at a character boundary, keeping the extension.

use std::path::Path;

/// The longest name, in bytes, that most Linux file systems accept.
pub const NAME_MAX: usize = 255;

/// The longest extension kept when a name is cut (longer "extensions" are
/// part of the name).
const MAX_EXTENSION_BYTES: usize = 16;

/// The longest file name, in bytes, the file system holding `dir` accepts
/// (at most [`NAME_MAX`]; [`NAME_MAX`] when it cannot be asked).
pub fn name_max(dir: &Path) -> usize {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return NAME_MAX;
    };
    // SAFETY: statvfs writes only into the zeroed struct we pass; `c` is a
    // valid NUL-terminated path.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 || st.f_namemax == 0 {
        return NAME_MAX;
    }
    (st.f_namemax as usize).min(NAME_MAX)
}

/// `name` cut to at most `max_bytes` bytes at a character boundary, keeping
/// its extension (`.mkv`) when it has a short one. A name that already fits
/// is returned unchanged.
pub fn fit_name(name: &str, max_bytes: usize) -> String {
    if name.len() <= max_bytes {
        return name.to_string();
    }
    let ext = match name.rfind('.') {
        Some(dot) if dot > 0 && name.len() - dot <= MAX_EXTENSION_BYTES => &name[dot..],
        _ => "",
    };
    let ext = if ext.len() * 2 > max_bytes { "" } else { ext };
    let stem = &name[..name.len() - ext.len()];
    let mut out = cut_at_char(stem, max_bytes - ext.len()).to_string();
    out.push_str(ext);
    out
}

/// The longest prefix of `s` of at most `max_bytes` bytes that ends at a
/// character boundary.
pub fn cut_at_char(s: &str, max_bytes: usize) -> &str {
    if s.len() <= max_bytes {
        return s;
    }
    let mut end = max_bytes;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cjk_names_are_cut_in_bytes_at_a_character_boundary() {
        // 90 CJK characters are 270 bytes in UTF-8.
        let name = format!("{}.bin", "漢".repeat(90));
        let fit = fit_name(&name, 255);
        assert!(fit.len() <= 255, "{}", fit.len());
        assert!(fit.ends_with(".bin"));
        assert_eq!(fit.len(), 83 * 3 + 4);
        assert!(fit.starts_with("漢漢"));
    }

    #[test]
    fn short_names_stay_and_long_extensions_are_name() {
        assert_eq!(fit_name("a.iso", 255), "a.iso");
        let long_ext = format!("x.{}", "y".repeat(40));
        let fit = fit_name(&long_ext, 20);
        assert_eq!(fit, &long_ext[..20]);
        assert_eq!(fit_name(".hidden-only-extension", 8), ".hidden-");
    }

    #[test]
    fn every_cut_is_valid_and_fits() {
        for max in 1..40 {
            let name = format!("{}é漢🎵.mp3", "ab".repeat(max % 7));
            let fit = fit_name(&name, max);
            assert!(fit.len() <= max, "{max}: {fit}");
        }
    }

    #[test]
    fn the_file_system_limit_is_read() {
        let dir = std::env::temp_dir();
        let n = name_max(&dir);
        assert!((14..=NAME_MAX).contains(&n), "{n}");
        assert_eq!(name_max(Path::new("/no/such/folder")), NAME_MAX);
    }
}
