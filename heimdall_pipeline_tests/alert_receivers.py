"""Local receivers of alerts, as an operator's channels: an HTTP webhook (http.server in a thread)
and an SMTP server (aiosmtpd), each recording what arrived; and alerts_sensor ticked by hand.
Used by the alert tests."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from dagster import DagsterInstance, build_sensor_context

from heimdall_pipeline.defs.lifecycle.alerts import alerts_sensor
from heimdall_pipeline.defs.resources import AlertChannels


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class WebhookReceiver:
    """POSTs to http://127.0.0.1:<port>/<path>, each JSON body kept in `posts`; answers `status`."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.status == 200:
                    receiver.posts.append(json.loads(body))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args) -> None:  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/heimdall-token-not-to-be-shown"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class SmtpReceiver:
    """An SMTP server on a loopback port, every message kept in `messages`; with `user` and
    `password`, it requires that login (AUTH without TLS, as a local relay may allow)."""

    user: str | None = None
    password: str | None = None
    messages: list[EmailMessage] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        receiver = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # aiosmtpd's name
                receiver.messages.append(message_from_bytes(envelope.content, policy=policy.default))
                return "250 OK"

        def authenticator(server, session, envelope, mechanism, auth_data):
            if not isinstance(auth_data, LoginPassword):
                return AuthResult(success=False, handled=False)
            login, password = auth_data.login.decode(), auth_data.password.decode()
            receiver.logins.append((login, password))
            return AuthResult(success=(login, password) == (receiver.user, receiver.password))

        self.port = free_port()
        auth = {"authenticator": authenticator, "auth_require_tls": False, "auth_required": True} if self.user else {}
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **auth)

    def __enter__(self) -> SmtpReceiver:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

    def env(self, to: str = "ops@example.org") -> dict[str, str]:
        """The HEIMDALL_ALERT_SMTP_* settings that send here."""
        env = {
            "HEIMDALL_ALERT_SMTP_HOST": "127.0.0.1",
            "HEIMDALL_ALERT_SMTP_PORT": str(self.port),
            "HEIMDALL_ALERT_SMTP_SECURITY": "none",
            "HEIMDALL_ALERT_SMTP_FROM": "heimdall@example.org",
            "HEIMDALL_ALERT_SMTP_TO": to,
        }
        if self.user:
            env.update(HEIMDALL_ALERT_SMTP_USER=self.user, HEIMDALL_ALERT_SMTP_PASSWORD=self.password or "")
        return env


class Sensor:
    """Ticks of alerts_sensor on one instance, the cursor carried from tick to tick as the daemon does."""

    def __init__(self, instance: DagsterInstance, alerts: AlertChannels):
        self.instance, self.alerts, self.cursor = instance, alerts, None

    def tick(self):
        context = build_sensor_context(instance=self.instance, cursor=self.cursor, resources={"alerts": self.alerts})
        result = alerts_sensor(context)
        self.cursor = context.cursor
        return result
