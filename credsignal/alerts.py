"""Data-quality and task-failure alerts, sent through the Airflow providers' notifiers.

What is sent when (docs/alerts.md has the details and an example):
- after validation, `notify_validation(outcome)`: a *failure* alert when publishing is blocked (it also lists the
  run's warnings), a *warning* alert when only warnings were found, nothing on a clean run;
- when a task fails for good, `alert_notifiers()` (every task's `on_failure_callback`): a *failure* alert with the
  DAG, task, run, try, the exception's type and a sanitised one-line message, and the log URL.

Channels, each an Airflow Connection resolved the Airflow way (inside a task through the task SDK, from the plain
CLI, `credsignal run`, through the `AIRFLOW_CONN_*` environment variables):
- `credsignal_alerts_webhook`: a Slack-compatible incoming webhook, a `slackwebhook` connection sent to by the
  Slack provider's `SlackWebhookNotifier` (JSON POST with "text" and "blocks");
- `credsignal_alerts_smtp`: a mail server, sent to by the SMTP provider's `SmtpNotifier`, recipients and sender in
  the connection's extra.

The alert path never raises: an undefined connection is "not configured" (logged), a down webhook or mail
server is logged and reported as "failed: <reason>" in the `DeliveryReport`, and the caller goes on to fail
the run for its original reason.
"""

from __future__ import annotations

import logging
import re
import urllib.error
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier
from airflow.providers.smtp.notifications.smtp import SmtpNotifier

from credsignal.core.pages import render

if TYPE_CHECKING:
    from jobs.validate import Finding, ValidationOutcome

log = logging.getLogger(__name__)

FAILURE, WARNING = "failure", "warning"
SENT, NOT_CONFIGURED = "sent", "not configured"
WEBHOOK_CONN_ID = "credsignal_alerts_webhook"
SMTP_CONN_ID = "credsignal_alerts_smtp"
WEBHOOK_TIMEOUT_S = 5
MAX_WEBHOOK_FINDINGS = 20  # Slack: at most 50 blocks and 3000 characters a section; the report has the rest
MAX_EMAIL_FINDINGS = 200
MAX_ERROR_CHARS = 300

EMOJI = {FAILURE: ":rotating_light:", WARNING: ":warning:"}
LABEL = {FAILURE: "FAILURE", WARNING: "WARNING"}


# ---------------------------------------------------------------------------------------------- model


def finding_line(finding: Finding) -> str:
    """One failed or warning check as every channel lists it, with what to change (jobs.validate.remedy_for), so
    the person on call can act from the alert."""
    p_value = _float_or_none(finding.p_value)
    p = "" if p_value is None else f" (p={p_value:.3g})"
    detail = f" [{finding.detail}]" if finding.detail else ""
    table = f"{finding.table} " if finding.table else ""
    remedy = f". What to change: {finding.remedy}" if finding.remedy else ""
    return f"{LABEL.get(finding.severity, finding.severity.upper())} {table}{finding.check}: observed " \
           f"{finding.observed}; expected {finding.expected}{p}{detail}{remedy}"


