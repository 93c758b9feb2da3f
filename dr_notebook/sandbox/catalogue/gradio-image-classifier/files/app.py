"""Gradio front end for a DataRobot Visual AI deployment."""

import base64
import io
import os
from urllib.parse import urlparse

import datarobot as dr
import gradio as gr
import pandas as pd
from datarobot_predict.deployment import predict
from PIL import Image

IMAGE_COLUMN = os.environ.get("IMAGE_COLUMN", "image")
dr.Client()
# Locally, without a deployment (no DEPLOYMENT_ID), the probabilities are stubs.
deployment = dr.Deployment.get(os.environ["DEPLOYMENT_ID"]) if os.getenv("DEPLOYMENT_ID") else None


def classify(image: Image.Image) -> dict[str, float]:
    if deployment is None:
        red, green, blue = image.convert("RGB").resize((1, 1)).getpixel((0, 0))
        total = red + green + blue + 3
        return {"reddish (stub)": (red + 1) / total, "greenish (stub)": (green + 1) / total,
                "bluish (stub)": (blue + 1) / total}  # fmt: skip
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG")
    encoded = base64.b64encode(buffer.getvalue()).decode()
    result = predict(deployment, pd.DataFrame({IMAGE_COLUMN: [encoded]})).dataframe.iloc[0]
    prefix = f"{deployment.model['target_name']}_"
    return {
        column.removeprefix(prefix).removesuffix("_PREDICTION"): float(value)
        for column, value in result.items()
        if column.endswith("_PREDICTION") and column != f"{prefix}PREDICTION"
    }


demo = gr.Interface(
    fn=classify,
    inputs=gr.Image(type="pil", label="Image"),
    outputs=gr.Label(num_top_classes=5, label="Class probabilities"),
    examples=[os.path.join("examples", name) for name in sorted(os.listdir("examples"))]
    if os.path.isdir("examples")
    else None,
    title="Gradio Image Classifier",
    flagging_mode="never",
)

if __name__ == "__main__":
    # DataRobot serves the app under /custom_applications/<id>/ and strips that prefix; Gradio
    # writes its asset and API links from root_path: the path of the app's external URL.
    demo.launch(
        server_name=os.environ.get("BIND_ADDRESS", "0.0.0.0"),
        server_port=int(os.environ.get("PORT", "8080")),
        root_path=urlparse(os.environ.get("DR_CUSTOM_APP_EXTERNAL_URL", "")).path.rstrip("/"),
    )
