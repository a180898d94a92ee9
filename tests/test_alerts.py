"""Alerts, tested for real: the providers' notifiers (SlackWebhookNotifier, SmtpNotifier) send to a local HTTP
server, which captures the webhook POST, and a local aiosmtpd server, which captures the mail.

Everything listens on 127.0.0.1 only; connections are AIRFLOW_CONN_* variables set per test (the Slack webhook
connection points at the local server through its host and schema). Deliveries are
awaited on a condition with a deadline, never with a fixed sleep.
"""

from __future__ import annotations

import email
import email.policy
import json
import logging
import threading
import time
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest

from credsignal import alerts
from credsignal.alerts import (
    Alert,
    AlertEmailNotifier,
    AlertWebhookNotifier,
    DeliveryReport,
    alert_from_task_failure,
    alert_from_validation,
    alert_notifiers,
    notify_validation,
    send_alert,
)
from jobs.validate import Finding, ValidationOutcome
from helper_dags import load_helper_dag
from local_servers import Inbox, free_port

WEBHOOK_ENV = "AIRFLOW_CONN_CREDSIGNAL_ALERTS_WEBHOOK"
SMTP_ENV = "AIRFLOW_CONN_CREDSIGNAL_ALERTS_SMTP"
DEADLINE_S = 15.0


# --------------------------------------------------------------------------------------- local servers


@pytest.fixture
def webhook_server():
    inbox = Inbox()
    status = {"code": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            code = status["code"]
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if code == 200 else b"error")
            inbox.add({"path": self.path, "content_type": self.headers.get("Content-Type"),
                       "json": json.loads(body)})

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield SimpleNamespace(inbox=inbox, host=host, port=port, conn=webhook_conn(port), status=status)
    server.shutdown()
    server.server_close()
    thread.join(timeout=DEADLINE_S)


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    inbox = Inbox()

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            message = email.message_from_bytes(envelope.original_content or envelope.content,
                                               policy=email.policy.default)
            inbox.add(SimpleNamespace(mail_from=envelope.mail_from, rcpt_tos=list(envelope.rcpt_tos),
                                      message=message))
            return "250 Message accepted for delivery"

    controller = Controller(Handler(), hostname="127.0.0.1", port=free_port())
    controller.start()
    yield SimpleNamespace(inbox=inbox, host="127.0.0.1", port=controller.port)
    controller.stop()


def webhook_conn(port: int, token: str = "xyz") -> str:
    """A `slackwebhook` connection aimed at the local server: URL = <schema>://<host>/<password>."""
    return json.dumps({"conn_type": "slackwebhook", "host": f"127.0.0.1:{port}/hooks", "schema": "http",
                       "password": token})


def smtp_conn(port: int, **extra) -> str:
    """JSON form of the SMTP connection; the local server speaks neither SSL nor STARTTLS."""
    return json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": port,
                       "extra": {"from_email": "credsignal-alerts@example.org",
                                 "to": ["oncall@example.org", "data-team@example.org"],
                                 "disable_ssl": True, "disable_tls": True, "timeout": 5, **extra}})


@pytest.fixture
def channels(monkeypatch, webhook_server, smtp_server):
    monkeypatch.setenv(WEBHOOK_ENV, webhook_server.conn)
    monkeypatch.setenv(SMTP_ENV, smtp_conn(smtp_server.port))
    return SimpleNamespace(webhook=webhook_server, smtp=smtp_server)


# ---------------------------------------------------------------------------------------------- data


def outcome_with(findings: list[Finding], report_path: Path | None = None) -> ValidationOutcome:
    return ValidationOutcome("run-2023-03-31-a1b2", date(2023, 3, 31), findings, report_path)


def ok_findings() -> list[Finding]:
    return [
        Finding("learner_outcomes_full", "gx:expect_column_values_to_not_be_null", "ok", "0 unexpected rows", "{}"),
        Finding("learner_outcomes_full", "srm:overall", "ok", "treatment=500 control=500", "50/50", 1.0),
    ]


