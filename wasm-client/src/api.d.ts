// Generated from coach-shared's Rust types by ts-rs (shared/src/ts.rs): do not edit.
// COACH_UPDATE_TS=1 cargo test -p xtask --test ts_declarations rewrites this file.

export type PiiKind = "email" | "phone" | "card_number" | "ssn" | "iban" | "ip_address" | "name";

export type ClipKeyParts = { 
/**
 * The text as the user sent it (normalized by [`clip_cache_key`]).
 */
text: string, 
/**
 * Provider voice: an ElevenLabs voice id, or a local engine voice such as `en-us+f3`.
 */
voice: string, 
/**
 * Tone.
 */
tone: Tone, 
/**
 * The provider's canonical settings string for the tone (e.g. stability/style/speed).
 */
settings: string, 
/**
 * Provider and model, e.g. `elevenlabs/eleven_multilingual_v2` or `espeak-ng/1`.
 */
model: string, 
/**
 * Output format, e.g. `mp3_22050_48`.
 */
format: string, };

export type VoiceCloneState = "not_configured" | "cloning" | "ready" | "active" | "needs_update";

export type VoicePreferences = { 
/**
 * Identifier.
 */
id: string, 
/**
 * Owner.
 */
userId: string, 
/**
 * Coach personality.
 */
personality: Personality, 
/**
 * Global voice on/off.
 */
voiceEnabled: boolean, 
/**
 * Pick the tone from the workout context.
 */
toneAdaptation: boolean, 
/**
 * Enhanced visual/haptic feedback.
 */
accessibilityMode: boolean, 
/**
 * The cloned voice at the provider, when ready.
 */
elevenLabsVoiceId: string | null, 
/**
 * Clone setup status.
 */
voiceCloneStatus: VoiceCloneState, 
/**
 * Last voice configuration change.
 */
lastVoiceSetup: string | null, };

export type VoicePreferencesUpdate = { 
/**
 * Coach personality.
 */
personality?: Personality | null, 
/**
 * Global voice on/off.
 */
voiceEnabled?: boolean | null, 
/**
 * Pick the tone from the workout context.
 */
toneAdaptation?: boolean | null, 
/**
 * Enhanced visual/haptic feedback.
 */
accessibilityMode?: boolean | null, };

export type ToneSettings = { 
/**
 * Settings used for `whisper`.
 */
whisper: string, 
/**
 * Settings used for `neutral`.
 */
neutral: string, 
/**
 * Settings used for `hype`.
 */
hype: string, };

export type VoiceProfile = { 
/**
 * `local` or `elevenlabs`.
 */
provider: string, 
/**
 * Provider and model, e.g. `espeak-ng/1` or `elevenlabs/eleven_multilingual_v2`.
 */
model: string, 
/**
 * Output format, e.g. `mp3_22050_48`.
 */
format: string, 
/**
 * Personality in effect.
 */
personality: Personality, 
/**
 * Provider voice in effect: the user's cloned voice when ready, else the personality's.
 */
voice: string, 
/**
 * Settings per tone.
 */
settings: ToneSettings, 
/**
 * Whether voice is on.
 */
voiceEnabled: boolean, 
/**
 * Whether the tone follows the context.
 */
toneAdaptation: boolean, };

export type VoiceSynthesisRequest = { 
/**
 * At most 280 characters.
 */
text: string, 
/**
 * Requested tone (may be adapted from `context` when tone adaptation is on).
 */
tone: Tone, 
/**
 * Workout context, e.g. `high_strain_set`.
 */
context: string, 
/**
 * Keep the clip in the user's cache index (default true).
 */
enableCaching?: boolean, 
/**
 * Personality override.
 */
personality?: Personality | null, 
/**
 * Use `tone` as given even when tone adaptation is on (extension; default false).
 */
forceTone?: boolean, };

export type VoiceSynthesisResponse = { 
/**
 * Immutable URL of the clip.
 */
audioUrl: string, 
/**
 * Seconds, read from the audio.
 */
duration: number, 
/**
 * Whether the clip was already in the clip store (no provider call).
 */
cached: boolean, 
/**
 * The user's cache index entry, when caching was enabled.
 */
cacheId: string | null, 
/**
 * Milliseconds spent producing the audio for this request.
 */
generationLatency: number, 
/**
 * The tone actually used (extension).
 */
tone: Tone, 
/**
 * The shared cache key of the clip (extension): the browser's IndexedDB uses the same key.
 */
cacheKey: string, };

