"""The three HTML pages (validation report, analyst readout, alert mail) are rendered by credsignal.core.pages from
templates extending base.html.j2, and carry the one stylesheet, credsignal.css, and no other style."""

from __future__ import annotations

import re
from datetime import date
from importlib import resources

import pandas as pd
import pytest

from jobs.validate import Finding, ValidationOutcome

OUTCOME = ValidationOutcome("run-2023-03-31-a1b2", date(2023, 3, 31), [
    Finding("learner_outcomes_full", "srm:overall", "failure", "treatment=4750 control=5000", "50/50", 0.000377),
    Finding("learner_outcomes_full", "balance:gender=female", "warning", "smd=0.1312", "|smd| < 0.1"),
])


def validation_report() -> str:
    from jobs.quality_history import render_html

    return render_html(OUTCOME)


def readout() -> str:
    from jobs.readout.estimates import ESTIMATE_COLUMNS, Estimates
    from jobs.readout.render import render_html

    return render_html("20260102T000000Z-run1", Estimates(pd.DataFrame(columns=ESTIMATE_COLUMNS), {}, pd.DataFrame()),
                       {}, {}, counts={"full": 3000, "linkedin": 800}, notes=["a note"])


def alert_mail() -> str:
    from credsignal.alerts import alert_from_validation

    return alert_from_validation(OUTCOME).render_html()


@pytest.mark.parametrize("page", [validation_report, readout, alert_mail], ids=lambda page: page.__name__)
def test_each_page_carries_the_one_stylesheet_and_no_other_style(page):
    stylesheet = resources.files("credsignal.core").joinpath("templates", "credsignal.css").read_text("utf-8")
    html = page()
    assert [style.strip() for style in re.findall(r"<style>(.*?)</style>", html, re.DOTALL)] == [stylesheet.strip()]
    assert html.count("<style") == 1 and "<link" not in html and "<script" not in html
    assert html.startswith("<!doctype html>") and '<footer class="page-footer">' in html


def test_alert_heading_takes_the_colour_of_its_severity():
    from credsignal.alerts import alert_from_validation

    warned = ValidationOutcome("run-2", date(2023, 3, 31), OUTCOME.findings[1:])
    assert '<body class="alert failure">' in alert_mail()
    assert '<body class="alert warning">' in alert_from_validation(warned).render_html()
