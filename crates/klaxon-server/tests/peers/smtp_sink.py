"""A real SMTP server for klaxon's tests (aiosmtpd), requiring AUTH PLAIN/LOGIN as
klaxon/secret-pw. Each message received is parsed with Python's email package and written as
JSON (subject, headers, MIME parts decoded) to OUT_DIR/NNNN.json. Runs until stdin closes.
Usage: smtp_sink.py PORT OUT_DIR"""
import json
import os
import sys
from email import policy
from email.parser import BytesParser

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, out = int(sys.argv[1]), sys.argv[2]


class Sink:
    async def handle_DATA(self, server, session, envelope):
        msg = BytesParser(policy=policy.default).parsebytes(envelope.original_content or envelope.content)
        parts = [
            {"type": p.get_content_type(), "content": p.get_content()}
            for p in msg.walk()
            if not p.is_multipart()
        ]
        doc = {
            "subject": msg["subject"],
            "from": msg["from"],
            "to": msg["to"],
            "message_id": msg["message-id"],
            "kind": msg["x-klaxon-kind"],
            "content_type": msg.get_content_type(),
            "rcpt": envelope.rcpt_tos,
            "login": session.auth_data.login.decode()
            if session.authenticated and isinstance(session.auth_data, LoginPassword) else None,
            "parts": parts,
        }
        n = len([f for f in os.listdir(out) if f.endswith(".json")])
        tmp = os.path.join(out, f"{n:04d}.tmp")
        with open(tmp, "w") as f:
            json.dump(doc, f)
        os.rename(tmp, os.path.join(out, f"{n:04d}.json"))
        return "250 OK"


def auth(server, session, envelope, mechanism, data):
    ok = isinstance(data, LoginPassword) and data.login == b"klaxon" and data.password == b"secret-pw"
    return AuthResult(success=ok, auth_data=data)


c = Controller(Sink(), hostname="127.0.0.1", port=port, authenticator=auth,
               auth_required=True, auth_require_tls=False)
c.start()
print("ready", flush=True)
sys.stdin.read()
c.stop()
