"""One URL masker (``arb.config.secrets.mask_url``): the config's, on URLs as given, and the store's
``display_url``, on URLs as SQLAlchemy writes them, show the same thing SQLAlchemy's own
``render_as_string(hide_password=True)`` does, and never the password."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import URL

from arb.config.secrets import mask_url
from arb.display import shorten
from arb.store.db import URL_SHOWN, display_url

# Any text a part may hold, the characters URLs give meaning to included.
PART = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12)
SPECIAL = st.sampled_from(["@", ":", "/", "?", "#", "%", "&", "=", "+", " ", "[", "]"])
TEXT = st.lists(st.one_of(PART, SPECIAL), min_size=1, max_size=5).map("".join)


@st.composite
def urls(draw: st.DrawFn) -> URL:
    password = draw(st.none() | TEXT)
    return URL.create(
        draw(st.sampled_from(["postgresql", "postgresql+psycopg", "sqlite"])),
        username=draw(TEXT) if password is not None else draw(st.none() | TEXT),
        password=password,
        host=draw(st.none() | st.sampled_from(["db", "127.0.0.1", "[::1]", "db.example.org"])),
        port=draw(st.none() | st.integers(1, 65535)),
        database=draw(st.none() | TEXT),
        query=draw(st.dictionaries(st.sampled_from(["sslmode", "application_name", "password"]), TEXT, max_size=2)),
    )


@settings(max_examples=300, deadline=None)
@given(urls())
def test_display_url_masks_as_sqlalchemy_does(url: URL) -> None:
    shown = shorten(url.render_as_string(hide_password=True), URL_SHOWN)  # a long one shortened for one line
    assert display_url(url) == shown
    assert display_url(url.render_as_string(hide_password=False)) == shown  # the same URL given as text
    if url.password is not None:
        assert ":***@" in url.render_as_string(hide_password=True)  # masked before any shortening


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("postgresql+psycopg://arb:hunter2@db:5432/arb", "postgresql+psycopg://arb:***@db:5432/arb"),
        ("postgresql://arb:p@ss:w@rd@db/arb", "postgresql://arb:***@db/arb"),  # not parsed: the last @ ends it
        ("postgresql://arb@db/arb", "postgresql://arb@db/arb"),  # no password, nothing to hide
        ("sqlite:///arb.db", "sqlite:///arb.db"),
    ],
)
def test_mask_url_on_urls_as_given(given: str, shown: str) -> None:
    assert mask_url(given) == shown