export type VoiceCacheEntry = { 
/**
 * Entry identifier.
 */
id: string, 
/**
 * The shared cache key of the clip (hash of everything that changes the audio).
 */
textHash: string, 
/**
 * Tone used.
 */
tone: Tone, 
/**
 * Workout context.
 */
context: string, 
/**
 * When the clip was generated.
 */
generatedAt: string, 
/**
 * Last time it was played or requested.
 */
lastUsedAt: string, 
/**
 * Times played or requested.
 */
usageCount: number, 
/**
 * Seconds.
 */
duration: number, 
/**
 * When the entry expires, if ever.
 */
expiresAt: string | null, };

export type VoiceCacheList = { 
/**
 * Entries (filtered).
 */
cacheEntries: Array<VoiceCacheEntry>, 
/**
 * Number of entries returned.
 */
totalEntries: number, 
/**
 * Size of the returned entries' audio in MB.
 */
totalSize: number, 
/**
 * At most this many entries are kept.
 */
maxEntries: number, };

export type VoiceCacheClearRequest = { 
/**
 * Clear everything.
 */
clearAll?: boolean, 
/**
 * Clear these entries.
 */
cacheIds?: Array<string> | null, 
/**
 * Clear entries of this context.
 */
context?: string | null, 
/**
 * Clear entries generated before this time.
 */
olderThan?: string | null, };

export type VoiceCacheClearResponse = { 
/**
 * Entries removed.
 */
clearedEntries: number, 
/**
 * Entries left.
 */
remainingEntries: number, 
/**
 * MB of audio no longer referenced by this user.
 */
freedSpace: number, };

export type VoiceInteractionRequest = { 
/**
 * One of the caller's workout entries.
 */
workoutEntryId: string, 
/**
 * At most 280 characters.
 */
aiResponseText: string, 
/**
 * Tone used.
 */
voiceTone: Tone, 
/**
 * Whether audio actually played.
 */
wasVoicePlayed: boolean, 
/**
 * Whether the audio came from a cache.
 */
wasCached?: boolean, 
/**
 * Milliseconds, ≥ 0.
 */
generationLatency?: number | null, 
/**
 * Milliseconds, ≥ 0.
 */
playbackLatency?: number | null, };

export type VoiceInteraction = { 
/**
 * Identifier.
 */
id: string, 
/**
 * The workout entry.
 */
workoutEntryId: string, 
/**
 * Text spoken or shown.
 */
aiResponseText: string, 
/**
 * Tone used.
 */
voiceTone: Tone, 
/**
 * Whether audio actually played.
 */
wasVoicePlayed: boolean, 
/**
 * Whether the audio came from a cache.
 */
wasCached: boolean, 
/**
 * Milliseconds.
 */
generationLatency: number | null, 
/**
 * Milliseconds.
 */
playbackLatency: number | null, 
/**
 * When it was recorded.
 */
timestamp: string, };

export type VoiceInteractionsList = { 
/**
 * This page of the interactions, oldest first.
 */
interactions: Array<VoiceInteraction>, 
/**
 * How many the workout has (all pages).
 */
totalInteractions: number, 
/**
 * Mean of the non-null generation latencies of the workout (ms).
 */
averageGenerationLatency: number | null, 
/**
 * Mean of the non-null playback latencies of the workout (ms).
 */
averagePlaybackLatency: number | null, 
/**
 * Percentage (0–100) of interactions served from a cache.
 */
cacheHitRate: number | null, 
/**
 * Extension (the contract's object allows more properties): pass as `cursor` for the next
 * page. Present when the page came back full (the paging rule of every list), absent
 * otherwise — so a workout with fewer interactions than `limit` answers exactly as before
 * paging. `totalInteractions` and the averages always cover the whole workout.
 */
nextCursor?: string | null, };

export type CloneJobStatus = "processing" | "completed" | "failed";