FAILED_SRM = Finding("learner_outcomes_full", "srm:overall", "failure", "treatment=4750 control=5000", "50/50",
                     0.000377)
FAILED_UNIQUE = Finding("learner_outcomes_full", "gx:expect_column_values_to_be_unique", "failure",
                        "3 unexpected rows (e.g. L0042, L0042, L0077)", '{"column": "learner_id"}')
FAILED_VOLUME = Finding("learner_outcomes_linkedin", "volume:vs_previous_snapshot", "failure", "610 rows (-39.0%)",
                        "within ±20.0% of 1000")
WARN_BALANCE = Finding("learner_outcomes_full", "balance:gender=female", "warning", "smd=0.1312", "|smd| < 0.1")
WARN_BAND = Finding("learner_outcomes_linkedin", "band:new_job", "warning", "0.2810 (n=900)",
                    "[0.3, 0.5] (paper 0.41)", 0.02)


@pytest.fixture
def blocked_outcome(tmp_path) -> ValidationOutcome:
    report = tmp_path / "reports" / "run-2023-03-31-a1b2" / "report.html"
    return outcome_with(ok_findings() + [FAILED_SRM, FAILED_UNIQUE, FAILED_VOLUME, WARN_BALANCE], report)


@pytest.fixture
def warning_outcome(tmp_path) -> ValidationOutcome:
    report = tmp_path / "reports" / "run-2023-03-31-a1b2" / "report.html"
    return outcome_with(ok_findings() + [WARN_BALANCE, WARN_BAND], report)


def mail_parts(message) -> tuple[str, str]:
    """(the mail's text as a reader sees it, its HTML)."""
    html_part = message.get_body(preferencelist=("html",)).get_content()
    return html_text(html_part), html_part


def html_text(page: str) -> str:
    import html as html_module
    import re

    text = html_module.unescape(re.sub(r"<[^>]+>", " ", page.replace("</li>", "\n").replace("</tr>", "\n")))
    return "\n".join(re.sub(r"\s+", " ", line).strip() for line in text.splitlines())


# ------------------------------------------------------------------------------------- building alerts


def test_clean_run_has_nothing_to_say():
    assert alert_from_validation(outcome_with(ok_findings())) is None


def test_failure_alert_from_a_blocked_validation(blocked_outcome):
    alert = alert_from_validation(blocked_outcome, dag_id="curated_daily")
    assert alert.severity == "failure"
    assert alert.run_id == "run-2023-03-31-a1b2" and alert.as_of == "2023-03-31" and alert.dag_id == "curated_daily"
    assert alert.tables == ("learner_outcomes_full", "learner_outcomes_linkedin")
    assert [f.check for f in alert.failures()] == ["srm:overall", "gx:expect_column_values_to_be_unique",
                                                   "volume:vs_previous_snapshot"]
    assert [f.check for f in alert.warnings()] == ["balance:gender=female"]
    assert alert.findings[0].p_value == pytest.approx(0.000377)
    assert alert.report_path == str(blocked_outcome.report_path)
    assert "publishing blocked" in alert.title


def test_each_listed_check_says_what_to_change(tmp_path):
    from jobs.validate import remedy_for

    srm = Finding(**{**FAILED_SRM.__dict__, "remedy": remedy_for(FAILED_SRM)})
    alert = alert_from_validation(outcome_with(ok_findings() + [srm], tmp_path / "report.html"))
    assert alert.findings[0].remedy == remedy_for(FAILED_SRM)
    assert "CREDSIGNAL_EXPERIMENT_ID" in alert.render_text()
    assert f"What to change: {remedy_for(FAILED_SRM)}" in html_text(alert.render_html())


def test_warning_alert_when_only_warnings(warning_outcome):
    alert = alert_from_validation(warning_outcome)
    assert alert.severity == "warning"
    assert not alert.failures() and len(alert.warnings()) == 2
    assert "FAIL" not in alert.render_text().upper().replace("FAILED EXPECTATIONS", "")


