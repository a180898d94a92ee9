"""Data-quality and task-failure alerts: a Slack-compatible webhook and an email, both Airflow Connections.

What is sent when (docs/alerts.md has the details and an example):
- after validation, `notify_validation(outcome)`: a *failure* alert when publishing is blocked (it also lists the
  run's warnings), a *warning* alert when only warnings were found, nothing on a clean run;
- when a task fails for good, `task_failure_callback(context)` (an `on_failure_callback`): a *failure* alert
  with the DAG, task, run, try, the exception's type and a sanitised one-line message, and the log URL.

Channels, each an Airflow Connection resolved the Airflow way (`airflow.sdk.BaseHook.get_connection`): inside a
task through the task SDK (API server, secrets backends, `AIRFLOW_CONN_*`), from the plain CLI (`credsignal
run`) through the `AIRFLOW_CONN_*` environment variables:
- `credsignal_alerts_webhook`: a Slack-compatible incoming webhook (JSON POST with "text" and "blocks");
- `credsignal_alerts_smtp`: a mail server used through the Airflow SMTP provider's `SmtpHook`, recipients and
  sender in the connection's extra.

The alert path never raises: an undefined connection is "not configured" (logged), a down webhook or mail
server is logged and reported as "failed: <reason>" in the `DeliveryReport`, and the caller goes on to fail
the run for its original reason. Airflow is imported lazily, so building an alert costs nothing.
"""

from __future__ import annotations

import html
import json
import logging
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobs.validate import ValidationOutcome

log = logging.getLogger(__name__)

FAILURE, WARNING = "failure", "warning"
SENT, NOT_CONFIGURED = "sent", "not configured"
WEBHOOK_CONN_ID = "credsignal_alerts_webhook"
SMTP_CONN_ID = "credsignal_alerts_smtp"
WEBHOOK_TIMEOUT_S = 5.0
SMTP_TIMEOUT_S = 10
SMTP_RETRY_LIMIT = 1  # the provider's default is 5 retries of 30 s each: too long for an alert
MAX_WEBHOOK_FINDINGS = 20  # Slack: at most 50 blocks and 3000 characters a section; the report has the rest
MAX_EMAIL_FINDINGS = 200
MAX_ERROR_CHARS = 300

EMOJI = {FAILURE: ":rotating_light:", WARNING: ":warning:"}
LABEL = {FAILURE: "FAILURE", WARNING: "WARNING"}


# ---------------------------------------------------------------------------------------------- model


@dataclass(frozen=True)
class AlertFinding:
    """One failed or warning check, as listed in an alert."""

    check: str
    severity: str
    observed: str
    expected: str
    p_value: float | None = None
    detail: str = ""
    table: str = ""

    def line(self) -> str:
        p = "" if self.p_value is None else f" (p={self.p_value:.3g})"
        detail = f" [{self.detail}]" if self.detail else ""
        table = f"{self.table} " if self.table else ""
        return f"{LABEL.get(self.severity, self.severity.upper())} {table}{self.check}: observed {self.observed};" \
               f" expected {self.expected}{p}{detail}"


