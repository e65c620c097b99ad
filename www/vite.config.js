import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vite';

// Where `cargo xtask run` starts the Coach server.
const backend = process.env.COACH_BACKEND ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [sveltekit()],
  // coach-wasm is a wasm-bindgen `--target web` package: it loads its .wasm via
  // `new URL('coach_wasm_bg.wasm', import.meta.url)`, which dependency
  // pre-bundling would break.
  optimizeDeps: { exclude: ['coach-wasm'] },
  server: {
    proxy: {
      '/v1': backend,
      '/health': backend,
      '/ready': backend
    }
  }
});
