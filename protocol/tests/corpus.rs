//! Replays the fuzz corpus (protocol/fuzz/corpus/frames) through the fuzz
//! target's checks, so every case found or written down stays fixed.

use std::path::Path;

#[test]
fn the_fuzz_corpus_passes_the_fuzz_checks() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/frames");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).expect("the corpus directory") {
        let path = entry.expect("a corpus entry").path();
        let data = std::fs::read(&path).expect("a corpus file");
        let outcome = std::panic::catch_unwind(|| protocol::fuzzing::check_bytes(&data));
        assert!(outcome.is_ok(), "{} breaks a property", path.display());
        replayed += 1;
    }
    assert!(replayed >= 40, "only {replayed} corpus files");
}