@dataclass
class Alert:
    severity: str  # "failure" | "warning"
    title: str
    tables: tuple[str, ...]
    run_id: str
    as_of: str | None = None
    dag_id: str | None = None
    task_id: str | None = None
    findings: list[Finding] = field(default_factory=list)
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

    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == FAILURE]

    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]

    def _sections(self, limit: int) -> list[tuple[str, list[str], str | None]]:
        """("Failed expectations:", lines, more) and ("Warnings:", lines, more): at most `limit` findings in all,
        `more` saying how many others the report has (None when none)."""
        sections, left = [], limit
        for heading, findings in (("Failed expectations:", self.failures()), ("Warnings:", self.warnings())):
            if not findings:
                continue
            shown = findings[:max(left, 0)]
            left -= len(shown)
            more = f"... and {len(findings) - len(shown)} more in the report" if len(shown) < len(findings) else None
            sections.append((heading, [finding_line(f) for f in shown], more))
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

    @property
    def verdict(self) -> str:
        """What the alert means for publishing ("" for a failed task without findings)."""
        if self.severity == WARNING:
            return "Warnings do not block publishing; the run's tables were published."
        if self.findings:
            return "Publishing was blocked: analysts still see the previous snapshot."
        return ""

    def render_text(self, limit: int = MAX_EMAIL_FINDINGS) -> str:
        lines = [self.subject, ""]
        lines += [f"{name}: {value}" for name, value in self.facts()]
        if self.error:
            lines += ["", f"Error: {self.error}"]
        if self.log_url:
            lines.append(f"Log: {self.log_url}")
        for heading, shown, more in self._sections(limit):
            lines += ["", heading, *(f"  - {line}" for line in shown)]
            lines += [f"  {more}"] if more else []
        if self.report_path:
            lines += ["", f"Report: {self.report_path}"]
        if self.verdict:
            lines += ["", self.verdict]
        return "\n".join(lines)

    def render_html(self, limit: int = MAX_EMAIL_FINDINGS) -> str:
        """The mail: the text's lines as HTML (facts, the findings as lists, the report, the verdict), in the
        design of credsignal's pages (credsignal/core/templates/alert.html.j2)."""
        sections = [(heading, shown + ([more] if more else [])) for heading, shown, more in self._sections(limit)]
        return render("alert.html.j2", title=self.subject, severity=self.severity, facts=self.facts(),
                      error=self.error, log_url=self.log_url, sections=sections, report_path=self.report_path,
                      verdict=self.verdict)

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
        for heading, shown, more in self._sections(limit):
            lines = [f"*{heading}*", *(f"• {_mrkdwn(line)}" for line in shown)] + ([_mrkdwn(more)] if more else [])
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
    findings = failures + warnings
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
# Both channels are the providers' notifiers: SlackWebhookNotifier (apache-airflow-providers-slack) and SmtpNotifier
# (apache-airflow-providers-smtp). The two subclasses below only choose the message, from the context, when they
# are called. Airflow calls them as `on_failure_callback` with the task's context; the validate step and
# `credsignal run` call them (send_alert) with a context that holds the alert under ALERT_KEY.

ALERT_KEY = "credsignal_alert"
NOTHING_TO_SEND = "nothing to send"


def alert_for(context: Mapping[str, Any]) -> Alert | None:
    """The alert a notifier sends for `context`: the one the caller put under ALERT_KEY, else a task-failure
    alert. None when the failure carries a validation outcome (a blocked publish): the validate step has already
    sent that run's alert, with its findings."""
    alert = context.get(ALERT_KEY)
    if alert is not None:
        return alert
    if getattr(context.get("exception"), "outcome", None) is not None:
        return None
    return alert_from_task_failure(context)


class _AlertChannel:
    """What both notifiers add to the provider's: the message from `alert_for(context)`, a channel without a
    connection skipped, and no exception ever raised. The outcome of the last call is in `status`."""

    channel = ""
    status: str | None = None

    def _conn_id(self) -> str:
        raise NotImplementedError

    def _compose(self, alert: Alert, conn) -> None:
        raise NotImplementedError

    def __call__(self, *args) -> None:
        try:
            super().__call__(*args)
        except Exception as exc:  # noqa: BLE001 - rendering the (empty) templates; the alert path never raises
            self.status = f"failed: {_reason(exc)}"
            log.error("ALERT DELIVERY FAILED: channel=%s connection=%r: %s", self.channel, self._conn_id(),
                      self.status)

    def notify(self, context) -> None:
        self.status = self._deliver(context)

    def _deliver(self, context) -> str:
        conn_id = self._conn_id()
        alert = None
        try:
            alert = alert_for(context)
            if alert is None:
                return NOTHING_TO_SEND
            conn = _connection(conn_id)
            if conn is None:
                log.info("alert %s: channel %s not configured (no Airflow connection %r); skipped",
                         alert.label, self.channel, conn_id)
                return NOT_CONFIGURED
            self.__dict__.pop("hook", None)  # the provider caches its hook: resolve the connection afresh each time
            self._compose(alert, conn)
            super().notify(context)
        except Exception as exc:  # noqa: BLE001 - the alert path must never fail the caller
            reason = _reason(exc)
            log.error("ALERT DELIVERY FAILED: channel=%s connection=%r alert=%s %r: %s "
                      "(the run's own outcome is unchanged)", self.channel, conn_id,
                      getattr(alert, "label", "?"), getattr(alert, "title", "?"), reason)
            return f"failed: {reason}"
        log.info("alert %s sent by %s (connection %r): %s", alert.label, self.channel, conn_id, alert.title)
        return SENT


