import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// Built into the Python package, which serves it under /console (see src/orderloom/api/console.py).
export default defineConfig({
  base: "/console/",
  plugins: [react()],
  build: {
    outDir: "../src/orderloom/console/dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 7000, // the lazily loaded JDM editor + Monaco chunk is ~6 MB
  },
  server: {
    proxy: { "/v1": "http://127.0.0.1:8000", "/healthz": "http://127.0.0.1:8000" },
  },
  test: {
    environment: "jsdom",
    include: ["tests/**/*.test.tsx", "tests/**/*.test.ts"],
  },
});
