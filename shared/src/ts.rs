//! TypeScript declarations of the API bodies, generated from the Rust types with `ts-rs` (feature
//! `ts`, build/test time only). The wasm package ships them as `wasm-client/src/api.d.ts`
//! (`typescript_custom_section` in `wasm-client/src/ts.rs`); `xtask/tests/ts_declarations.rs` fails
//! when that file is not what these types generate (`COACH_UPDATE_TS=1` rewrites it).

use ts_rs::{Config, TS};

use crate::types::{training, users, voice};

/// One `export type` per type, in the order the package documents them.
pub fn package_declarations() -> String {
    // integers cross as JS numbers (serde-wasm-bindgen's json_compatible), never BigInt
    let cfg = Config::new().with_large_int("number");
    let decls = [
        decl::<crate::PiiKind>(&cfg),
        decl::<crate::ClipKeyParts>(&cfg),
        decl::<voice::VoiceCloneState>(&cfg),
        decl::<voice::VoicePreferences>(&cfg),
        decl::<voice::VoicePreferencesUpdate>(&cfg),
        decl::<voice::ToneSettings>(&cfg),
        decl::<voice::VoiceProfile>(&cfg),
        decl::<voice::VoiceSynthesisRequest>(&cfg),
        decl::<voice::VoiceSynthesisResponse>(&cfg),
        decl::<voice::VoiceCacheEntry>(&cfg),
        decl::<voice::VoiceCacheList>(&cfg),
        decl::<voice::VoiceCacheClearRequest>(&cfg),
        decl::<voice::VoiceCacheClearResponse>(&cfg),
        decl::<voice::VoiceInteractionRequest>(&cfg),
        decl::<voice::VoiceInteraction>(&cfg),
        decl::<voice::VoiceInteractionsList>(&cfg),
        decl::<voice::CloneJobStatus>(&cfg),
        decl::<voice::VoiceCloneResponse>(&cfg),
        decl::<voice::VoiceCloneStatus>(&cfg),
        decl::<training::TrainingDataStatus>(&cfg),
        decl::<training::TrainingDataResponse>(&cfg),
        decl::<training::CoachRequest>(&cfg),
        decl::<training::CoachResponse>(&cfg),
        decl::<users::User>(&cfg),
        decl::<users::CreateWorkoutRequest>(&cfg),
        decl::<users::WorkoutEntry>(&cfg),
    ];
    let mut out = String::from(
        "// Generated from coach-shared's Rust types by ts-rs (shared/src/ts.rs): do not edit.\n\
         // COACH_UPDATE_TS=1 cargo test -p xtask --test ts_declarations rewrites this file.\n",
    );
    for d in decls {
        out.push('\n');
        out.push_str(&d);
        out.push('\n');
    }
    out
}

fn decl<T: TS>(cfg: &Config) -> String {
    format!("export {}", T::decl(cfg))
}
