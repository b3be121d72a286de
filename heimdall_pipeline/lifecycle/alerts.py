"""Alerts for failed runs and failed or warning asset checks, to a webhook and to email, without Dagster.

heimdall_pipeline.defs.lifecycle.alerts reads the instance's event log each sensor tick and hands
what it found here as plain records; this module decides what deserves an alert, writes it, and
sends it:

- a failed run alerts once, when it is final: a run the instance will retry (`dagster/will_retry`)
  stays quiet and its last retry speaks for the chain ("after 3 attempts");
- a check alerts when it starts failing (or fails differently: another severity, or another
  `alert_key` in its metadata, e.g. another receiver gone silent), not on every evaluation while
  it keeps failing; passing again re-arms it. Keyed by asset, check and partition;
- more than `burst_limit` alerts in one tick go out as one summary instead of a flood;
- every text goes through the project's masking (heimdall_pipeline.core.settings.redact) with the
  database URLs and the SMTP password known to the process, so no password leaves in an alert;
- what was handled is the sensor's cursor (AlertState): a restart or a second tick never sends the
  same alert again. When no channel accepted anything, the tick fails instead of advancing, so
  the alerts go out on the next tick once the channel is back.

Channels, each off until configured (docs/operating.md, "Alerts and freshness"): a webhook
(HEIMDALL_ALERT_WEBHOOK_URL, Slack-compatible JSON: `text` plus `blocks`) and email over SMTP
(HEIMDALL_ALERT_SMTP_HOST, ..._TO; STARTTLS by default, SSL or none; login when a user is set).
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
import urllib.request
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from email.message import EmailMessage
from urllib.parse import quote, urlsplit

from heimdall_pipeline.core.settings import ConfigError, bounded_int, redact

DEFAULT_BURST_LIMIT = 5  # more alerts than this in one tick: one summary
BURST_LIMIT_RANGE = (1, 100)
SUMMARY_LISTED = 10  # alerts named one by one in a summary
MAX_ERROR_CHARS = 400
# A failed run's `dagster/will_retry` tag is written just after its failure event; a run seen
# without it is looked at again on the next tick, unless it failed longer ago than this.
RETRY_DECISION_GRACE = timedelta(minutes=2)
MAX_REMEMBERED_CHECKS = 2000  # failing checks remembered in the cursor (oldest forgotten first)
ALERT_KEY = "alert_key"  # check metadata: what fails; a new value alerts again while the check keeps failing
SMTP_SECURITY = {"starttls": 587, "ssl": 465, "none": 25}
SMTP_TIMEOUT_SECONDS = 20
WEBHOOK_TIMEOUT_SECONDS = 10
# URLs whose passwords the process knows: masked wherever an alert would quote them.
SECRET_URL_VARIABLES = (
    "HEIMDALL_DATABASE_URL",
    "HEIMDALL_READER_DATABASE_URL",
    "HEIMDALL_ARCHIVER_DATABASE_URL",
    "HEIMDALL_MIGRATE_DATABASE_URL",
    "DAGSTER_POSTGRES_URL",
)
# Dagster's wrappers around the error that really happened (their message is "Error occurred while
# executing op ..."): an alert quotes the error they carry.
_DAGSTER_WRAPPERS = ("DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError", "DagsterUserCodeProcessError")


# --- settings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str  # starttls | ssl | none
    sender: str
    recipients: tuple[str, ...]
    user: str | None = None
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class AlertSettings:
    webhook_url: str | None = field(default=None, repr=False)  # a Slack webhook URL is a credential
    smtp: SmtpSettings | None = None
    ui_url: str | None = None
    burst_limit: int = DEFAULT_BURST_LIMIT
    secret_urls: tuple[str, ...] = field(default=(), repr=False)

    @property
    def enabled(self) -> bool:
        return bool(self.webhook_url or self.smtp)

    @property
    def channels(self) -> list[str]:
        return [name for name, on in (("webhook", self.webhook_url), ("email", self.smtp)) if on]

    def mask(self, text: str) -> str:
        """`text` with every password this process knows masked (redact), the SMTP password included."""
        extra = [f"smtp://_:{quote(self.smtp.password, safe='')}@_"] if self.smtp and self.smtp.password else []
        return redact(text, *self.secret_urls, *extra)

    def run_link(self, run_id: str) -> str:
        return f"{self.ui_url.rstrip('/')}/runs/{run_id}" if self.ui_url else f"run {run_id} (set HEIMDALL_UI_URL for a link)"

    @classmethod
    def build(
        cls,
        *,
        webhook_url: str | None = None,
        smtp_host: str | None = None,
        smtp_port: str | int | None = None,
        smtp_security: str | None = None,
        smtp_user: str | None = None,
        smtp_password: str | None = None,
        smtp_from: str | None = None,
        smtp_to: str | None = None,
        ui_url: str | None = None,
        burst_limit: str | int | None = None,
        secret_urls: Iterable[str | None] = (),
    ) -> AlertSettings:
        """Checked settings; a bad value raises ConfigError naming its variable (never showing a secret)."""
        webhook = _http_url("HEIMDALL_ALERT_WEBHOOK_URL", webhook_url, show=False)
        security = (smtp_security or "starttls").strip().lower()
        if security not in SMTP_SECURITY:
            raise ConfigError(f"HEIMDALL_ALERT_SMTP_SECURITY must be starttls, ssl or none, got {security[:20]!r}")
        port = _int("HEIMDALL_ALERT_SMTP_PORT", smtp_port, SMTP_SECURITY[security], 1, 65535)
        smtp = None
        host = (smtp_host or "").strip()
        if host:
            recipients = tuple(address.strip() for address in (smtp_to or "").split(",") if address.strip())
            if not recipients:
                raise ConfigError("HEIMDALL_ALERT_SMTP_TO is not set: the addresses alerts go to (comma-separated)")
            sender = (smtp_from or "").strip() or "heimdall-pipeline@localhost"
            for name, address in (("HEIMDALL_ALERT_SMTP_FROM", sender), *(("HEIMDALL_ALERT_SMTP_TO", a) for a in recipients)):
                if "@" not in address or any(c.isspace() for c in address):
                    raise ConfigError(f"{name} must hold e-mail addresses (name@host), got {address[:80]!r}")
            user = (smtp_user or "").strip() or None
            if smtp_password and not user:
                raise ConfigError("HEIMDALL_ALERT_SMTP_PASSWORD is set without HEIMDALL_ALERT_SMTP_USER")
            smtp = SmtpSettings(host, port, security, sender, recipients, user, smtp_password or None)
        return cls(
            webhook_url=webhook,
            smtp=smtp,
            ui_url=_http_url("HEIMDALL_UI_URL", ui_url, show=True),
            burst_limit=_int("HEIMDALL_ALERT_BURST_LIMIT", burst_limit, DEFAULT_BURST_LIMIT, *BURST_LIMIT_RANGE),
            secret_urls=tuple(url for url in secret_urls if url),
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AlertSettings:
        """The settings from HEIMDALL_ALERT_* (all optional: alerts are off until a channel is set)."""
        env = os.environ if environ is None else environ
        return cls.build(
            webhook_url=env.get("HEIMDALL_ALERT_WEBHOOK_URL"),
            smtp_host=env.get("HEIMDALL_ALERT_SMTP_HOST"),
            smtp_port=env.get("HEIMDALL_ALERT_SMTP_PORT"),
            smtp_security=env.get("HEIMDALL_ALERT_SMTP_SECURITY"),
            smtp_user=env.get("HEIMDALL_ALERT_SMTP_USER"),
            smtp_password=env.get("HEIMDALL_ALERT_SMTP_PASSWORD"),
            smtp_from=env.get("HEIMDALL_ALERT_SMTP_FROM"),
            smtp_to=env.get("HEIMDALL_ALERT_SMTP_TO"),
            ui_url=env.get("HEIMDALL_UI_URL") or env.get("HEIMDALL_DAGSTER_URL"),
            burst_limit=env.get("HEIMDALL_ALERT_BURST_LIMIT"),
            secret_urls=secret_urls(env),
        )


def secret_urls(env: Mapping[str, str]) -> tuple[str, ...]:
    """The URLs in the environment whose passwords an alert must never show."""
    return tuple(env[name] for name in SECRET_URL_VARIABLES if env.get(name))


def _int(name: str, value: str | int | None, default: int, low: int, high: int) -> int:
    return bounded_int({name: "" if value is None else str(value)}, name, default, low, high)


def _http_url(name: str, value: str | None, *, show: bool) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        shown = f", got {redact(value)!r}" if show else " (its value is not shown: it may hold a token)"
        raise ConfigError(f"{name} must be an http:// or https:// URL{shown}")
    return value


# --- what happened ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RunFailure:
    """A RUN_FAILURE event of the instance, with what the alert needs of its run."""

    storage_id: int
    run_id: str
    job: str
    partition: str | None
    error: str  # error_line() of the run's first failed step, else of the run failure
    failed_at: datetime
    will_retry: bool | None  # the run's dagster/will_retry tag; None: not written (yet)
    attempt: int = 1  # dagster/retry_number + 1


@dataclass(frozen=True)
class CheckEvaluation:
    """An ASSET_CHECK_EVALUATION event."""

    storage_id: int
    run_id: str
    job: str
    asset: str
    check: str
    partition: str | None
    passed: bool
    severity: str  # ERROR | WARN
    description: str | None
    alert_key: str | None = None  # the check's `alert_key` metadata, if any

    @property
    def key(self) -> str:
        return f"{self.asset}/{self.check}" + (f"[{self.partition}]" if self.partition else "")


@dataclass(frozen=True)
class Incident:
    """One thing to alert about: a final run failure, or a check that started failing."""

    run_id: str
    job: str
    partition: str | None
    error: str
    check: str | None = None  # asset/check, for check alerts
    severity: str | None = None  # ERROR | WARN, for check alerts
    attempts: int = 1

    @property
    def headline(self) -> str:
        partition = self.partition or "-"
        if self.check is None:
            retried = f" after {self.attempts} attempts" if self.attempts > 1 else ""
            return f"Run failed{retried}: job {self.job}, partition {partition}"
        state = "failed" if self.severity == "ERROR" else "warning"
        return f"Check {state} ({self.severity}): {self.check}, partition {partition}, job {self.job}"


def error_line(chain: Sequence[tuple[str, str]]) -> str:
    """The first line of the error that happened, from (class name, message) pairs, outermost first
    (a SerializableErrorInfo and its causes): Dagster's wrappers are skipped for the error they carry,
    and "module.Class: text" becomes "Class: text"."""
    if not chain:
        return "no error recorded"
    cls_name, message = next(((c, m) for c, m in chain if c not in _DAGSTER_WRAPPERS), chain[-1])
    line = first_line(message)
    head, sep, rest = line.partition(": ")
    if sep and head.rsplit(".", 1)[-1] == cls_name:
        line = f"{cls_name}: {rest}"
    return line


def first_line(text: str | None) -> str:
    """The first non-blank line, at most MAX_ERROR_CHARS long."""
    line = next((part.strip() for part in (text or "").splitlines() if part.strip()), "")
    return line if len(line) <= MAX_ERROR_CHARS else line[: MAX_ERROR_CHARS - 1] + "…"


# --- the cursor -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertState:
    """The sensor's cursor: the last run-failure and check-evaluation events handled, and the
    checks that are failing with what their alert said (key -> severity/alert_key)."""

    runs_after: int = -1
    checks_after: int = -1
    failing: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"runs_after": self.runs_after, "checks_after": self.checks_after, "failing": dict(self.failing)})

    @classmethod
    def from_json(cls, text: str | None) -> AlertState | None:
        """The state of a cursor, or None for no cursor (or one this version cannot read)."""
        try:
            data = json.loads(text or "")
            return cls(int(data["runs_after"]), int(data["checks_after"]), {str(k): str(v) for k, v in data["failing"].items()})
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


def advance(
    state: AlertState,
    runs: Sequence[RunFailure],
    checks: Sequence[CheckEvaluation],
    now: datetime,
    retries_enabled: bool,
) -> tuple[list[Incident], AlertState]:
    """What to alert about among the events after the cursor (each list in event order), and the
    cursor past what was decided. A run failure whose retry decision is not written yet stops the
    run side of the cursor there, for the next tick."""
    incidents: list[Incident] = []
    runs_after = state.runs_after
    for run in runs:
        if run.will_retry is None and retries_enabled and now - run.failed_at < RETRY_DECISION_GRACE:
            break
        runs_after = run.storage_id
        if run.will_retry:
            continue  # the retry reports for the chain
        incidents.append(Incident(run.run_id, run.job, run.partition, run.error, attempts=run.attempt))
    failing = dict(state.failing)
    checks_after = state.checks_after
    for evaluation in checks:
        checks_after = evaluation.storage_id
        if evaluation.passed:
            failing.pop(evaluation.key, None)
            continue
        said = f"{evaluation.severity}:{evaluation.alert_key or ''}"
        if failing.get(evaluation.key) == said:
            continue
        failing.pop(evaluation.key, None)
        failing[evaluation.key] = said  # newest last: the oldest are forgotten first
        incidents.append(
            Incident(
                evaluation.run_id,
                evaluation.job,
                evaluation.partition,
                first_line(evaluation.description) or "no description",
                check=f"{evaluation.asset}/{evaluation.check}",
                severity=evaluation.severity,
            )
        )
    while len(failing) > MAX_REMEMBERED_CHECKS:
        failing.pop(next(iter(failing)))
    return incidents, replace(state, runs_after=runs_after, checks_after=checks_after, failing=failing)


# --- the messages -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    subject: str
    text: str  # plain text: the email's body and the webhook's `text`
    lines: tuple[tuple[str, str | None], ...]  # (text, link) for the webhook's blocks

    def webhook_payload(self) -> dict:
        """Slack-compatible: `text` for any receiver (and Slack's notification), `blocks` for Slack."""
        body = "\n".join(_slack(text) + _slack_link(link) for text, link in self.lines)
        return {
            "text": self.text,
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": self.subject[:150]}},
                {"type": "section", "text": {"type": "mrkdwn", "text": body[:2900]}},
            ],
        }


