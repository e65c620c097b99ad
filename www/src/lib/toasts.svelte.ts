// Toast notifications: a short queue rendered by <Toasts/> in an aria-live region, so screen
// readers announce each one. Coach lines always appear here, whether or not they were spoken.

export type ToastKind = 'coach' | 'info' | 'success' | 'error';

export interface Toast {
	id: number;
	kind: ToastKind;
	/** Bold first line (e.g. "Alice · hype"). */
	title: string;
	/** The text itself (a coach line is shown whole). */
	text: string;
	/** A small note (e.g. "Voice off: text only"). */
	note?: string;
}

let next = 1;

class Toasts {
	items = $state<Toast[]>([]);

	/** Shows a toast for `ms` milliseconds (coach lines stay longer than notes). */
	show(kind: ToastKind, title: string, text: string, note?: string, ms = kind === 'coach' ? 12000 : 6000): number {
		const id = next++;
		this.items = [...this.items.slice(-3), { id, kind, title, text, note }];
		setTimeout(() => this.dismiss(id), ms);
		return id;
	}

	dismiss(id: number): void {
		this.items = this.items.filter((t) => t.id !== id);
	}
}

export const toasts = new Toasts();
