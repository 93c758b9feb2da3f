"""Document Q&A with numbered citations from a DataRobot RAG deployment."""

import os

import streamlit as st
from rag import ask

MIN_SIMILARITY = float(os.environ.get("MIN_SIMILARITY", "0.35"))
MAX_CITATIONS = int(os.environ.get("MAX_CITATIONS", "5"))

st.set_page_config(page_title="Document Q&A", page_icon=":books:")
st.title("Ask your documents")
st.session_state.setdefault("history", [])

for turn in st.session_state.history:
    st.chat_message(turn["role"]).markdown(turn["content"])

if question := st.chat_input("What does the policy say about remote work?"):
    st.chat_message("user").markdown(question)
    answer, citations = ask(question)
    citations = citations[:MAX_CITATIONS]
    with st.chat_message("assistant"):
        st.markdown(answer)
        if citations and max(c["similarity"] for c in citations) < MIN_SIMILARITY:
            st.warning("The sources only loosely match this question.")
        for number, citation in enumerate(citations, start=1):
            label = f"[{number}] {citation['source']}, page {citation['page']}"
            with st.expander(label):
                st.write(citation["content"])
    st.session_state.history += [
        {"role": "user", "content": question},
        {"role": "assistant", "content": answer},
    ]