def test_many_findings_stay_within_slack_limits(tmp_path):
    findings = [Finding("learner_outcomes_full", f"srm:stratum 2022-09/{i:03d}", "failure",
                        f"treatment={400 + i} control=500 " + "x" * 200, "50/50", 1e-5) for i in range(60)]
    alert = alert_from_validation(outcome_with(findings, tmp_path / "report.html"))
    payload = alert.slack_payload()
    assert len(payload["blocks"]) <= 50 and len(payload["text"]) <= 4000
    sections = [b["text"]["text"] for b in payload["blocks"] if b["type"] == "section" and "text" in b]
    assert all(len(t) <= 3000 for t in sections)
    assert "... and 40 more in the report" in "\n".join(sections)
    assert "srm:stratum 2022-09/019" in "\n".join(sections) and "srm:stratum 2022-09/020" not in "\n".join(sections)
    assert alert.render_text().count("- FAILURE") == 60  # the email lists them all (up to 200)


def test_alert_rejects_an_unknown_severity():
    with pytest.raises(ValueError):
        Alert(severity="ok", title="x", tables=(), run_id="r")


def test_exception_is_reduced_to_type_and_a_scrubbed_line():
    error = ValueError("could not parse profile of jane.doe@example.org at https://www.linkedin.com/in/jane-doe-1234"
                       " <html><body><h1>Jane Doe</h1>Senior engineer</body></html>\nsecond line with more page text")
    described = alerts.describe_exception(error)
    assert described.startswith("ValueError: could not parse profile of [email] at [url]")
    for secret in ("jane", "Jane", "linkedin.com", "<html>", "Senior engineer", "second line"):
        assert secret not in described
    assert len(alerts.describe_exception(RuntimeError("x" * 5000))) < 400
    assert alerts.describe_exception(None) is None


# --------------------------------------------------------------------------------- connection formats


def test_the_notifiers_are_the_providers():
    from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    webhook, mail = alert_notifiers()
    assert isinstance(webhook, AlertWebhookNotifier) and isinstance(webhook, SlackWebhookNotifier)
    assert isinstance(mail, AlertEmailNotifier) and isinstance(mail, SmtpNotifier)
    assert (webhook.slack_webhook_conn_id, mail.smtp_conn_id) == ("credsignal_alerts_webhook", "credsignal_alerts_smtp")


# ------------------------------------------------------------------------------------------- delivery


def test_failure_alert_reaches_webhook_and_mailbox(channels, blocked_outcome):
    report = notify_validation(blocked_outcome, dag_id="curated_daily")
    assert isinstance(report, DeliveryReport)
    assert report.channels == {"webhook": "sent", "email": "sent"}

    [post] = channels.webhook.inbox.wait_for(1)
    assert post["path"] == "/hooks/xyz" and post["content_type"].startswith("application/json")
    payload = post["json"]
    text = payload["text"]
    assert text.startswith(":rotating_light: [credsignal FAILURE]")
    assert ":warning:" not in text
    blocks = payload["blocks"]
    assert blocks[0]["type"] == "header" and blocks[0]["text"]["text"].startswith(":rotating_light: FAILURE:")
    everything = json.dumps(blocks, ensure_ascii=False)
    for needle in ("run-2023-03-31-a1b2", "2023-03-31", "learner_outcomes_full", "learner_outcomes_linkedin",
                   "curated_daily", str(blocked_outcome.report_path), "Publishing blocked"):
        assert needle in text or needle in everything, needle
    for finding in (FAILED_SRM, FAILED_UNIQUE, FAILED_VOLUME):
        line = f"FAILURE {finding.table} {finding.check}: observed {finding.observed}; expected"
        assert line in text
        assert f"FAILURE {finding.table} {finding.check}: observed {finding.observed}" in everything
    assert "p=0.000377" in text
    assert f"WARNING {WARN_BALANCE.table} {WARN_BALANCE.check}: observed {WARN_BALANCE.observed}" in text

    [mail] = channels.smtp.inbox.wait_for(1)
    assert mail.mail_from == "credsignal-alerts@example.org"
    assert sorted(mail.rcpt_tos) == ["data-team@example.org", "oncall@example.org"]
    message = mail.message
    assert message["Subject"].startswith("[credsignal FAILURE] validation failed, publishing blocked: 3 failed checks")
    assert "run-2023-03-31-a1b2" in message["Subject"]
    assert message["X-Credsignal-Severity"] == "failure"
    plain, html_body = mail_parts(message)
    assert "Run: run-2023-03-31-a1b2" in plain and "As of: 2023-03-31" in plain
    assert "Table(s): learner_outcomes_full, learner_outcomes_linkedin" in plain
    assert "Failed expectations:" in plain
    assert f"Report: {blocked_outcome.report_path}" in plain
    for finding in (FAILED_SRM, FAILED_UNIQUE, FAILED_VOLUME):
        assert f"FAILURE {finding.table} {finding.check}: observed {finding.observed}; expected " \
               f"{finding.expected}" in plain
        assert finding.check in html_body
    assert "observed 3 unexpected rows (e.g. L0042, L0042, L0077);" in html_body
    assert "observed 610 rows (-39.0%);" in html_body
    assert str(blocked_outcome.report_path) in html_body


