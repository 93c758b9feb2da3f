// Serves the built page and, under /api, what the page asks of DataRobot (the token stays here).
import express from "express";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, "client", "dist");
const endpoint = (process.env.DATAROBOT_ENDPOINT || "").replace(/\/+$/, "");
const app = express();

app.get("/api/projects", async (_request, response) => {
  try {
    const answer = await fetch(`${endpoint}/projects/`, {
      headers: { Authorization: `Bearer ${process.env.DATAROBOT_API_TOKEN}` },
    });
    const projects = await answer.json();
    response.json(projects.map((project) => ({ id: project.id, name: project.projectName })));
  } catch (error) {
    response.status(502).json({ message: `DataRobot unreachable: ${error.message}` });
  }
});
app.use(express.static(dist));
app.get("/", (_request, response) => response.sendFile(path.join(dist, "index.html")));

const port = Number(process.env.PORT || 8080);
app.listen(port, () => console.log(`Listening on ${port}`));
