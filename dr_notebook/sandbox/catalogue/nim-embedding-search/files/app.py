"""Semantic search with an NVIDIA NIM embedding model."""

import os

import numpy as np
import streamlit as st
from openai import OpenAI

CHUNK = int(os.environ.get("CHUNK_SIZE", "800"))
OVERLAP = int(os.environ.get("CHUNK_OVERLAP", "120"))


@st.cache_resource
def nim() -> OpenAI:
    return OpenAI(base_url=os.environ["NIM_EMBED_URL"], api_key=os.environ["NIM_API_KEY"])


def chunks(text: str) -> list[str]:
    step = max(CHUNK - OVERLAP, 1)
    return [text[i : i + CHUNK] for i in range(0, max(len(text) - OVERLAP, 1), step)]


def embed(texts: list[str], input_type: str) -> np.ndarray:
    if not os.environ.get("NIM_EMBED_URL"):  # locally, without a NIM: stub vectors
        return stub_vectors(texts)
    model = nim().models.list().data[0].id
    response = nim().embeddings.create(
        model=model, input=texts, extra_body={"input_type": input_type}
    )
    vectors = np.array([item.embedding for item in response.data])
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def stub_vectors(texts: list[str]) -> np.ndarray:
    """Letter counts, normalized: enough to try the app without an embedding model."""
    vectors = np.array(
        [[text.lower().count(c) + 1e-6 for c in "abcdefghijklmnopqrstuvwxyz"] for text in texts]
    )
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


st.title("NIM Embedding Search")
if not os.environ.get("NIM_EMBED_URL"):
    st.info("No NIM_EMBED_URL: searching with stub vectors until you set it.")
files = st.file_uploader("Documents", type=["txt", "md"], accept_multiple_files=True)
if files and st.button("Build index"):
    passages = [(f.name, c) for f in files for c in chunks(f.read().decode("utf-8"))]
    st.session_state.passages = passages
    st.session_state.index = embed([c for _, c in passages], "passage")
    st.success(f"Indexed {len(passages)} chunks from {len(files)} files.")

if "index" in st.session_state and (query := st.text_input("Search")):
    scores = st.session_state.index @ embed([query], "query")[0]
    for rank in np.argsort(scores)[::-1][:5]:
        name, text = st.session_state.passages[rank]
        st.markdown(f"**{name}** · similarity {scores[rank]:.3f}")
        st.write(text)