def test_warning_alert_is_worded_as_a_warning(channels, warning_outcome):
    report = notify_validation(warning_outcome)
    assert report.channels == {"webhook": "sent", "email": "sent"}

    [post] = channels.webhook.inbox.wait_for(1)
    text = post["json"]["text"]
    assert text.startswith(":warning: [credsignal WARNING] validation warnings: 2 checks warned")
    assert ":rotating_light:" not in json.dumps(post["json"]) and "FAILURE" not in json.dumps(post["json"])
    assert post["json"]["blocks"][0]["text"]["text"].startswith(":warning: WARNING:")
    for finding in (WARN_BALANCE, WARN_BAND):
        assert f"WARNING {finding.table} {finding.check}: observed {finding.observed}" in text
    assert "Warnings do not block publishing" in text

    [mail] = channels.smtp.inbox.wait_for(1)
    assert mail.message["Subject"].startswith("[credsignal WARNING] validation warnings")
    assert mail.message["X-Credsignal-Severity"] == "warning"
    plain, html_body = mail_parts(mail.message)
    assert "Warnings:" in plain and "Failed expectations" not in plain and "FAILURE" not in plain
    assert "observed 0.2810 (n=900); expected [0.3, 0.5] (paper 0.41) (p=0.02)" in plain
    assert "observed smd=0.1312;" in html_body


def test_clean_run_sends_nothing(channels):
    assert notify_validation(outcome_with(ok_findings())) is None
    assert channels.webhook.inbox.items == [] and channels.smtp.inbox.items == []


def test_webhook_down_is_reported_and_the_email_still_goes(channels, blocked_outcome, monkeypatch, caplog):
    monkeypatch.setenv(WEBHOOK_ENV, webhook_conn(free_port()))
    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger="credsignal.alerts"):
        report = send_alert(alert_from_validation(blocked_outcome))
    assert time.monotonic() - started < 10
    assert report.webhook.startswith("failed: unreachable (ConnectionRefusedError")
    assert report.email == "sent"
    assert report.failed == {"webhook": report.webhook}
    assert "/hooks/xyz" not in report.webhook  # the URL is a secret; it stays out of reports and logs
    [mail] = channels.smtp.inbox.wait_for(1)
    assert mail.message["Subject"].startswith("[credsignal FAILURE]")
    failed_lines = [r for r in caplog.records if "ALERT DELIVERY FAILED" in r.getMessage()]
    assert len(failed_lines) == 1 and failed_lines[0].levelno == logging.ERROR
    assert "channel=webhook" in failed_lines[0].getMessage() and "/hooks/xyz" not in caplog.text


def test_webhook_error_status_is_a_failure(channels, blocked_outcome):
    channels.webhook.status["code"] = 500
    report = send_alert(alert_from_validation(blocked_outcome))
    assert report.webhook == "failed: HTTP 500"
    assert report.email == "sent"
    channels.webhook.inbox.wait_for(1)


