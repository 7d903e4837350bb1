//! The names a torrent's files get on disk: every path component cut to the
//! file system's limit in bytes (`swarmux_net::names::fit_name`, at a
//! character boundary, keeping the extension), and two components of one
//! folder that come out equal told apart with ` (1)`, ` (2)`, ... before the
//! extension. The result depends only on the file list and the limit, so
//! the same torrent finds its data again after a restart.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use swarmux_net::names::{fit_name, name_max};

use crate::core::layout::FileEntry;

/// Each file's path components as they are on disk below `root`.
pub(super) fn disk_components(root: &Path, files: &[FileEntry]) -> Vec<Vec<String>> {
    // the root may not exist yet: its nearest existing folder has its limit
    let max = root
        .ancestors()
        .find(|p| p.exists())
        .map_or(swarmux_net::names::NAME_MAX, name_max);
    // (folder on disk, name in the torrent) -> name on disk
    let mut chosen: HashMap<(PathBuf, &str), String> = HashMap::new();
    let mut taken: HashSet<PathBuf> = HashSet::new();
    files
        .iter()
        .map(|f| {
            let mut folder = PathBuf::new();
            let mut out = Vec::with_capacity(f.path.len());
            for c in &f.path {
                let name = chosen
                    .entry((folder.clone(), c.as_str()))
                    .or_insert_with(|| {
                        let name = (0..)
                            .map(|n| numbered(c, n, max))
                            .find(|n| !taken.contains(&folder.join(n)))
                            .unwrap_or_else(|| c.clone());
                        taken.insert(folder.join(&name));
                        name
                    })
                    .clone();
                folder.push(&name);
                out.push(name);
            }
            out
        })
        .collect()
}

/// `name` fitted to `max` bytes, with ` (n)` before its extension when `n > 0`.
fn numbered(name: &str, n: usize, max: usize) -> String {
    if n == 0 {
        return fit_name(name, max);
    }
    let tag = format!(" ({n})");
    let fitted = fit_name(name, max.saturating_sub(tag.len()));
    match fitted.rfind('.') {
        Some(dot) if dot > 0 => format!("{}{tag}{}", &fitted[..dot], &fitted[dot..]),
        _ => fitted + &tag,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &[&str]) -> FileEntry {
        FileEntry {
            path: path.iter().map(|s| s.to_string()).collect(),
            length: 1,
            padding: false,
        }
    }

    #[test]
    fn long_names_are_cut_and_kept_apart() {
        let dir = "漢".repeat(90);
        let a = format!("{}.bin", "字".repeat(90));
        let b = format!("{}語.bin", "字".repeat(89));
        let files = [
            file(&[&dir, &a]),
            file(&[&dir, &b]),
            file(&[&dir, "short.txt"]),
            file(&["short.txt"]),
        ];
        let disk = disk_components(Path::new("/no/such/root"), &files);
        let max = name_max(Path::new("/"));
        for (f, d) in files.iter().zip(&disk) {
            assert_eq!(f.path.len(), d.len());
            assert!(d.iter().all(|c| c.len() <= max), "{d:?}");
        }
        // one folder for every file under it
        assert!(disk[..3].iter().all(|d| d[0] == disk[0][0]));
        assert!(disk[0][0].starts_with("漢漢"));
        // a and b cut to the same name: the second one is numbered
        assert_ne!(disk[0][1], disk[1][1]);
        assert!(disk[0][1].ends_with(".bin") && disk[1][1].ends_with(" (1).bin"));
        assert_eq!(disk[2], vec![disk[0][0].clone(), "short.txt".to_string()]);
        assert_eq!(disk[3], vec!["short.txt".to_string()]);
        // the same list gives the same names
        assert_eq!(disk_components(Path::new("/no/such/root"), &files), disk);
    }
}
