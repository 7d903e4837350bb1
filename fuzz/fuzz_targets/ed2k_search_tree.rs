//! OP_SEARCHREQUEST trees: parsing never panics and is bounded (terms,
//! depth), a parsed tree encodes to at most three times its input and back
//! to itself, and it can be matched.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarmux_ed2k::proto::search::{name_words, Matcher, SearchFile, SearchTree, MAX_SEARCH_TERMS};
use swarmux_ed2k::proto::Reader;

fn leaves(t: &SearchTree) -> usize {
    match t {
        SearchTree::And(a, b) | SearchTree::Or(a, b) | SearchTree::AndNot(a, b) => {
            leaves(a) + leaves(b)
        }
        _ => 1,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    let Ok(tree) = SearchTree::decode(&mut r) else {
        return;
    };
    assert!(leaves(&tree) <= MAX_SEARCH_TERMS);
    let once = tree.to_bytes();
    // Strings grow only where decoding replaced an invalid byte by U+FFFD
    // (three bytes) or by a BOM, for a value that starts with U+FEFF.
    assert!(
        once.len() <= 3 * r.position() + 3 * leaves(&tree),
        "{} from {}",
        once.len(),
        r.position()
    );
    let again = SearchTree::decode(&mut Reader::new(&once)).expect("an encoded tree decodes");
    assert_eq!(again.to_bytes(), once);
    let m = Matcher::new(&tree);
    let name = "Holiday Video 2024.mkv";
    let f = SearchFile {
        name,
        size: 700_000_000,
        file_type: "Video",
        ext: "mkv",
        sources: 3,
        complete_sources: 1,
    };
    let words = name_words(name);
    let _ = m.matches(&f, &words);
    assert!(m.cost(words.len()) >= 1);
});
