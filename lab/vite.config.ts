import { defineConfig } from 'vite';

// The lab is a static site: relative asset paths, so `ngrad lab` (or any static server) can serve it from
// any folder; workers as ES modules, because the worker imports the library.
export default defineConfig({
  root: import.meta.dirname,
  base: './',
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 1500 },
  worker: { format: 'es' },
});
