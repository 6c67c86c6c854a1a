"""The ceiling of this stack: Flask under gunicorn doing only the token check and the JSON parse."""

import hmac
import json
import os

from flask import Flask, jsonify, request

app = Flask(__name__)
TOKEN = os.environ["ROCKETCHAT_LIVECHAT_TOKEN"].encode()


@app.post("/webhooks/rocketchat")
def receive():
    presented = request.headers.get("X-RocketChat-Livechat-Token", "").encode()
    if not hmac.compare_digest(presented, TOKEN):
        return jsonify(success=False), 401
    body = json.loads(request.get_data())
    return jsonify(success=True, type=body.get("type"))
