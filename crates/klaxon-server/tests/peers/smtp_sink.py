"""A real SMTP server for klaxon's tests (aiosmtpd), requiring AUTH PLAIN/LOGIN as
klaxon/secret-pw. Each message received is parsed with Python's email package and written as
JSON (subject, headers, MIME parts decoded, whether the session was encrypted) to
OUT_DIR/NNNN.json. Runs until stdin closes.

MODE is `plain` (the default), `starttls` (STARTTLS required before anything else, AUTH only
after it) or `tls` (TLS from the first byte). For the TLS modes the sink makes its own CA and a
server certificate for 127.0.0.1 with the openssl command, and writes the CA to OUT_DIR/ca.pem.
Usage: smtp_sink.py PORT OUT_DIR [MODE]"""
import json
import os
import ssl
import subprocess
import sys
from email import policy
from email.parser import BytesParser

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, out = int(sys.argv[1]), sys.argv[2]
mode = sys.argv[3] if len(sys.argv) > 3 else "plain"


def server_context():
    """A CA (OUT_DIR/ca.pem) and a server certificate it signed, for IP 127.0.0.1."""
    pki = os.path.join(out, "pki")
    os.makedirs(pki, exist_ok=True)
    f = lambda name: os.path.join(pki, name)
    run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=klaxon test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
        "-keyout", f("ca.key"), "-out", f("ca.pem"))
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", f("server.key"), "-out", f("server.csr"))
    with open(f("server.ext"), "w") as ext:
        ext.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                  "extendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", f("server.csr"), "-CA", f("ca.pem"), "-CAkey", f("ca.key"),
        "-CAcreateserial", "-days", "2", "-extfile", f("server.ext"), "-out", f("server.pem"))
    with open(f("ca.pem")) as src, open(os.path.join(out, "ca.pem.tmp"), "w") as dst:
        dst.write(src.read())
    os.rename(os.path.join(out, "ca.pem.tmp"), os.path.join(out, "ca.pem"))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(f("server.pem"), f("server.key"))
    return ctx


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
            "tls": server.transport.get_extra_info("cipher") is not None,
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


if mode == "plain":
    c = Controller(Sink(), hostname="127.0.0.1", port=port, authenticator=auth,
                   auth_required=True, auth_require_tls=False)
elif mode == "starttls":
    c = Controller(Sink(), hostname="127.0.0.1", port=port, authenticator=auth,
                   auth_required=True, auth_require_tls=True,
                   tls_context=server_context(), require_starttls=True)
elif mode == "tls":
    # The whole session is encrypted; aiosmtpd only knows STARTTLS as "TLS" for AUTH.
    c = Controller(Sink(), hostname="127.0.0.1", port=port, authenticator=auth,
                   auth_required=True, auth_require_tls=False, ssl_context=server_context())
else:
    sys.exit(f"unknown mode {mode}")
c.start()
print("ready", flush=True)
sys.stdin.read()
c.stop()