@dataclass
class Alert:
    severity: str  # "failure" | "warning"
    title: str
    tables: tuple[str, ...]
    run_id: str
    as_of: str | None = None
    dag_id: str | None = None
    task_id: str | None = None
    findings: list[AlertFinding] = field(default_factory=list)
    report_path: str | None = None  # path or link to the validation report
    error: str | None = None  # failed task: "ExceptionType: sanitised one-line message"
    try_number: int | None = None
    log_url: str | None = None

    def __post_init__(self) -> None:
        if self.severity not in (FAILURE, WARNING):
            raise ValueError(f"alert severity must be {FAILURE!r} or {WARNING!r}, not {self.severity!r}")

    @property
    def label(self) -> str:
        return LABEL[self.severity]

    @property
    def subject(self) -> str:
        return f"[credsignal {self.label}] {self.title}"

    def failures(self) -> list[AlertFinding]:
        return [f for f in self.findings if f.severity == FAILURE]

    def warnings(self) -> list[AlertFinding]:
        return [f for f in self.findings if f.severity == WARNING]

    def _sections(self, limit: int) -> list[tuple[str, list]]:
        """("Failed expectations:", [...]) and ("Warnings:", [...]), at most `limit` findings in all."""
        sections, left = [], limit
        for heading, findings in (("Failed expectations:", self.failures()), ("Warnings:", self.warnings())):
            if not findings:
                continue
            shown = findings[:max(left, 0)]
            left -= len(shown)
            more = [f"... and {len(findings) - len(shown)} more in the report"] if len(shown) < len(findings) else []
            sections.append((heading, shown + more))
        return sections

    def facts(self) -> list[tuple[str, str]]:
        """The (name, value) pairs every channel shows, in order."""
        rows = [("Run", self.run_id), ("As of", self.as_of or "n/a"), ("Table(s)", ", ".join(self.tables) or "n/a")]
        if self.dag_id:
            rows.append(("DAG", self.dag_id))
        if self.task_id:
            attempt = "" if self.try_number is None else f" (try {self.try_number})"
            rows.append(("Task", f"{self.task_id}{attempt}"))
        if self.findings:
            counts = [f"{len(self.failures())} failed"] if self.failures() else []
            if self.warnings():
                counts.append(_count(self.warnings(), "warning"))
            rows.append(("Findings", ", ".join(counts)))
        return rows

    def render_text(self, limit: int = MAX_EMAIL_FINDINGS) -> str:
        lines = [self.subject, ""]
        lines += [f"{name}: {value}" for name, value in self.facts()]
        if self.error:
            lines += ["", f"Error: {self.error}"]
        if self.log_url:
            lines.append(f"Log: {self.log_url}")
        for heading, findings in self._sections(limit):
            lines += ["", heading]
            lines += [f"  - {f.line()}" if isinstance(f, AlertFinding) else f"  {f}" for f in findings]
        if self.report_path:
            lines += ["", f"Report: {self.report_path}"]
        if self.severity == WARNING:
            lines += ["", "Warnings do not block publishing; the run's tables were published."]
        elif self.findings:
            lines += ["", "Publishing was blocked: analysts still see the previous snapshot."]
        return "\n".join(lines)

    def render_html(self, limit: int = MAX_EMAIL_FINDINGS) -> str:
        e = html.escape
        colour = "#b00020" if self.severity == FAILURE else "#8a6d00"
        facts = "".join(f"<tr><th align='left'>{e(n)}</th><td>{e(v)}</td></tr>" for n, v in self.facts())
        parts = [f"<html><body style='font-family:sans-serif'>",
                 f"<h2 style='color:{colour}'>{e(self.label)}: {e(self.title)}</h2>",
                 f"<table>{facts}</table>"]
        if self.error:
            parts.append(f"<p><b>Error:</b> <code>{e(self.error)}</code></p>")
        if self.log_url:
            parts.append(f"<p><a href=\"{e(self.log_url, quote=True)}\">Task log</a></p>")
        if self.findings:
            rows = "".join(
                f"<tr><td>{e(f.severity)}</td><td>{e(f.table)}</td><td>{e(f.check)}</td><td>{e(f.observed)}</td>"
                f"<td>{e(f.expected)}</td><td>{'' if f.p_value is None else f'{f.p_value:.3g}'}</td>"
                f"<td>{e(f.detail)}</td></tr>" for f in self.findings[:limit])
            hidden = len(self.findings) - limit
            more = f"<p>... and {hidden} more in the report</p>" if hidden > 0 else ""
            parts.append("<table border='1' cellpadding='4' style='border-collapse:collapse'>"
                         "<tr><th>severity</th><th>table</th><th>check</th><th>observed</th><th>expected</th>"
                         f"<th>p</th><th>detail</th></tr>{rows}</table>{more}")
        if self.report_path:
            parts.append(f"<p><b>Report:</b> <code>{e(self.report_path)}</code></p>")
        if self.severity == WARNING:
            parts.append("<p>Warnings do not block publishing; the run's tables were published.</p>")
        elif self.findings:
            parts.append("<p>Publishing was blocked: analysts still see the previous snapshot.</p>")
        parts.append("</body></html>")
        return "\n".join(parts)

    def slack_payload(self, limit: int = MAX_WEBHOOK_FINDINGS) -> dict:
        """A Slack incoming-webhook message: "text" (notification and fallback) plus Block Kit "blocks"."""
        emoji = EMOJI[self.severity]
        header = f"{emoji} {self.label}: {self.title}"
        blocks: list[dict] = [
            {"type": "header", "text": {"type": "plain_text", "text": _clip(header, 150), "emoji": True}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": _clip(f"*{_mrkdwn(n)}:*\n{_mrkdwn(v)}", 1900)}
                                           for n, v in self.facts()][:10]},
        ]
        if self.error:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*Error:* `{_mrkdwn(self.error)}`"}})
        if self.log_url:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"<{self.log_url}|Task log>"}})
        for heading, findings in self._sections(limit):
            lines = [f"*{heading}*"] + [f"• {_mrkdwn(f.line())}" if isinstance(f, AlertFinding) else _mrkdwn(f)
                                         for f in findings]
            for chunk in _chunks(lines, 2900):
                blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": chunk}})
        footer = []
        if self.report_path:
            footer.append(f"Report: `{_mrkdwn(self.report_path)}`")
        if self.severity == WARNING:
            footer.append("Warnings do not block publishing.")
        elif self.findings:
            footer.append("Publishing blocked: the previous snapshot stays current.")
        if footer:
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(footer)}]})
        return {"text": _clip(_escape(f"{emoji} {self.render_text(limit=limit)}"), 3900), "blocks": blocks}