export type VoiceCloneResponse = { 
/**
 * Job identifier.
 */
cloneId: string, 
/**
 * Job status.
 */
status: CloneJobStatus, 
/**
 * When the job is expected to finish.
 */
estimatedCompletionTime: string, 
/**
 * Provider-side job identifier (the job id when the provider has none).
 */
elevenLabsJobId: string | null, };

export type VoiceCloneStatus = { 
/**
 * Job identifier.
 */
cloneId: string, 
/**
 * Job status.
 */
status: CloneJobStatus, 
/**
 * 0–100.
 */
progress: number, 
/**
 * The provider's voice id once completed.
 */
elevenLabsVoiceId: string | null, 
/**
 * Why the job failed.
 */
errorMessage: string | null, 
/**
 * When the job finished.
 */
completedAt: string | null, };

export type TrainingDataStatus = "received" | "validated" | "queued_for_training";

export type TrainingDataResponse = { 
/**
 * Record identifier.
 */
id: string, 
/**
 * Processing status.
 */
status: TrainingDataStatus, 
/**
 * The training batch, once assigned.
 */
batchId: string | null, };

export type CoachRequest = { 
/**
 * Take the context from this logged set (own workouts only).
 */
workoutEntryId?: string | null, 
/**
 * e.g. `bench_press` (required without `workoutEntryId`).
 */
exerciseType?: string | null, 
/**
 * 1–20.
 */
setNumber?: number | null, 
/**
 * 0–100.
 */
strainPercentage?: number | null, 
/**
 * Why the set was skipped.
 */
skipReason?: string | null, 
/**
 * 0–24.
 */
sleepHours?: number | null, 
/**
 * Context tags.
 */
contextTags?: Array<string>, };

export type CoachResponse = { 
/**
 * At most 280 characters, no PII.
 */
text: string, 
/**
 * Tone that fits the context.
 */
tone: Tone, 
/**
 * Version of the model that wrote it, or `rules` for the rule-based fallback.
 */
modelVersion: string, };

export type User = { 
/**
 * Identifier chosen by the app's backend.
 */
id: string, 
/**
 * Email address (never leaves the server; used to detect PII in free text).
 */
email: string, 
/**
 * Display name (used to detect names in free text).
 */
name: string | null, 
/**
 * Premium users get synthesis, cloning and voice preferences.
 */
isPremium: boolean, 
/**
 * Training data is collected only while this is true (default false).
 */
dataCollectionConsent: boolean, 
/**
 * The user's cloned voice at the speech provider, when one exists.
 */
voiceId: string | null, 
/**
 * When the user was created.
 */
createdAt: string, 
/**
 * When the user was last changed.
 */
updatedAt: string, };

export type CreateWorkoutRequest = { 
/**
 * e.g. `bench_press`: 1–64 characters of `[a-z0-9_]`.
 */
exerciseType: string, 
/**
 * 1–20.
 */
setNumber: number, 
/**
 * 0–1000.
 */
weight: number, 
/**
 * 0–200.
 */
reps: number, 
/**
 * RPE, 0–10.
 */
perceivedExertion: number, 
/**
 * 0–100.
 */
strainPercentage?: number | null, 
/**
 * 0–24.
 */
sleepHours?: number | null, 
/**
 * Short reason, no PII.
 */
skipReason?: string | null, };

export type WorkoutEntry = { 
/**
 * Identifier.
 */
id: string, 
/**
 * Owner.
 */
userId: string, 
/**
 * e.g. `bench_press`.
 */
exerciseType: string, 
/**
 * 1–20.
 */
setNumber: number, 
/**
 * Weight lifted, 0–1000.
 */
weight: number, 
/**
 * Repetitions, 0–200.
 */
reps: number, 
/**
 * RPE, 0–10.
 */
perceivedExertion: number, 
/**
 * Strain 0–100, when the app measured it.
 */
strainPercentage: number | null, 
/**
 * Sleep the night before, 0–24 h.
 */
sleepHours: number | null, 
/**
 * Why the set was skipped, if it was.
 */
skipReason: string | null, 
/**
 * Whether this entry has been turned into a training record.
 */
exportedForTraining: boolean, 
/**
 * When it was logged.
 */
createdAt: string, };
