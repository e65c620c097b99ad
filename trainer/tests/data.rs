//! Streaming input: invalid lines are skipped and counted, never fatal; the held-out split is
//! deterministic and depends only on the records' content.

use std::io::Write;

use coach_shared::SplitMix64;
use coach_trainer::data::{ShardReader, shard_files};
use coach_trainer::scan::{ScanOptions, collect, scan};
use coach_trainer::synth::{synth_example, write_synthetic};

#[test]
fn invalid_lines_are_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let good = r#"{"exerciseType":"bench_press","setNumber":3,"strainPercentage":72.5,"skipReason":null,"sleepHours":7.5,"contextTags":["high_strain"],"aiResponse":"Steady, own the rep."}"#;
    let minimal =
        r#"{"exerciseType":"squat","setNumber":1,"strainPercentage":40,"contextTags":[],"aiResponse":"Nice."}"#;
    let lines = [
        good,
        "",
        "not json at all",
        r#"{"exerciseType":"squat"}"#,
        &good.replace("72.5", "140"),
        &good.replace("\"setNumber\":3", "\"setNumber\":0"),
        &good.replace("Steady, own the rep.", "   "),
        &good.replace("Steady, own the rep.", &"x".repeat(281)),
        &good.replace("7.5", "-1"),
        &good.replace("\"setNumber\":3", "\"setNumber\":\"three\""),
        "\u{feff}{]",
        minimal,
        &"y".repeat(70_000),
    ];
    let mut f = std::fs::File::create(dir.path().join("a.jsonl")).unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
    f.write_all(&[0xff, 0xfe, b'\n']).unwrap();
    f.write_all(good.as_bytes()).unwrap(); // last line without a newline
    std::fs::write(dir.path().join("ignored.txt"), "not a shard").unwrap();
    let mut r = ShardReader::open_dir(dir.path()).unwrap();
    let mut valid = Vec::new();
    while let Some(ex) = r.next_example().unwrap() {
        valid.push(ex);
    }
    assert_eq!(valid.len(), 3);
    assert_eq!(valid[0].context.sleep_hours, Some(7.5));
    assert_eq!(valid[1].context.skip_reason, None);
    assert_eq!(valid[1].context.sleep_hours, None);
    assert_eq!(r.stats.valid, 3);
    assert_eq!(r.stats.invalid_json, 6, "{:?}", r.stats);
    assert_eq!(r.stats.invalid_values, 5, "{:?}", r.stats);
    // the scan reports the same counts
    let s = scan(dir.path(), &ScanOptions::default()).unwrap();
    assert_eq!((s.summary.records, s.summary.invalid_lines), (3, 11));
    // no shards at all is an error, not a panic
    let empty = tempfile::tempdir().unwrap();
    assert!(shard_files(empty.path()).is_err());
    assert!(scan(empty.path(), &ScanOptions::default()).is_err());
}

#[test]
fn held_out_split_is_deterministic_and_content_based() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    write_synthetic(a.path(), 3000, 1000, 9).unwrap();
    // the same records, sharded differently
    write_synthetic(b.path(), 3000, 700, 9).unwrap();
    let opts = ScanOptions { eval_cap: 200, ..Default::default() };
    let sa = scan(a.path(), &opts).unwrap();
    let sb = scan(b.path(), &opts).unwrap();
    assert_eq!(sa.split, sb.split);
    assert_eq!(
        (sa.summary.train_records, sa.summary.heldout_records),
        (sb.summary.train_records, sb.summary.heldout_records)
    );
    let share = sa.summary.heldout_records as f64 / sa.summary.records as f64;
    assert!((0.07..0.13).contains(&share), "held-out share {share}");
    let ca = collect(&sa.files, &sa.split, &opts).unwrap();
    let cb = collect(&sb.files, &sb.split, &opts).unwrap();
    assert_eq!(ca.heldout.len(), 200);
    assert_eq!(ca.heldout, cb.heldout);
    let again = collect(&sa.files, &sa.split, &opts).unwrap();
    assert_eq!(ca.heldout, again.heldout);
    // no held-out record is a training record
    for ex in &ca.heldout {
        assert!(sa.split.is_held_out(ex.content_hash()));
    }
}

#[test]
fn tiny_sets_always_hold_one_out() {
    // With 10–30 records the 10 % rule can select nothing; one record is then held out.
    for seed in 0..40u64 {
        let dir = tempfile::tempdir().unwrap();
        let mut rng = SplitMix64::new(seed);
        let mut f = std::fs::File::create(dir.path().join("s.jsonl")).unwrap();
        for _ in 0..12 {
            writeln!(f, "{}", serde_json::to_string(&synth_example(&mut rng)).unwrap()).unwrap();
        }
        let s = scan(dir.path(), &ScanOptions::default()).unwrap();
        assert!(s.summary.heldout_records >= 1, "seed {seed}");
        assert_eq!(s.summary.train_records + s.summary.heldout_records, 12);
        let c = collect(&s.files, &s.split, &ScanOptions::default()).unwrap();
        assert_eq!(c.heldout.len() as u64, s.summary.heldout_records);
    }
}