class AlertWebhookNotifier(_AlertChannel, SlackWebhookNotifier):
    """The provider's SlackWebhookNotifier, sending the alert as "text" plus Block Kit "blocks"."""

    channel = "webhook"

    def __init__(self, *, slack_webhook_conn_id: str = WEBHOOK_CONN_ID, **kwargs) -> None:
        kwargs.setdefault("timeout", WEBHOOK_TIMEOUT_S)
        super().__init__(slack_webhook_conn_id=slack_webhook_conn_id, text="", unfurl_links=False, **kwargs)

    def _conn_id(self) -> str:
        return self.slack_webhook_conn_id

    def _compose(self, alert: Alert, conn) -> None:
        payload = alert.slack_payload()
        self.text, self.blocks = payload["text"], payload["blocks"]


class AlertEmailNotifier(_AlertChannel, SmtpNotifier):
    """The provider's SmtpNotifier, sending the alert as an HTML mail to the recipients in the connection's extra."""

    channel = "email"

    def __init__(self, *, smtp_conn_id: str = SMTP_CONN_ID, **kwargs) -> None:
        super().__init__(to=[], smtp_conn_id=smtp_conn_id, **kwargs)

    def _conn_id(self) -> str:
        return self.smtp_conn_id

    def _compose(self, alert: Alert, conn) -> None:
        extra = _extra(conn)
        self.to = _addresses(extra.get("to"))
        if not self.to:
            raise ValueError("no recipients: set 'to' in the connection's extra")
        self.from_email = extra.get("from_email") or extra.get("from")
        if not self.from_email:
            raise ValueError("no sender: set 'from_email' in the connection's extra")
        self.cc = _addresses(extra.get("cc")) or None
        self.subject = alert.subject
        self.html_content = alert.render_html()
        self.custom_headers = {"X-Credsignal-Severity": alert.severity, "X-Credsignal-Run-Id": alert.run_id}


def alert_notifiers(*, webhook_conn_id: str = WEBHOOK_CONN_ID,
                    smtp_conn_id: str = SMTP_CONN_ID) -> list[_AlertChannel]:
    """Both channels' notifiers: the `on_failure_callback` of every credsignal task, and what send_alert calls."""
    return [AlertWebhookNotifier(slack_webhook_conn_id=webhook_conn_id), AlertEmailNotifier(smtp_conn_id=smtp_conn_id)]


def send_alert(alert: Alert, *, context: Mapping[str, Any] | None = None, webhook_conn_id: str = WEBHOOK_CONN_ID,
               smtp_conn_id: str = SMTP_CONN_ID) -> DeliveryReport:
    """Send the alert through both notifiers (with the task's context, if any). Never raises."""
    report = DeliveryReport()
    for notifier in alert_notifiers(webhook_conn_id=webhook_conn_id, smtp_conn_id=smtp_conn_id):
        notifier({**(context or {}), ALERT_KEY: alert})
        report.channels[notifier.channel] = notifier.status or "failed: not called"
    return report


def notify_validation(outcome: ValidationOutcome, *, context: Mapping[str, Any] | None = None,
                      dag_id: str | None = None, task_id: str | None = None,
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
    return send_alert(alert, context=context, webhook_conn_id=webhook_conn_id, smtp_conn_id=smtp_conn_id)


def _connection(conn_id: str):
    """The Airflow Connection, or None when it is not defined anywhere the Airflow way looks (inside a task: the
    task SDK; from `credsignal run`: AIRFLOW_CONN_* variables and the configured secrets backend)."""
    from airflow.sdk import BaseHook

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


# -------------------------------------------------------------------------------------------- helpers


def _addresses(value) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        value = re.split(r"\s*[,;]\s*", value)
    return [str(v).strip() for v in value if str(v).strip()]


_WEBHOOK_STATUS = re.compile(r"Status Code: (\d{3})")


def _reason(exc: BaseException) -> str:
    """A short reason without URLs (a webhook URL is a secret)."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    status = _WEBHOOK_STATUS.search(str(exc))  # the Slack hook's "Response body: ..., Status Code: 500. See: ..."
    if status:
        return f"HTTP {status.group(1)}"
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
    """The day a failed run was for: its partition (an export day), else its logical date."""
    partition_key = getattr(context.get("dag_run"), "partition_key", None)
    if partition_key:
        return str(partition_key)
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
