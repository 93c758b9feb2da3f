"""Ask questions about an image with a vision-language NIM."""

import base64
import io
import os
from urllib.parse import urlparse

import gradio as gr
from openai import OpenAI
from PIL import Image

# Locally, without a NIM, the assistant gives stub answers.
nim = (
    OpenAI(base_url=os.environ["NIM_BASE_URL"], api_key=os.environ.get("NIM_API_KEY", ""))
    if os.environ.get("NIM_BASE_URL")
    else None
)
MAX_TOKENS = int(os.environ.get("MAX_TOKENS", "512"))
PRESETS = [
    "Describe this image.",
    "What does this chart show?",
    "Extract the total and the date from this receipt.",
]


def ask(image: Image.Image, question: str) -> str:
    if image is None:
        return "Upload an image first."
    if nim is None:
        width, height = image.size
        return (
            f"(stub answer: no NIM is configured here; set NIM_BASE_URL) "
            f"A {width}x{height} image; you asked: {question or PRESETS[0]}"
        )
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=90)
    data_url = "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()
    reply = nim.chat.completions.create(
        model=nim.models.list().data[0].id,
        max_tokens=MAX_TOKENS,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": question or PRESETS[0]},
                    {"type": "image_url", "image_url": {"url": data_url}},
                ],
            }
        ],
    )
    return reply.choices[0].message.content or ""


demo = gr.Interface(
    fn=ask,
    inputs=[
        gr.Image(type="pil", label="Image"),
        gr.Dropdown(PRESETS, value=PRESETS[0], allow_custom_value=True, label="Question"),
    ],
    outputs=gr.Markdown(label="Answer"),
    title="NIM Vision Language Assistant",
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