@dataclass
class DeliveryReport:
    """Per channel: "sent", "failed: <reason>" or "not configured"."""

    channels: dict[str, str] = field(default_factory=dict)

    @property
    def webhook(self) -> str | None:
        return self.channels.get("webhook")

    @property
    def email(self) -> str | None:
        return self.channels.get("email")

    @property
    def failed(self) -> dict[str, str]:
        return {name: status for name, status in self.channels.items() if status.startswith("failed")}

    @property
    def sent(self) -> list[str]:
        return [name for name, status in self.channels.items() if status == SENT]

    def __str__(self) -> str:
        return ", ".join(f"{name}: {status}" for name, status in self.channels.items())


# ------------------------------------------------------------------------------------------ building


def alert_from_validation(outcome: ValidationOutcome, *, dag_id: str | None = None,
                          task_id: str | None = None) -> Alert | None:
    """The alert for a validation outcome, or None on a clean run (no failure, no warning)."""
    failures, warnings = outcome.of_severity(FAILURE), outcome.of_severity(WARNING)
    if not failures and not warnings:
        return None
    severity = FAILURE if outcome.blocked else WARNING
    findings = [AlertFinding(check=f.check, severity=f.severity, observed=str(f.observed), expected=str(f.expected),
                             p_value=_float_or_none(f.p_value), detail=f.detail or "", table=f.table)
                for f in failures + warnings]
    tables = tuple(dict.fromkeys(f.table for f in findings if f.table))
    as_of = _as_of_text(outcome.as_of)
    if severity == FAILURE:
        title = f"validation failed, publishing blocked: {_count(failures, 'failed check')} (run {outcome.run_id})"
    else:
        title = f"validation warnings: {_count(warnings, 'check')} warned, tables published (run {outcome.run_id})"
    report = None if outcome.report_path is None else str(outcome.report_path)
    return Alert(severity=severity, title=title, tables=tables, run_id=str(outcome.run_id), as_of=as_of,
                 dag_id=dag_id, task_id=task_id, findings=findings, report_path=report)


