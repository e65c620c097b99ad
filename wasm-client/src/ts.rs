//! TypeScript declarations of the package's JS-facing shapes.
//!
//! * The API bodies (`User`, `VoicePreferences`, `WorkoutEntry`...) are generated from
//!   `coach_shared::types` by ts-rs (`shared/src/ts.rs`) into `api.d.ts` beside this file, never
//!   written by hand; `cargo test -p xtask --test ts_declarations` fails when that file drifts
//!   from the Rust types.
//! * The client's own option bags and results (below) have no Rust struct of their own (they are
//!   read field by field, or built as objects) and stay written here.
//!
//! Values cross the boundary with `serde-wasm-bindgen` (`crate::js`); every response is decoded
//! into the shared Rust type first, so a body that breaks the contract is an `invalid_response`
//! error, never a surprise.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_GENERATED: &str = include_str!("api.d.ts");

#[wasm_bindgen(typescript_custom_section)]
const TS_API: &str = r#"
/** Options of `new CoachClient(...)`. */
export interface CoachClientOptions {
  /** The API's origin, e.g. `https://api.example.com` (paths start with `/v1`). */
  baseUrl: string;
  /** The user's bearer token (update it with `setToken`). */
  token?: string | null;
  /** The user's id; read from the token's `sub` claim when absent. */
  userId?: string;
  /** The user's own identifying strings (display name, email) for the local PII check. */
  names?: string[];
  /** First outbox retry delay in ms (default 1000); doubles per attempt. */
  retryBaseMs?: number;
  /** Longest outbox retry delay in ms (default 300000). */
  retryMaxMs?: number;
  /** Options of the voice cache (see VoiceCacheOptions). */
  cache?: VoiceCacheOptions;
}

/** Only the fields present change. */
/** Everything that, besides text and tone, decides a clip's audio for the caller right now. */
/** One entry of the server's cache index. */
/** Criteria combine with OR. */
/** Upload progress of `uploadVoiceClone`. */
export interface UploadProgress {
  loaded: number;
  total: number;
  /** 0–1, `null` when the total is unknown. */
  fraction: number | null;
}

export interface VoiceCloneUpload {
  /** 3–10 audio samples. */
  samples: Blob[];
  /** At most 50 characters. */
  voiceName: string;
  personality?: Personality;
  onProgress?: (progress: UploadProgress) => void;
}

/** A training record before anonymization: the client adds `hashedUserId` itself. */
export interface TrainingDataInput {
  exerciseType: string;
  /** 1–20. */
  setNumber: number;
  /** 0–100. */
  strainPercentage: number;
  skipReason?: string | null;
  /** 0–24. */
  sleepHours?: number | null;
  /** At most 280 characters, no PII. */
  aiResponse: string;
  contextTags: string[];
  /** When the workout event happened (default: now). */
  timestamp?: string;
}

/** A stored form of a {@link CoachError}. */
export interface ErrorRecord { status: number; error: string; message: string; details: any | null }

/** What happened to a queued submission. */
export type OutboxOutcome<T> =
  | { state: 'sent'; idempotencyKey: string; replayed: boolean; response: T }
  | { state: 'queued'; idempotencyKey: string; error: ErrorRecord | null }
  | { state: 'rejected'; idempotencyKey: string; error: ErrorRecord };

export type OutboxKind = 'trainingData' | 'voiceInteraction' | 'workout';

/** A voice interaction about a set that is not on the server yet (no `workoutEntryId`). */
export type InteractionTemplate = Omit<VoiceInteractionRequest, 'workoutEntryId'>;

/** The interaction a queued set records once the server created it. */
export interface FollowUp { idempotencyKey: string; interaction: InteractionTemplate }

/** Options of `logSet`. */
export interface LogSetOptions {
  /** The key an earlier `logSet` of this set answered with: adds `interaction`/`meta` to it. */
  idempotencyKey?: string;
  /** Recorded once the set exists, with its id. */
  interaction?: InteractionTemplate;
  /** The app's own data, handed back with the delivery (`setOutboxListener`). */
  meta?: any;
}

/** A queued item delivered or refused by a flush no call awaited (see `setOutboxListener`). */
export interface OutboxDelivery {
  kind: OutboxKind;
  meta: any | null;
  outcome:
    | { state: 'sent'; idempotencyKey: string; replayed: boolean; response: any }
    | { state: 'rejected'; idempotencyKey: string; error: ErrorRecord };
}

export interface OutboxItem {
  seq: number;
  kind: OutboxKind;
  idempotencyKey: string;
  /** The JSON body. */
  body: string;
  createdAt: number;
  attempts: number;
  nextAttemptAt: number;
  lastError: ErrorRecord | null;
  /** A set's interaction, queued in its place once the set is created. */
  followUp?: FollowUp;
  meta?: any;
}

export interface DeadLetter {
  idempotencyKey: string;
  kind: OutboxKind;
  body: string;
  createdAt: number;
  failedAt: number;
  attempts: number;
  error: ErrorRecord;
  followUp?: FollowUp;
  meta?: any;
}

export interface FlushReport {
  sent: number;
  replayed: number;
  deadLettered: number;
  remaining: number;
  retryInMs: number | null;
  stopped: 'offline' | 'backoff' | 'unauthorized' | null;
}

/** Options of `speak`. */
export interface SpeakOptions {
  tone: Tone;
  /** Workout context, e.g. `high_strain_set`. */
  context: string;
  personality?: Personality;
  /** Use `tone` as given even when tone adaptation is on. */
  forceTone?: boolean;
  /** Record a voice interaction for this workout entry (through the outbox). */
  workoutEntryId?: string;
  /** Fetch and cache, but do not play (warm-up). */
  play?: boolean;
}

/** What `speak` did. `spoken: false` carries the text for the app's text-only fallback. */
export interface SpeakResult {
  spoken: boolean;
  text: string;
  /** Why nothing was spoken: `voice_unavailable`, `premium_required`, `voice_disabled`, `offline`,
   *  `playback_failed`, `not_played` (play: false). `null` when spoken. */
  reason: string | null;
  /** Served from IndexedDB without a server call for the audio. */
  cached: boolean;
  tone: Tone;
  cacheKey: string | null;
  /** Milliseconds from the call to audible start, `null` when nothing played. */
  playbackLatency: number | null;
  /** The server's generation time (ms), `null` on a cache hit. */
  generationLatency: number | null;
  /** Seconds. */
  duration: number | null;
}
"#;
