import express from "express";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const { DEPLOYMENT_ID, PREDICTION_SERVER_URL, DATAROBOT_API_TOKEN, DATAROBOT_KEY } = process.env;
const app = express();
app.use(express.json({ limit: "100kb" }));

app.post("/api/score", async (req, res) => {
  const url = `${PREDICTION_SERVER_URL}/predApi/v1.0/deployments/${DEPLOYMENT_ID}/predictions`;
  const headers = {
    "Content-Type": "application/json",
    Authorization: `Bearer ${DATAROBOT_API_TOKEN}`,
  };
  if (DATAROBOT_KEY) headers["DataRobot-Key"] = DATAROBOT_KEY;
  try {
    const response = await fetch(url, {
      method: "POST",
      headers,
      body: JSON.stringify([req.body]),
    });
    const body = await response.json();
    if (!response.ok) return res.status(response.status).json(body);
    res.json({ prediction: body.data[0].prediction });
  } catch (error) {
    res.status(502).json({ message: error.message });
  }
});

app.use(express.static(path.join(here, "dist")));
const port = Number(process.env.PORT || 8080);
app.listen(port, process.env.BIND_ADDRESS || "0.0.0.0", () => console.log(`What-if Simulator on port ${port}`));
