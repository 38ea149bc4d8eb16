// The workbench is served by verso at /editor; `vite build` writes index.html and assets/ into
// the directory CMake names (VERSO_WEB_OUT: build/web beside the binary).
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/editor/',
  build: {
    outDir: process.env.VERSO_WEB_OUT ?? 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    target: 'es2022',
  },
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
  },
});