def alert_from_task_failure(context: Mapping[str, Any]) -> Alert:
    """The failure alert for an Airflow `on_failure_callback` context (task-level; a DAG-level context works too)."""
    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    dag = context.get("dag")
    task = context.get("task")
    dag_id = _first(getattr(ti, "dag_id", None), getattr(dag_run, "dag_id", None), getattr(dag, "dag_id", None))
    task_id = _first(getattr(ti, "task_id", None), getattr(task, "task_id", None))
    map_index = getattr(ti, "map_index", None)
    if task_id and isinstance(map_index, int) and map_index >= 0:
        task_id = f"{task_id}[{map_index}]"
    run_id = _first(context.get("run_id"), getattr(ti, "run_id", None), getattr(dag_run, "run_id", None)) or "unknown"
    try_number = getattr(ti, "try_number", None)
    error = describe_exception(context.get("exception") or context.get("reason"))
    log_url = None
    try:
        log_url = getattr(ti, "log_url", None) if ti is not None else None
    except Exception:  # the property reads the config; never let it break the alert
        log_url = None
    tables = _task_tables(task)
    if task_id:
        title = f"task {'.'.join(p for p in (dag_id, task_id) if p)} failed (run {run_id})"
    else:  # a DAG-level on_failure_callback: no task instance in the context
        title = f"DAG {dag_id or '?'} run failed (run {run_id})"
    return Alert(severity=FAILURE, title=title, tables=tables, run_id=str(run_id), as_of=_context_as_of(context),
                 dag_id=dag_id, task_id=task_id, error=error, try_number=_int_or_none(try_number),
                 log_url=str(log_url) if log_url else None)


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
_MARKUP = re.compile(r"<[^<>]{0,400}>")


def describe_exception(exception: BaseException | str | None) -> str | None:
    """ "Type: message", one line, clipped, with e-mail addresses, URLs and markup removed.

    Exception messages can quote what was being processed (a profile page, a learner's e-mail); an alert goes to
    chat and mail, so only the type and a short, scrubbed first line are kept. The task log has the rest.
    """
    if exception is None:
        return None
    kind = "error" if isinstance(exception, str) else type(exception).__name__
    try:
        message = exception if isinstance(exception, str) else str(exception)
    except Exception:
        message = ""
    first = next((line.strip() for line in message.splitlines() if line.strip()), "")
    if _MARKUP.search(first):
        first = _MARKUP.split(first)[0].strip() + " [markup removed]"
    first = _URL.sub("[url]", first)
    first = _EMAIL.sub("[email]", first)
    first = re.sub(r"\s+", " ", first)
    first = _clip(first, MAX_ERROR_CHARS)
    if len([line for line in message.splitlines() if line.strip()]) > 1:
        first += " (more in the task log)"
    return f"{kind}: {first}" if first else kind


# ------------------------------------------------------------------------------------------ delivery


def send_alert(alert: Alert, *, webhook_conn_id: str = WEBHOOK_CONN_ID,
               smtp_conn_id: str = SMTP_CONN_ID) -> DeliveryReport:
    """Send the alert to every configured channel. Never raises: problems are logged and reported per channel."""
    report = DeliveryReport()
    for channel, conn_id, sender in (("webhook", webhook_conn_id, _send_webhook),
                                     ("email", smtp_conn_id, _send_email)):
        try:
            conn = _get_connection(conn_id)
            if conn is None:
                log.info("alert %s: channel %s not configured (no Airflow connection %r); skipped",
                         alert.label, channel, conn_id)
                report.channels[channel] = NOT_CONFIGURED
                continue
            sender(alert, conn, conn_id)
            report.channels[channel] = SENT
            log.info("alert %s sent by %s (connection %r): %s", alert.label, channel, conn_id, alert.title)
        except Exception as exc:  # noqa: BLE001 - the alert path must never fail the caller
            reason = _reason(exc)
            report.channels[channel] = f"failed: {reason}"
            log.error("ALERT DELIVERY FAILED: channel=%s connection=%r alert=%s %r: %s "
                      "(the run's own outcome is unchanged)", channel, conn_id, alert.label, alert.title, reason)
    return report


def notify_validation(outcome: ValidationOutcome, *, dag_id: str | None = None, task_id: str | None = None,
                      webhook_conn_id: str = WEBHOOK_CONN_ID,
                      smtp_conn_id: str = SMTP_CONN_ID) -> DeliveryReport | None:
    """Alert on a validation outcome (None, nothing sent, on a clean run). Never raises."""
    try:
        alert = alert_from_validation(outcome, dag_id=dag_id, task_id=task_id)
    except Exception:  # noqa: BLE001
        log.exception("could not build the validation alert for run %s; no alert sent",
                      getattr(outcome, "run_id", "?"))
        return DeliveryReport({"webhook": "failed: alert not built", "email": "failed: alert not built"})
    if alert is None:
        log.info("validation run %s: no failure and no warning, no alert", outcome.run_id)
        return None
    return send_alert(alert, webhook_conn_id=webhook_conn_id, smtp_conn_id=smtp_conn_id)


