// Storage that stays (issue 11): asking the browser to keep this origin's data
// (`navigator.storage.persist()`, when a premium user turns voice on), what the origin holds
// (`navigator.storage.estimate()`, shown in settings), and the recovery when the browser evicted
// the database anyway: the voice cache is rebuilt from the server's index of the user's clips
// (`GET /v1/voice/cache`, each clip's audio from `GET /v1/voice/cache/{id}`). The outbox cannot be
// rebuilt (what was queued was never sent); everything else in the database is derived.

import { api } from './api';
import type { CoachClient, Tone } from './coach';
import type { VoiceCacheList, VoiceInteractionsList } from 'coach-wasm';

/** What the browser says about this origin's storage. */
export interface StorageState {
	/** Bytes used by this origin (all of it: IndexedDB, the service worker's cache, …). */
	usage: number | null;
	/** Bytes the browser would let it use. */
	quota: number | null;
	/** The browser promised not to evict this origin's data under storage pressure. */
	persisted: boolean | null;
}

/** The estimate and the persistence state (nulls where the browser does not say). */
export async function storageState(): Promise<StorageState> {
	const s = typeof navigator !== 'undefined' ? navigator.storage : undefined;
	const [estimate, persisted] = await Promise.all([
		s?.estimate ? s.estimate().catch(() => null) : null,
		s?.persisted ? s.persisted().catch(() => null) : null
	]);
	return { usage: estimate?.usage ?? null, quota: estimate?.quota ?? null, persisted };
}

/** Asks the browser to keep this origin's data (the voice clips, the outbox); whether it will.
 *  Chromium decides without a prompt (from how much the site is used or installed); Firefox asks
 *  the user, so this is called from a click (saving voice settings, the settings' button). */
export async function requestPersistence(): Promise<boolean> {
	const s = typeof navigator !== 'undefined' ? navigator.storage : undefined;
	if (!s?.persist) return false;
	try {
		if (s.persisted && (await s.persisted())) return true;
		return await s.persist();
	} catch {
		return false;
	}
}

/** What a rebuild did. */
export interface Rebuilt {
	/** Clips downloaded into the local cache. */
	restored: number;
	/** Of those, clips whose line text was found again (they can be played offline as a line). */
	withText: number;
}

/** Workouts read to find the texts of rebuilt clips (their voice interactions hold the line). */
const TEXT_LOOKBACK_WORKOUTS = 20;

let rebuilding: Promise<Rebuilt | null> | null = null;

/** After an eviction (the local voice cache is empty while the server lists clips of this user),
 *  downloads the clips again, at most the local cache's capacity, most recently used first. Null
 *  when there was nothing to do. Online only; a failure leaves the cache as it was (the next
 *  start tries again). One rebuild at a time per tab. */
export function rebuildVoiceCache(client: CoachClient, token: string): Promise<Rebuilt | null> {
	if (!rebuilding) {
		rebuilding = rebuild(client, token).finally(() => (rebuilding = null));
	}
	return rebuilding;
}

async function rebuild(client: CoachClient, token: string): Promise<Rebuilt | null> {
	if (!client.online) return null;
	const cache = await client.voiceCache();
	if ((await cache.list()).length > 0) return null;
	const index = (await client.listCachedClips()) as VoiceCacheList;
	const now = Date.now();
	const live = index.cacheEntries.filter((e) => !e.expiresAt || Date.parse(e.expiresAt) > now);
	const entries = live.slice(0, cache.maxEntries);
	if (entries.length === 0) return null;
	const wanted = new Set(entries.map((e) => e.textHash));
	const texts = await lineTexts(client, token, wanted).catch(() => new Map<string, string>());
	let restored = 0;
	let withText = 0;
	// oldest first, so the most recently used clip is the newest locally as well
	for (const e of [...entries].reverse()) {
		let audio: Blob;
		try {
			audio = await client.getCachedClip(e.id);
		} catch {
			continue; // gone from the server's store meanwhile
		}
		const text = texts.get(e.textHash) ?? null;
		await cache.put(e.textHash, audio, {
			text,
			tone: e.tone,
			context: e.context,
			duration: e.duration,
			generatedAt: e.generatedAt,
			expiresAt: e.expiresAt,
			cacheId: e.id
		});
		restored += 1;
		if (text) withText += 1;
	}
	return { restored, withText };
}

/** The line texts of the clips `wanted` (shared cache keys): the server's index keeps no text,
 *  but the voice interactions of the user's recent workouts do; each text's key is computed with
 *  the current voice profile (`CoachClient.cacheKey`), so a clip made with another voice keeps no
 *  text (it still plays whenever that line is spoken again). */
async function lineTexts(client: CoachClient, token: string, wanted: Set<string>): Promise<Map<string, string>> {
	const found = new Map<string, string>();
	const list = await api<{ workouts: { id: string }[] }>('GET', `/v1/workouts?limit=${TEXT_LOOKBACK_WORKOUTS}`, { token });
	for (const w of list.workouts) {
		if (found.size === wanted.size) break;
		const { interactions } = (await client.listInteractions(w.id)) as VoiceInteractionsList;
		for (const i of interactions) {
			const key = await client.cacheKey(i.aiResponseText, i.voiceTone as Tone);
			if (wanted.has(key) && !found.has(key)) found.set(key, i.aiResponseText);
		}
	}
	return found;
}
