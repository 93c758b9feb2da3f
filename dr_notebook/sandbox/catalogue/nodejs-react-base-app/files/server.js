import express from "express";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const endpoint = (process.env.DATAROBOT_ENDPOINT || "https://app.datarobot.com/api/v2")
  .replace(/\/$/, "");
const token = process.env.DATAROBOT_API_TOKEN;
const app = express();

app.get("/healthz", (_req, res) => res.json({ status: "ok" }));

app.get("/api/deployments", async (_req, res) => {
  try {
    const response = await fetch(`${endpoint}/deployments/?limit=20`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    const body = await response.json();
    res.status(response.status).json(body);
  } catch (error) {
    res.status(502).json({ message: `DataRobot is unreachable: ${error.message}` });
  }
});

app.use(express.static(path.join(here, "dist")));
app.get("*", (_req, res) => res.sendFile(path.join(here, "dist", "index.html")));

const port = Number(process.env.PORT || 8080);
app.listen(port, process.env.BIND_ADDRESS || "0.0.0.0", () => console.log(`Listening on port ${port}`));