def compose(incidents: Sequence[Incident], settings: AlertSettings) -> list[Message]:
    """One message per incident; more than settings.burst_limit of them: one summary. Masked."""
    if not incidents:
        return []
    if len(incidents) <= settings.burst_limit:
        return [_one(incident, settings) for incident in incidents]
    return [_summary(incidents, settings)]


def _one(incident: Incident, settings: AlertSettings) -> Message:
    link = settings.run_link(incident.run_id)
    error = settings.mask(incident.error)
    what = "Check" if incident.check else "Error"
    subject = settings.mask(f"[heimdall-pipeline] {incident.headline}")
    text = f"{settings.mask(incident.headline)}\n{what}: {error}\nRun: {link}\n"
    return Message(subject, text, ((settings.mask(incident.headline), None), (f"{what}: {error}", link)))


def _summary(incidents: Sequence[Incident], settings: AlertSettings) -> Message:
    runs = sum(1 for i in incidents if i.check is None)
    checks = len(incidents) - runs
    subject = f"[heimdall-pipeline] {len(incidents)} alerts at once: {runs} failed run(s), {checks} failed or warning check(s)"
    lines = [(settings.mask(f"{i.headline}: {i.error}"), settings.run_link(i.run_id)) for i in incidents[:SUMMARY_LISTED]]
    more = len(incidents) - SUMMARY_LISTED
    tail = []
    if more > 0:
        tail.append(f"... and {more} more.")
    if settings.ui_url:
        tail.append(f"Failed runs: {settings.ui_url.rstrip('/')}/runs?q%5B%5D=status%3AFAILURE")
    text = subject.removeprefix("[heimdall-pipeline] ") + f" (summarised: more than {settings.burst_limit} in one sensor tick)\n"
    text += "".join(f"- {line}\n  {link}\n" for line, link in lines)
    text += "".join(f"{line}\n" for line in tail)
    return Message(subject, text, (*lines, *((line, None) for line in tail)))


