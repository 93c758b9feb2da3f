import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// No `base` here: build-app.sh's `vite build --base=/$BASE_PATH` sets it.
export default defineConfig({ plugins: [react()] });
