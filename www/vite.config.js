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
  build: {
    // Rolldown prints a plugin-timings note when a build takes a few seconds; almost all of it is
    // SvelteKit writing the site, so it is noise here.
    rolldownOptions: { checks: { bundlerTimings: false } }
  },
  server: {
    // `coach-wasm` is a `file:` dependency, i.e. a symlink to ../wasm-client/pkg: let the dev
    // server read its .wasm from there.
    fs: { allow: ['../wasm-client/pkg'] },
    proxy: {
      '/v1': backend,
      '/health': backend,
      '/ready': backend
    }
  }
});
