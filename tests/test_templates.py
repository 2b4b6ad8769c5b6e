"""The report fragments' Jinja2 environment: autoescape, nulls shown empty, undefined names fail."""

from __future__ import annotations

import jinja2
import pandas as pd
import pytest

from toolkit.reports import render, templates
from toolkit.reports.html import notice_html


def test_the_override_variable_is_the_renderers():
    assert templates.TEMPLATES_ENV == render.TEMPLATES_ENV


def test_untrusted_text_is_escaped_in_a_fragment():
    out = notice_html('<script>alert("x")</script>', "a & b <i>", kind="warning")
    assert "<script>" not in out and "<i>" not in out
    assert "&lt;script&gt;" in out and "a &amp; b &lt;i&gt;" in out
    assert 'class="notice notice-warning"' in out


@pytest.mark.parametrize("null", [None, pd.NA, float("nan")])
def test_null_values_render_as_nothing(null):
    out = notice_html("Title", null)
    assert out.endswith("<p></p></div>")


def test_an_undefined_name_is_an_error_not_an_empty_string():
    with pytest.raises(jinja2.UndefinedError):
        templates.render("common/notice.html.j2", title="t", kind="info")


def test_an_unknown_notice_kind_is_refused():
    with pytest.raises(ValueError, match="notice kind"):
        notice_html("t", "x", kind="danger")
