// The exercises the workout screen offers, once: the id the API stores (`exerciseType`, the shared
// rule `[a-z0-9_]{1,64}`, so the server accepts any such id and keeps no list of its own) and the
// name a lifter reads. Search matches the name, the id and common short forms; the user's recent
// exercises come first (from their logged sets on the server and, offline, from this browser).

export interface Exercise {
	/** `exerciseType` as sent to the API, e.g. `bench_press`. */
	id: string;
	/** What the screen shows, e.g. "Bench press". */
	name: string;
	/** Other words people search with (`ohp`, `rdl`). */
	aliases?: string[];
}

export const EXERCISES: readonly Exercise[] = [
	{ id: 'bench_press', name: 'Bench press', aliases: ['bench', 'flat bench'] },
	{ id: 'squat', name: 'Back squat', aliases: ['squat'] },
	{ id: 'deadlift', name: 'Deadlift', aliases: ['dl'] },
	{ id: 'overhead_press', name: 'Overhead press', aliases: ['ohp', 'military press', 'shoulder press'] },
	{ id: 'barbell_row', name: 'Barbell row', aliases: ['bent-over row'] },
	{ id: 'pull_up', name: 'Pull-up', aliases: ['pullup'] },
	{ id: 'chin_up', name: 'Chin-up', aliases: ['chinup'] },
	{ id: 'lunge', name: 'Lunge' },
	{ id: 'front_squat', name: 'Front squat' },
	{ id: 'romanian_deadlift', name: 'Romanian deadlift', aliases: ['rdl'] },
	{ id: 'incline_bench_press', name: 'Incline bench press', aliases: ['incline'] },
	{ id: 'dumbbell_bench_press', name: 'Dumbbell bench press', aliases: ['db bench'] },
	{ id: 'hip_thrust', name: 'Hip thrust' },
	{ id: 'leg_press', name: 'Leg press' },
	{ id: 'bulgarian_split_squat', name: 'Bulgarian split squat', aliases: ['bss', 'split squat'] },
	{ id: 'goblet_squat', name: 'Goblet squat' },
	{ id: 'lat_pulldown', name: 'Lat pulldown', aliases: ['pulldown'] },
	{ id: 'seated_cable_row', name: 'Seated cable row', aliases: ['cable row'] },
	{ id: 'dip', name: 'Dip', aliases: ['dips'] },
	{ id: 'push_up', name: 'Push-up', aliases: ['pushup'] },
	{ id: 'bicep_curl', name: 'Biceps curl', aliases: ['curl'] },
	{ id: 'tricep_extension', name: 'Triceps extension', aliases: ['skull crusher'] },
	{ id: 'lateral_raise', name: 'Lateral raise', aliases: ['side raise'] },
	{ id: 'face_pull', name: 'Face pull' },
	{ id: 'leg_curl', name: 'Leg curl', aliases: ['hamstring curl'] },
	{ id: 'leg_extension', name: 'Leg extension' },
	{ id: 'calf_raise', name: 'Calf raise' },
	{ id: 'kettlebell_swing', name: 'Kettlebell swing', aliases: ['kb swing'] },
	{ id: 'farmer_carry', name: "Farmer's carry", aliases: ['farmers walk'] }
];

const byId = new Map(EXERCISES.map((e) => [e.id, e]));

/** The id a typed name becomes (`"Zercher squat"` → `zercher_squat`), or null when nothing is left. */
export function toExerciseId(text: string): string | null {
	const id = text
		.normalize('NFKD')
		.toLowerCase()
		.replace(/[^a-z0-9]+/g, '_')
		.replace(/^_+|_+$/g, '')
		.slice(0, 64)
		.replace(/_+$/, '');
	return id ? id : null;
}

/** The name of an id: the list's, or the id made readable (`zercher_squat` → "Zercher squat"). */
export function exerciseName(id: string): string {
	const known = byId.get(id);
	if (known) return known.name;
	const words = id.replace(/_+/g, ' ').trim();
	return words ? words[0].toUpperCase() + words.slice(1) : id;
}

const fold = (s: string) => s.normalize('NFKD').toLowerCase().replace(/[^a-z0-9]+/g, ' ').trim();

/** The exercises matching `query` (every word is the start of a word of the name, the id or an
 *  alias), best first: the user's recent ones, then names that start with the query, then the rest
 *  in list order. An empty query lists everything, recent first. */
export function searchExercises(query: string, recent: readonly string[] = []): Exercise[] {
	const q = fold(query).split(' ').filter(Boolean);
	const all: Exercise[] = [...recent.filter((id) => !byId.has(id)).map((id) => ({ id, name: exerciseName(id) })), ...EXERCISES];
	const matches = (e: Exercise) => {
		const words = [e.name, e.id, ...(e.aliases ?? [])].flatMap((t) => fold(t).split(' '));
		return q.every((w) => words.some((x) => x.startsWith(w)));
	};
	const rank = (e: Exercise) => {
		const r = recent.indexOf(e.id);
		if (r >= 0) return r;
		return recent.length + (q.length && fold(e.name).startsWith(q.join(' ')) ? 0 : 1);
	};
	return all
		.filter(matches)
		.map((e, i) => ({ e, i, r: rank(e) }))
		.sort((a, b) => a.r - b.r || a.i - b.i)
		.map((x) => x.e);
}

/** Distinct exercise ids, most recent first, at most `max`. */
export function recentIds(newestFirst: readonly string[], max = 5): string[] {
	const out: string[] = [];
	for (const id of newestFirst) if (!out.includes(id)) out.push(id);
	return out.slice(0, max);
}

const storeKey = (hashedUserId: string) => `coach.recentExercises.${hashedUserId.slice(0, 32)}`;

/** The recent exercises this browser remembers for the user (works offline). */
export function rememberedRecent(hashedUserId: string): string[] {
	try {
		const v = JSON.parse(localStorage.getItem(storeKey(hashedUserId)) ?? '[]');
		return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && toExerciseId(x) === x) : [];
	} catch {
		return [];
	}
}

/** Remembers the recent exercises (a handful of ids: no workout data). */
export function rememberRecent(hashedUserId: string, ids: readonly string[]): void {
	try {
		localStorage.setItem(storeKey(hashedUserId), JSON.stringify(ids.slice(0, 5)));
	} catch {
		// storage full or disabled: the list is rebuilt from the server next time
	}
}

/** Forgets them (account deletion). */
export function forgetRecent(hashedUserId: string): void {
	localStorage.removeItem(storeKey(hashedUserId));
}