def make_task_failure_callback(*, webhook_conn_id: str = WEBHOOK_CONN_ID, smtp_conn_id: str = SMTP_CONN_ID):
    """An `on_failure_callback` that alerts through the given connections."""

    def callback(context: Mapping[str, Any]) -> None:
        try:
            alert = alert_from_task_failure(context)
        except Exception:  # noqa: BLE001
            log.exception("could not build the task-failure alert; no alert sent")
            return
        report = send_alert(alert, webhook_conn_id=webhook_conn_id, smtp_conn_id=smtp_conn_id)
        log.info("task-failure alert for %s.%s: %s", alert.dag_id, alert.task_id, report)

    callback.__name__ = callback.__qualname__ = "task_failure_callback"
    return callback


def task_failure_callback(context: Mapping[str, Any]) -> None:
    """`on_failure_callback` for DAG default_args: alert on the failed task, never raise."""
    _default_callback(context)


_default_callback = make_task_failure_callback()


# ---------------------------------------------------------------------------------------- connections


def _get_connection(conn_id: str):
    """The Airflow Connection, or None when it is not defined anywhere the Airflow way looks."""
    try:
        from airflow.sdk import BaseHook
    except ImportError:  # pragma: no cover - Airflow 2
        from airflow.hooks.base import BaseHook
    try:
        return BaseHook.get_connection(conn_id)
    except Exception as exc:
        if any(cls.__name__ == "AirflowNotFoundException" for cls in type(exc).__mro__):
            return None
        raise


def _extra(conn) -> dict:
    try:
        extra = conn.extra_dejson
    except Exception:  # noqa: BLE001
        extra = {}
    return extra if isinstance(extra, dict) else {}


def webhook_url(conn) -> str:
    """The webhook URL from a Connection. Accepted forms (first that applies):

    - extra "webhook_url" (or "url"): the full URL;
    - password holding a full URL (the Slack provider's `slackwebhook` style);
    - host holding a full URL ("https://hooks.slack.com/services"), then schema and password appended as path;
    - URI form `http://127.0.0.1:8080/hooks/xyz`: scheme from the connection type (http or https; any other
      type means https unless extra "scheme" says otherwise), host, port, and the schema as the path; a
      password that is not a URL is appended as the last path segment (Slack's "T000/B000/XXXX" token).
    """
    extra = _extra(conn)
    for key in ("webhook_url", "url"):
        if extra.get(key):
            return str(extra[key])
    password = conn.password or ""
    if "://" in password:
        return password
    host = (conn.host or "").strip()
    if not host:
        raise ValueError("the webhook connection has no host and no extra 'webhook_url'")
    if "://" in host:
        base = host.rstrip("/")
    else:
        scheme = extra.get("scheme") or (conn.conn_type if conn.conn_type in ("http", "https") else "https")
        base = f"{scheme}://{host}" + (f":{conn.port}" if conn.port else "")
    for segment in (conn.schema, password):
        if segment:
            base += "/" + str(segment).strip("/")
    return base


def _send_webhook(alert: Alert, conn, conn_id: str) -> None:
    url = webhook_url(conn)
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https"):
        raise ValueError(f"webhook URL scheme must be http or https, not {scheme!r}")
    timeout = float(_extra(conn).get("timeout", WEBHOOK_TIMEOUT_S))
    body = json.dumps(alert.slack_payload()).encode("utf-8")
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8",
                                              "User-Agent": "credsignal-alerts"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked above
        response.read(1024)


