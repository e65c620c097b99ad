//! The wasm package's TypeScript declarations of the API bodies (`wasm-client/src/api.d.ts`) are
//! generated from coach-shared's Rust types (`shared/src/ts.rs`, ts-rs): this fails when the
//! committed file drifts from the types. `COACH_UPDATE_TS=1 cargo test -p xtask --test
//! ts_declarations` rewrites it.

use std::path::PathBuf;

#[test]
fn package_declarations_match_the_rust_types() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../wasm-client/src/api.d.ts");
    let generated = coach_shared::ts::package_declarations();
    if std::env::var_os("COACH_UPDATE_TS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is not what coach-shared's types generate; run `COACH_UPDATE_TS=1 cargo test -p xtask --test \
         ts_declarations` and commit the file",
        path.display()
    );
}
