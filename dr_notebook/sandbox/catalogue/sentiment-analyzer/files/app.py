"""Sentiment Analyzer: single text or a whole CSV, scored by a DataRobot deployment."""

import os
from urllib.parse import urlparse

import datarobot as dr
import gradio as gr
import pandas as pd
from datarobot_predict.deployment import predict

TEXT = os.environ.get("TEXT_COLUMN", "review_text")
dr.Client()
# Locally, without a deployment (no DEPLOYMENT_ID), the scores are stubs.
deployment = dr.Deployment.get(os.environ["DEPLOYMENT_ID"]) if os.getenv("DEPLOYMENT_ID") else None


def class_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c.endswith("_PREDICTION") and c.count("_") > 1]


def stub_scores(frame: pd.DataFrame) -> pd.DataFrame:
    """What a deployment returns, guessed from the words: enough to try the app."""
    positive = frame[TEXT].astype(str).str.count(r"(?i)good|great|love|excellent") + 1
    negative = frame[TEXT].astype(str).str.count(r"(?i)bad|poor|hate|awful") + 1
    share = positive / (positive + negative)
    return pd.DataFrame(
        {"sentiment_positive_PREDICTION": share, "sentiment_negative_PREDICTION": 1 - share}
    )


def scores(frame: pd.DataFrame) -> pd.DataFrame:
    return stub_scores(frame) if deployment is None else predict(deployment, frame).dataframe


def score_text(text: str) -> dict[str, float]:
    result = scores(pd.DataFrame({TEXT: [text]}))
    row = result.iloc[0]
    return {c.split("_")[-2]: float(row[c]) for c in class_columns(result)}


def score_file(path: str) -> str:
    frame = pd.read_csv(path)
    result = scores(frame[[TEXT]])
    probabilities = result[class_columns(result)]
    frame["sentiment"] = probabilities.idxmax(axis=1).str.split("_").str[-2]
    frame["confidence"] = probabilities.max(axis=1).round(3)
    out = "scored_reviews.csv"
    frame.to_csv(out, index=False)
    return out


with gr.Blocks(title="Sentiment Analyzer") as demo:
    gr.Markdown("# Sentiment Analyzer")
    with gr.Tab("One text"):
        text = gr.Textbox(label="Review", lines=4)
        label = gr.Label(label="Sentiment")
        gr.Button("Score").click(score_text, text, label)
    with gr.Tab("CSV file"):
        upload = gr.File(label="CSV with a text column", file_types=[".csv"])
        scored = gr.File(label="Scored file")
        gr.Button("Score file").click(score_file, upload, scored)

if __name__ == "__main__":
    # DataRobot serves the app under /custom_applications/<id>/ and strips that prefix; Gradio
    # writes its asset and API links from root_path: the path of the app's external URL.
    demo.launch(
        server_name=os.environ.get("BIND_ADDRESS", "0.0.0.0"),
        server_port=int(os.environ.get("PORT", "8080")),
        root_path=urlparse(os.environ.get("DR_CUSTOM_APP_EXTERNAL_URL", "")).path.rstrip("/"),
    )
