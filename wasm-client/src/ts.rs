//! TypeScript declarations of the API bodies, written by hand to mirror `coach_shared::types`
//! (camelCase, the contracts' enums). The exports take and return plain objects of these shapes
//! (serde ⇄ JS through `serde-wasm-bindgen`); every response is decoded into the shared Rust type
//! first, so a body that breaks the contract is an `invalid_response` error, never a surprise.

use wasm_bindgen::prelude::*;

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

export type VoiceCloneState = 'not_configured' | 'cloning' | 'ready' | 'active' | 'needs_update';

export interface VoicePreferences {
  id: string;
  userId: string;
  personality: Personality;
  voiceEnabled: boolean;
  toneAdaptation: boolean;
  accessibilityMode: boolean;
  elevenLabsVoiceId: string | null;
  voiceCloneStatus: VoiceCloneState;
  lastVoiceSetup: string | null;
}

/** Only the fields present change. */
export interface VoicePreferencesUpdate {
  personality?: Personality;
  voiceEnabled?: boolean;
  toneAdaptation?: boolean;
  accessibilityMode?: boolean;
}

export interface ToneSettings { whisper: string; neutral: string; hype: string }

/** Everything that, besides text and tone, decides a clip's audio for the caller right now. */
export interface VoiceProfile {
  provider: string;
  model: string;
  format: string;
  personality: Personality;
  voice: string;
  settings: ToneSettings;
  voiceEnabled: boolean;
  toneAdaptation: boolean;
}

export interface VoiceSynthesisRequest {
  /** At most 280 characters. */
  text: string;
  tone: Tone;
  context: string;
  enableCaching?: boolean;
  personality?: Personality | null;
  forceTone?: boolean;
}

export interface VoiceSynthesisResponse {
  audioUrl: string;
  /** Seconds. */
  duration: number;
  cached: boolean;
  cacheId: string | null;
  /** Milliseconds. */
  generationLatency: number;
  tone: Tone;
  cacheKey: string;
}

/** One entry of the server's cache index. */
export interface VoiceCacheEntry {
  id: string;
  textHash: string;
  tone: Tone;
  context: string;
  generatedAt: string;
  lastUsedAt: string;
  usageCount: number;
  duration: number;
  expiresAt: string | null;
}

export interface VoiceCacheList {
  cacheEntries: VoiceCacheEntry[];
  totalEntries: number;
  /** MB. */
  totalSize: number;
  maxEntries: number;
}

/** Criteria combine with OR. */
export interface VoiceCacheClearRequest {
  clearAll?: boolean;
  cacheIds?: string[];
  context?: string;
  olderThan?: string;
}

export interface VoiceCacheClearResponse { clearedEntries: number; remainingEntries: number; freedSpace: number }

export interface VoiceInteractionRequest {
  workoutEntryId: string;
  aiResponseText: string;
  voiceTone: Tone;
  wasVoicePlayed: boolean;
  wasCached?: boolean;
  generationLatency?: number | null;
  playbackLatency?: number | null;
}

export interface VoiceInteraction {
  id: string;
  workoutEntryId: string;
  aiResponseText: string;
  voiceTone: Tone;
  wasVoicePlayed: boolean;
  wasCached: boolean;
  generationLatency: number | null;
  playbackLatency: number | null;
  timestamp: string;
}

export interface VoiceInteractionsList {
  interactions: VoiceInteraction[];
  totalInteractions: number;
  averageGenerationLatency: number | null;
  averagePlaybackLatency: number | null;
  cacheHitRate: number | null;
}

export type CloneJobStatus = 'processing' | 'completed' | 'failed';

export interface VoiceCloneResponse {
  cloneId: string;
  status: CloneJobStatus;
  estimatedCompletionTime: string;
  elevenLabsJobId: string | null;
}

export interface VoiceCloneStatus {
  cloneId: string;
  status: CloneJobStatus;
  progress: number;
  elevenLabsVoiceId: string | null;
  errorMessage: string | null;
  completedAt: string | null;
}

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

export type TrainingDataStatus = 'received' | 'validated' | 'queued_for_training';
export interface TrainingDataResponse { id: string; status: TrainingDataStatus; batchId: string | null }

export interface CoachRequest {
  workoutEntryId?: string | null;
  exerciseType?: string | null;
  setNumber?: number | null;
  strainPercentage?: number | null;
  skipReason?: string | null;
  sleepHours?: number | null;
  contextTags?: string[];
}
export interface CoachResponse { text: string; tone: Tone; modelVersion: string }

export interface User {
  id: string;
  email: string;
  name: string | null;
  isPremium: boolean;
  dataCollectionConsent: boolean;
  voiceId: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface CreateWorkoutRequest {
  exerciseType: string;
  setNumber: number;
  weight: number;
  reps: number;
  perceivedExertion: number;
  strainPercentage?: number | null;
  sleepHours?: number | null;
  skipReason?: string | null;
}

export interface WorkoutEntry {
  id: string;
  userId: string;
  exerciseType: string;
  setNumber: number;
  weight: number;
  reps: number;
  perceivedExertion: number;
  strainPercentage: number | null;
  sleepHours: number | null;
  skipReason: string | null;
  exportedForTraining: boolean;
  createdAt: string;
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