def test_smtp_down_is_reported_and_the_webhook_still_goes(channels, blocked_outcome, monkeypatch):
    monkeypatch.setenv(SMTP_ENV, smtp_conn(free_port()))
    report = send_alert(alert_from_validation(blocked_outcome))
    assert report.webhook == "sent"
    assert report.email.startswith("failed: ConnectionRefusedError")
    channels.webhook.inbox.wait_for(1)


def test_smtp_connection_without_recipients_fails_clearly(channels, blocked_outcome, monkeypatch):
    monkeypatch.setenv(SMTP_ENV, smtp_conn(channels.smtp.port, to=[]))
    report = send_alert(alert_from_validation(blocked_outcome))
    assert report.email == "failed: ValueError: no recipients: set 'to' in the connection's extra"
    assert report.webhook == "sent"


def test_no_connection_means_not_configured(monkeypatch, blocked_outcome, caplog):
    monkeypatch.delenv(WEBHOOK_ENV, raising=False)
    monkeypatch.delenv(SMTP_ENV, raising=False)
    with caplog.at_level(logging.INFO, logger="credsignal.alerts"):
        report = notify_validation(blocked_outcome)
    assert report.channels == {"webhook": "not configured", "email": "not configured"}
    assert report.failed == {}
    assert "channel webhook not configured" in caplog.text and "channel email not configured" in caplog.text


def test_json_connection_forms_and_other_conn_ids(monkeypatch, webhook_server, smtp_server, warning_outcome):
    monkeypatch.setenv("AIRFLOW_CONN_OTHER_HOOK", webhook_conn(webhook_server.port))
    monkeypatch.setenv("AIRFLOW_CONN_OTHER_SMTP", smtp_conn(smtp_server.port, to="a@example.org; b@example.org"))
    report = send_alert(alert_from_validation(warning_outcome), webhook_conn_id="other_hook",
                        smtp_conn_id="other_smtp")
    assert report.channels == {"webhook": "sent", "email": "sent"}
    assert webhook_server.inbox.wait_for(1)[0]["path"] == "/hooks/xyz"
    assert sorted(smtp_server.inbox.wait_for(1)[0].rcpt_tos) == ["a@example.org", "b@example.org"]


# ------------------------------------------------------------------------------------ failed tasks


def minimal_failure_context(exception: BaseException) -> dict:
    ti = SimpleNamespace(dag_id="features_daily", task_id="build_features", run_id="scheduled__2023-03-31T00:00:00",
                         try_number=2, map_index=-1,
                         log_url="http://localhost:8080/dags/features_daily/runs/scheduled__2023-03-31/tasks/"
                                 "build_features?try_number=2")
    return {"ti": ti, "task_instance": ti, "run_id": ti.run_id, "ds": "2023-03-31", "exception": exception,
            "task": SimpleNamespace(task_id="build_features", outlets=[SimpleNamespace(name="curated_features",
                                                                                        uri="credsignal://x")])}


def test_task_failure_alert_from_a_minimal_context():
    alert = alert_from_task_failure(minimal_failure_context(KeyError("learner_id")))
    assert alert.severity == "failure"
    assert (alert.dag_id, alert.task_id, alert.run_id, alert.try_number, alert.as_of) == \
        ("features_daily", "build_features", "scheduled__2023-03-31T00:00:00", 2, "2023-03-31")
    assert alert.error == "KeyError: 'learner_id'"
    assert alert.tables == ("curated_features",)
    assert alert.log_url.endswith("build_features?try_number=2")


def call_failure_notifiers(context: dict) -> list[str]:
    """What Airflow does with an on_failure_callback list: call each notifier with the context. Their statuses."""
    notifiers = alert_notifiers()
    for notifier in notifiers:
        assert notifier(dict(context)) is None
    return [notifier.status for notifier in notifiers]