def _slack(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(link: str | None) -> str:
    if not link:
        return ""
    return f" <{link}|open the run>" if link.startswith("http") else f" ({_slack(link)})"


# --- sending ----------------------------------------------------------------------------------


class AlertDeliveryError(RuntimeError):
    """No channel accepted any alert (the message says why, masked)."""


@dataclass(frozen=True)
class Delivery:
    sent: int  # (message, channel) pairs accepted
    errors: list[str]


def send_webhook(url: str, message: Message, timeout: float = WEBHOOK_TIMEOUT_SECONDS) -> None:
    request = urllib.request.Request(
        url,
        data=json.dumps(message.webhook_payload()).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "heimdall-pipeline-alerts"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # http(s) only (settings)
        if not 200 <= response.status < 300:
            raise OSError(f"HTTP {response.status}")


@contextmanager
def smtp_session(smtp: SmtpSettings, timeout: float = SMTP_TIMEOUT_SECONDS) -> Iterator[smtplib.SMTP]:
    """A logged-in SMTP session: SSL from the start, STARTTLS, or plain; login when a user is set."""
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if smtp.security == "ssl":
        client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=timeout)
    with client:
        if smtp.security == "starttls":
            client.starttls(context=context)
        if smtp.user:
            client.login(smtp.user, smtp.password or "")
        yield client


def email_of(smtp: SmtpSettings, message: Message) -> EmailMessage:
    email = EmailMessage()
    email["Subject"] = message.subject
    email["From"] = smtp.sender
    email["To"] = ", ".join(smtp.recipients)
    email.set_content(message.text)
    return email


def deliver(messages: Sequence[Message], settings: AlertSettings) -> Delivery:
    """Each message to each configured channel; a channel's failure is recorded (masked), not raised."""
    sent, errors = 0, []
    if not messages:
        return Delivery(0, [])
    if settings.webhook_url:
        host = urlsplit(settings.webhook_url).hostname  # never the URL: it may hold a token
        for message in messages:
            try:
                send_webhook(settings.webhook_url, message)
                sent += 1
            except Exception as error:  # any failure is reported, the other channel still tried
                errors.append(settings.mask(f"webhook ({host}): {type(error).__name__}: {first_line(str(error))}"))
    if settings.smtp:
        try:
            with smtp_session(settings.smtp) as client:
                for message in messages:
                    client.send_message(email_of(settings.smtp, message))
                    sent += 1
        except Exception as error:
            errors.append(
                settings.mask(
                    f"email ({settings.smtp.host}:{settings.smtp.port}): {type(error).__name__}: {first_line(str(error))}"
                )
            )
    return Delivery(sent, errors)