def _send_email(alert: Alert, conn, conn_id: str) -> None:
    extra = _extra(conn)
    to = _addresses(extra.get("to"))
    if not to:
        raise ValueError("no recipients: set 'to' in the connection's extra")
    from_email = extra.get("from_email") or extra.get("from")
    if not from_email:
        raise ValueError("no sender: set 'from_email' in the connection's extra")
    hook = _alert_smtp_hook_class()(smtp_conn_id=conn_id, text_body=alert.render_text())
    with hook:
        hook.send_email_smtp(
            to=to,
            cc=_addresses(extra.get("cc")) or None,
            subject=alert.subject,
            html_content=alert.render_html(),
            from_email=from_email,
            mime_subtype="alternative",
            custom_headers={"X-Credsignal-Severity": alert.severity, "X-Credsignal-Run-Id": alert.run_id},
        )


_HOOK_CLASS = None


def _alert_smtp_hook_class():
    """SmtpHook with a plain-text alternative part and alert-sized timeout/retry defaults (the extra still wins)."""
    global _HOOK_CLASS
    if _HOOK_CLASS is not None:
        return _HOOK_CLASS
    from email.mime.text import MIMEText

    from airflow.providers.smtp.hooks.smtp import SmtpHook

    class AlertSmtpHook(SmtpHook):
        def __init__(self, *args, text_body: str | None = None, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._text_body = text_body

        def _build_mime_message(self, *args, **kwargs):
            msg, recipients = super()._build_mime_message(*args, **kwargs)
            if self._text_body:
                try:  # multipart/alternative: plain text first, HTML last (the preferred one)
                    msg.get_payload().insert(0, MIMEText(self._text_body, "plain", "utf-8"))
                except Exception:  # noqa: BLE001 - an HTML-only mail is still a mail
                    log.debug("could not add the plain-text part; sending HTML only", exc_info=True)
            return msg, recipients

        @property
        def timeout(self) -> int:
            return int(self.conn.extra_dejson.get("timeout", SMTP_TIMEOUT_S))

        @property
        def smtp_retry_limit(self) -> int:
            return int(self.conn.extra_dejson.get("retry_limit", SMTP_RETRY_LIMIT))

    _HOOK_CLASS = AlertSmtpHook
    return _HOOK_CLASS


# -------------------------------------------------------------------------------------------- helpers


def _addresses(value) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        value = re.split(r"\s*[,;]\s*", value)
    return [str(v).strip() for v in value if str(v).strip()]


def _reason(exc: BaseException) -> str:
    """A short reason without URLs (a webhook URL is a secret)."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        reason = exc.reason
        text = f"{type(reason).__name__}: {reason}" if isinstance(reason, BaseException) else str(reason)
        return _clip(_URL.sub("[url]", f"unreachable ({text})"), 300)
    return _clip(_URL.sub("[url]", f"{type(exc).__name__}: {exc}"), 300)


def _escape(text: str) -> str:
    """Slack's three control characters."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _mrkdwn(text: str) -> str:
    return _escape(text).replace("`", "'")


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _chunks(lines: Iterable[str], size: int) -> list[str]:
    chunks, current = [], ""
    for line in lines:
        line = _clip(line, size)
        if current and len(current) + 1 + len(line) > size:
            chunks.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        chunks.append(current)
    return chunks


def _count(items, noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def _first(*values):
    return next((v for v in values if v), None)


def _float_or_none(value) -> float | None:
    try:
        return None if value is None or value != value else float(value)
    except (TypeError, ValueError):
        return None


def _int_or_none(value) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _as_of_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _context_as_of(context: Mapping[str, Any]) -> str | None:
    params = context.get("params") or {}
    try:
        as_of = params.get("as_of")
    except Exception:  # noqa: BLE001
        as_of = None
    if as_of:
        return str(as_of)
    if context.get("ds"):
        return str(context["ds"])
    dag_run = context.get("dag_run")
    for attr in ("logical_date", "run_after"):
        value = getattr(dag_run, attr, None)
        if value is not None:
            return _as_of_text(value)
    return None


def _task_tables(task) -> tuple[str, ...]:
    """What a failed task was producing: its outlets' names or URIs."""
    names = []
    for outlet in getattr(task, "outlets", None) or ():
        name = getattr(outlet, "name", None) or getattr(outlet, "uri", None)
        if name:
            names.append(str(name))
    return tuple(dict.fromkeys(names))
