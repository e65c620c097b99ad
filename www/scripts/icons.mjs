#!/usr/bin/env node
// Draws the app's icons (the favicon's design: a green rounded square with a white pulse line) as
// PNG files for the web app manifest and iOS, deterministically: the same bytes on every run, no
// image tool needed (pixels computed here, antialiased by 4×4 supersampling, encoded with zlib).
//
//   node scripts/icons.mjs      # writes static/icons/*.png (committed; rerun after a design change)
//
// `maskable` icons fill the whole square (the platform applies its own mask) and keep the line
// inside the 80 % safe zone; `any` icons are the rounded square on a transparent background.

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';

const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'static', 'icons');
const GREEN = [0x0b, 0x5d, 0x4b];
const WHITE = [0xff, 0xff, 0xff];
// the favicon's pulse, in a 64-unit square
const PULSE = [[14, 36], [22, 36], [27, 22], [35, 46], [41, 30], [44, 36], [50, 36]];

function segDist(px, py, [ax, ay], [bx, by]) {
	const dx = bx - ax, dy = by - ay;
	const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)));
	return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

/** Coverage of (x, y) in 64-unit space: [inside the square, on the line]. */
function sample(x, y, { maskable }) {
	let inSquare;
	if (maskable) inSquare = true;
	else {
		const r = 14, cx = Math.min(Math.max(x, r), 64 - r), cy = Math.min(Math.max(y, r), 64 - r);
		inSquare = x >= 0 && x <= 64 && y >= 0 && y <= 64 && Math.hypot(x - cx, y - cy) <= r;
	}
	// maskable: the line shrunk to the safe zone (80 % around the centre)
	const k = maskable ? 0.8 : 1, ux = 32 + (x - 32) / k, uy = 32 + (y - 32) / k;
	let d = Infinity;
	for (let i = 1; i < PULSE.length; i++) d = Math.min(d, segDist(ux, uy, PULSE[i - 1], PULSE[i]));
	return [inSquare, d <= 2.5];
}

function pixels(size, opts) {
	const rgba = Buffer.alloc(size * size * 4);
	const n = 4; // supersampling per axis
	for (let py = 0; py < size; py++) {
		for (let px = 0; px < size; px++) {
			let a = 0, line = 0;
			for (let sy = 0; sy < n; sy++) {
				for (let sx = 0; sx < n; sx++) {
					const [inside, onLine] = sample(((px + (sx + 0.5) / n) * 64) / size, ((py + (sy + 0.5) / n) * 64) / size, opts);
					if (inside) {
						a++;
						if (onLine) line++;
					}
				}
			}
			const i = (py * size + px) * 4;
			const f = a ? line / a : 0;
			for (let c = 0; c < 3; c++) rgba[i + c] = Math.round(GREEN[c] * (1 - f) + WHITE[c] * f);
			rgba[i + 3] = Math.round((a / (n * n)) * 255);
		}
	}
	return rgba;
}

const CRC = new Uint32Array(256).map((_, n) => {
	let c = n;
	for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
	return c >>> 0;
});
const crc32 = (buf) => {
	let c = 0xffffffff;
	for (const b of buf) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
	return (c ^ 0xffffffff) >>> 0;
};
function chunk(type, data) {
	const len = Buffer.alloc(4);
	len.writeUInt32BE(data.length);
	const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
	const crc = Buffer.alloc(4);
	crc.writeUInt32BE(crc32(td));
	return Buffer.concat([len, td, crc]);
}

function png(size, opts) {
	const rgba = pixels(size, opts);
	const raw = Buffer.alloc(size * (size * 4 + 1));
	for (let y = 0; y < size; y++) {
		raw[y * (size * 4 + 1)] = 0; // filter: none
		rgba.copy(raw, y * (size * 4 + 1) + 1, y * size * 4, (y + 1) * size * 4);
	}
	const ihdr = Buffer.alloc(13);
	ihdr.writeUInt32BE(size, 0);
	ihdr.writeUInt32BE(size, 4);
	ihdr.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA
	return Buffer.concat([
		Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
		chunk('IHDR', ihdr),
		chunk('IDAT', deflateSync(raw, { level: 9 })),
		chunk('IEND', Buffer.alloc(0))
	]);
}

mkdirSync(out, { recursive: true });
const icons = [
	['icon-192.png', 192, { maskable: false }],
	['icon-512.png', 512, { maskable: false }],
	['maskable-192.png', 192, { maskable: true }],
	['maskable-512.png', 512, { maskable: true }],
	// iOS draws its own rounded corners and ignores transparency: the full square
	['apple-touch-icon.png', 180, { maskable: true }]
];
for (const [name, size, opts] of icons) {
	const bytes = png(size, opts);
	writeFileSync(join(out, name), bytes);
	console.log(`${name}: ${size}×${size}, ${bytes.length} bytes`);
}
