"""Who is signed in, and one answer of the LLM gateway: both from the platform's API."""

import os

import requests
import streamlit as st

ENDPOINT = os.environ.get("DATAROBOT_ENDPOINT", "").rstrip("/")
HEADERS = {"Authorization": f"Bearer {os.environ.get('DATAROBOT_API_TOKEN', '')}"}


def account() -> dict:
    """``account/info/``: the user the app runs for."""
    return requests.get(f"{ENDPOINT}/account/info/", headers=HEADERS, timeout=10).json()


def ask(question: str) -> str:
    """One chat completion of the LLM gateway."""
    body = {"model": "azure/gpt-4o-mini", "messages": [{"role": "user", "content": question}]}
    answer = requests.post(
        f"{ENDPOINT}/genai/llmgw/chat/completions/", json=body, headers=HEADERS, timeout=10
    ).json()
    return answer["choices"][0]["message"]["content"]


st.title("Streamlit from a uv.lock")
st.write(f"Signed in as {account()['username']}")
if st.button("Ask the gateway"):
    st.write(ask("hello from streamlit"))