def test_failure_notifiers_send_and_never_raise(channels, caplog):
    error = RuntimeError("parse failed for learner mail bob@example.org: <div class='profile'>Bob B.</div>")
    assert call_failure_notifiers(minimal_failure_context(error)) == ["sent", "sent"]

    [post] = channels.webhook.inbox.wait_for(1)
    text = post["json"]["text"]
    assert text.startswith(":rotating_light: [credsignal FAILURE] task features_daily.build_features failed"
                           " (run scheduled__2023-03-31T00:00:00)")
    assert "Task: build_features (try 2)" in text
    assert "Error: RuntimeError: parse failed for learner mail [email]: [markup removed]" in text
    assert "bob@example.org" not in json.dumps(post["json"]) and "Bob B." not in json.dumps(post["json"])
    assert any("<http://localhost:8080/dags/features_daily" in json.dumps(b) for b in post["json"]["blocks"])

    [mail] = channels.smtp.inbox.wait_for(1)
    assert mail.message["Subject"] == ("[credsignal FAILURE] task features_daily.build_features failed"
                                       " (run scheduled__2023-03-31T00:00:00)")
    plain, html_body = mail_parts(mail.message)
    assert "Error: RuntimeError: parse failed" in plain and "Log: http://localhost:8080/dags/features_daily" in plain
    assert "bob@example.org" not in plain + html_body

    # garbage contexts: still nothing raised
    call_failure_notifiers({})
    call_failure_notifiers({"ti": object(), "exception": "a string reason"})


def test_a_blocked_publish_is_not_alerted_twice(channels):
    """The validate task alerts a blocked publish with its findings; its failure callback then stays quiet."""
    from credsignal.pipeline import PublishBlocked

    blocked = PublishBlocked(outcome_with([FAILED_SRM]))
    assert call_failure_notifiers({**minimal_failure_context(blocked)}) == ["nothing to send"] * 2
    assert channels.webhook.inbox.items == [] and channels.smtp.inbox.items == []


def test_failure_notifiers_with_everything_down(monkeypatch):
    monkeypatch.setenv(WEBHOOK_ENV, webhook_conn(free_port()))
    monkeypatch.setenv(SMTP_ENV, smtp_conn(free_port()))
    statuses = call_failure_notifiers(minimal_failure_context(ValueError("boom")))
    assert all(status.startswith("failed:") for status in statuses), statuses
    report = send_alert(alert_from_task_failure(minimal_failure_context(ValueError("boom"))))
    assert report.webhook.startswith("failed:") and report.email.startswith("failed:")


HELPER_DAG = '''
"""A one-task DAG that fails, with the alert callback in its default_args (written by tests/test_alerts.py)."""
import pendulum
from airflow.sdk import dag, task

from credsignal.alerts import alert_notifiers


@dag(schedule=None, start_date=pendulum.datetime(2023, 3, 1, tz="UTC"), catchup=False, tags=["credsignal-test"],
     default_args={"retries": 0, "on_failure_callback": alert_notifiers()})
def credsignal_alerts_test():
    @task
    def explode():
        raise RuntimeError("planted failure for the alert test")

    explode()


the_dag = credsignal_alerts_test()
'''


@pytest.mark.slow
def test_failure_notifiers_through_a_real_dag_run(airflow_db, channels, monkeypatch, tmp_path):
    """dag.test() of a tiny DAG whose task raises: the real on_failure_callback context reaches both channels."""
    dag = load_helper_dag(tmp_path / "alert_test_dags", "credsignal_alerts_test", HELPER_DAG, monkeypatch)

    run = dag.test()
    assert run.state == "failed"

    [post] = channels.webhook.inbox.wait_for(1)
    text = post["json"]["text"]
    assert text.startswith(":rotating_light: [credsignal FAILURE] task credsignal_alerts_test.explode failed (run ")
    assert run.run_id in text
    assert "Task: explode (try 1)" in text
    assert "Error: RuntimeError: planted failure for the alert test" in text
    assert "/dags/credsignal_alerts_test/runs/" in text
    [mail] = channels.smtp.inbox.wait_for(1)
    assert mail.message["Subject"].startswith("[credsignal FAILURE] task credsignal_alerts_test.explode failed")
