"""Slack bot that answers with a DataRobot LLM deployment."""

import os

from flask import Flask, request
from openai import OpenAI
from slack_bolt import App
from slack_bolt.adapter.flask import SlackRequestHandler

bolt = App(token=os.environ["SLACK_BOT_TOKEN"], signing_secret=os.environ["SLACK_SIGNING_SECRET"])
endpoint = os.environ["DATAROBOT_ENDPOINT"].rstrip("/")
llm = OpenAI(
    base_url=f"{endpoint}/deployments/{os.environ['LLM_DEPLOYMENT_ID']}/",
    api_key=os.environ["DATAROBOT_API_TOKEN"],
)


def answer(history: list[dict]) -> str:
    reply = llm.chat.completions.create(model="datarobot-deployed-llm", messages=history)
    return reply.choices[0].message.content or "I have no answer to that."


def thread_history(client, channel: str, thread_ts: str) -> list[dict]:
    replies = client.conversations_replies(channel=channel, ts=thread_ts, limit=20)
    bot_id = client.auth_test()["user_id"]
    return [
        {"role": "assistant" if m.get("user") == bot_id else "user", "content": m["text"]}
        for m in replies["messages"]
    ]


@bolt.event("app_mention")
@bolt.event("message")
def on_message(event, client, say):
    if event.get("bot_id") or event.get("subtype"):
        return
    thread_ts = event.get("thread_ts", event["ts"])
    history = thread_history(client, event["channel"], thread_ts)
    say(text=answer(history), thread_ts=thread_ts)


app = Flask(__name__)
handler = SlackRequestHandler(bolt)


@app.post("/")
@app.post("/slack/events")
def slack_events():
    return handler.handle(request)


@app.get("/healthz")
def healthz():
    return {"status": "ok"}
