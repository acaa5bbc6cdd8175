// Vite build of the Pyxis web UI. `npm run dev` proxies /api2 (REST and websockets)
// to a local pyxisd on :8006 (self-signed certificate, hence secure: false).
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath, URL } from 'node:url';

const target = process.env.PYXIS_API ?? 'https://localhost:8006';

export default defineConfig({
  base: '/',
  plugins: [react()],
  optimizeDeps: { esbuildOptions: { target: 'es2022' } },
  resolve: {
    alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) },
  },
  server: {
    proxy: {
      '/api2': { target, secure: false, changeOrigin: true, ws: true },
    },
  },
  build: {
    outDir: 'dist',
    sourcemap: false,
    // noVNC uses top-level await
    target: 'es2022',
    chunkSizeWarningLimit: 1500,
    rollupOptions: {
      output: {
        // the PatternFly/React core is shared by every page; keep it one cacheable chunk
        manualChunks: {
          react: ['react', 'react-dom'],
        },
      },
    },
  },
});
