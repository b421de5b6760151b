"""The public statistics page (S-1, S-2, S-3) in a real headless Chromium.

Intake, workflow and stats run as real processes; a few dossiers take different paths
(a result with a rating, a rejection, in progress, overdue, at the counter). The page
must show for each service exactly the figures of ``GET /v1/stats/ytd``, with bars in
proportion, for each receiving agency exactly this month's service index of
``GET /v1/stats/index`` (Decision 766/QĐ-TTg), and stay readable on a phone: no
sideways scrolling, no tiny text.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement

from devtools.demo.client import APPLICANTS, DemoClient
from devtools.demo.workflow import birth_to_electronic_result, wait_for_process
from motcua.core.money import money_vnd
from motcua.core.waiting import wait_for
from motcua.runtime.settings import DEV_JWT_SECRET
from tests.support.browser import (
    DESKTOP,
    PHONE,
    Viewport,
    find_chromium,
    main,
    screenshot,
    show,
    start_chromium,
)
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.integration

wait_45 = functools.partial(wait_for, timeout=45.0)  # the services work asynchronously

BIRTH, LAND, MARITAL = "1.001193", "1.004227", "1.004873"
COMMUNE = "001.20.51.H23"
MONDAY, THURSDAY = "2026-03-02T09:00:00+07:00", "2026-03-05T10:00:00+07:00"
OUTCOMES = (
    "resolved_early",
    "resolved_on_time",
    "resolved_late",
    "in_progress_on_time",
    "in_progress_overdue",
    "refused",
    "withdrawn",
)
COUNTS = ("received", "online_received", "paused_for_supplement", *OUTCOMES)
MIN_FONT_PX = 12.0
MONTH = "2026-03"  # the month of the injected clock: the page's service index
INDEX_RATES = (
    "on_time",
    "online_received",
    "electronic_results",
    "online_payments",
    "satisfied",
    "feedback_answered",
    "feedback_on_time",
)
PNG = b"\x89PNG"


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    found = find_chromium()
    if found is None:
        message = "chromium and chromium-driver not installed (apt-get install chromium ...)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs them: their absence there is a failure
        pytest.skip(message)
    session = start_chromium(*found)
    yield session
    session.quit()


def received(client: DemoClient, applicant: int, procedure_id: str, channel: str) -> str:
    dossier_id, agency = client.submit(APPLICANTS[applicant], procedure_id, channel)
    client.call("POST", f"/v1/dossiers/{dossier_id}/accept", client.officer(agency))
    wait_for_process(client, dossier_id)
    return dossier_id


def a_few_dossiers(client: DemoClient) -> int:
    """Dossiers on different paths; returns how many were received."""
    resolved = received(client, 0, BIRTH, "online")
    rejected = received(client, 2, BIRTH, "online")
    received(client, 1, BIRTH, "counter")  # stays in progress, overdue by Thursday
    received(client, 2, LAND, "online")
    received(client, 1, MARITAL, "counter")  # 3 working days: due Thursday 09:00, overdue at 10:00
    birth_to_electronic_result(client, resolved)
    client.act(
        "POST",
        f"/v1/dossiers/{rejected}/reject",
        client.officer(COMMUNE),
        json={"reason": "Người yêu cầu không có quyền đăng ký"},
    )
    wait_45(
        lambda: (
            client.call("GET", f"/v1/dossiers/{resolved}", client.citizen(APPLICANTS[0]))["status"]
            == "returned"
        ),
        "intake to learn of the result",
    )
    client.call(
        "POST", f"/v1/dossiers/{resolved}/rating", client.citizen(APPLICANTS[0]), json={"rating": 5}
    )
    return 5


@pytest.fixture
def stats_url(
    start_service: Callable[..., ServiceProcess], clock_file: Path
) -> tuple[str, dict[str, Any]]:
    """The stats service's URL once it has counted the dossiers, and its JSON figures."""
    clock_file.write_text(MONDAY)
    intake, workflow = start_service("intake"), start_service("workflow")
    stats = start_service("stats")
    client = DemoClient(intake.url, workflow.url, DEV_JWT_SECRET)
    expected = a_few_dossiers(client)
    clock_file.write_text(THURSDAY)  # the counter birth registration is now overdue

    def counted() -> dict[str, Any] | None:
        figures: dict[str, Any] = httpx.get(f"{stats.url}/v1/stats/ytd", timeout=10).json()
        totals = figures["totals"]
        done = totals["received"] == expected and totals["ratings"] == 1 and totals["refused"]
        return figures if done else None

    return stats.url, wait_45(counted, "stats to count every dossier")


def test_the_page_shows_the_published_figures_readably_on_a_phone_and_a_desktop(
    browser: webdriver.Chrome, stats_url: tuple[str, dict[str, Any]], tmp_path: Path
) -> None:
    url, figures = stats_url
    index: dict[str, Any] = httpx.get(
        f"{url}/v1/stats/index", params={"period": MONTH}, timeout=10
    ).json()
    assert index["totals"]["online_received"]["denominator"] == figures["totals"]["received"]

    for viewport in (PHONE, DESKTOP):
        show(browser, f"{url}/stats", viewport)
        shot = screenshot(browser, tmp_path / f"stats-{viewport.width}.png")

        assert shot.read_bytes().startswith(PNG)
        check_page(browser, figures, viewport)
        check_index(browser, index)


def check_page(browser: webdriver.Chrome, figures: dict[str, Any], viewport: Viewport) -> None:
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "vi"
    assert browser.title == f"Thống kê giải quyết thủ tục hành chính năm {figures['year']}"
    sections = browser.find_elements(By.CSS_SELECTOR, "section[data-procedure]")
    shown = {s.get_attribute("data-procedure"): s for s in sections}
    assert set(shown) == {"", *(p["procedure_id"] for p in figures["procedures"])}
    check_figures(shown[""], figures["totals"])
    for service in figures["procedures"]:
        section = shown[service["procedure_id"]]
        assert service["procedure_name"] in section.find_element(By.TAG_NAME, "h2").text
        check_figures(section, service)
        check_online_share(section, service)
    assert_fits(browser, viewport)
    assert_readable(browser)


def check_figures(section: WebElement, row: dict[str, Any]) -> None:
    """Every count, the fees and the rating as shown, and the outcome bar's proportions."""
    for key in COUNTS:
        assert figure(section, key) == str(row[key]), key
    assert figure(section, "fees_vnd") == money_vnd(row["fees_vnd"])
    if row["ratings"]:
        assert figure(section, "ratings") == str(row["ratings"])
        assert figure(section, "average_rating") == f"{row['average_rating']:.1f}".replace(".", ",")
    else:
        assert section.find_element(By.CSS_SELECTOR, "[data-figure=ratings]").text == "chưa có"
    check_bar(section, row)


def figure(section: WebElement, key: str) -> str:
    """The text of the figure ``key``: outcomes in the bar's legend, the rest in the list."""
    where = "ul.legend" if key in OUTCOMES else "dl"
    text: str = section.find_element(By.CSS_SELECTOR, f"{where} [data-figure={key}]").text
    return text


def check_bar(section: WebElement, row: dict[str, Any]) -> None:
    """Each outcome's segment is its share of the received dossiers, within a pixel."""
    bar = section.find_element(By.CSS_SELECTOR, "div.bar")
    total = bar.rect["width"]
    segments = {
        str(s.get_attribute("data-figure")): s.rect["width"]
        for s in bar.find_elements(By.CSS_SELECTOR, "span[data-figure]")
    }
    assert set(segments) == {k for k in OUTCOMES if row[k]}
    for key, width in segments.items():
        assert width == pytest.approx(total * row[key] / row["received"], abs=1.0), key


def check_online_share(section: WebElement, row: dict[str, Any]) -> None:
    share = section.find_element(By.CSS_SELECTOR, "div.share")
    fill = share.find_element(By.CSS_SELECTOR, ".fill").rect["width"]
    assert fill == pytest.approx(share.rect["width"] * row["online_share"], abs=1.0)
    shown = section.find_element(By.CSS_SELECTOR, "[data-figure=online_share]").text
    assert shown == f"{row['online_share'] * 100:.1f}".replace(".", ",") + "%"


def check_index(browser: webdriver.Chrome, index: dict[str, Any]) -> None:
    """The month's index: an entry per agency and the province's, each rate's numerator,
    denominator and percentage ("—" when null) and the average rating as in the JSON."""
    section = browser.find_element(By.CSS_SELECTOR, "section.index")
    assert section.get_attribute("data-index") == index["period"] == MONTH
    assert "Quyết định 766/QĐ-TTg" in section.find_element(By.TAG_NAME, "h2").text
    entries = {
        a.get_attribute("data-agency"): a
        for a in section.find_elements(By.CSS_SELECTOR, "article[data-agency]")
    }
    rows = {row["key"] or "": row for row in [index["totals"], *index["rows"]]}
    assert set(entries) == set(rows)
    for key, row in rows.items():
        entry = entries[key]
        assert entry.find_element(By.TAG_NAME, "h3").text == row["label"]
        for name in INDEX_RATES:
            shown = entry.find_element(By.CSS_SELECTOR, f"dd[data-figure={name}]")
            part = {
                str(p.get_attribute("data-part")): p.text
                for p in shown.find_elements(By.CSS_SELECTOR, "[data-part]")
            }
            rate = row[name]["rate"]
            assert part == {
                "numerator": str(row[name]["numerator"]),
                "denominator": str(row[name]["denominator"]),
                "rate": "—" if rate is None else f"{rate * 100:.1f}".replace(".", ",") + "%",
            }, (key, name)
        average = entry.find_element(By.CSS_SELECTOR, "dd[data-figure=average_rating]").text
        expected = row["average_rating"]
        assert average == ("—" if expected is None else f"{expected:.1f}".replace(".", ",") + "/5")


def assert_fits(browser: webdriver.Chrome, viewport: Viewport) -> None:
    """Nothing is wider than the screen: no sideways scrolling on a phone."""
    inner, scroll = browser.execute_script(
        "return [window.innerWidth, document.documentElement.scrollWidth]"
    )
    assert inner == viewport.width  # the emulated viewport, honoured by the page's meta tag
    assert scroll <= inner


def assert_readable(browser: webdriver.Chrome) -> None:
    """Every element that holds text is rendered at 12 CSS pixels or more."""
    sizes: list[list[Any]] = browser.execute_script(
        """
        const out = [];
        for (const el of document.body.querySelectorAll('*')) {
          const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
          if (own) out.push([el.tagName, el.textContent.trim().slice(0, 40),
                             parseFloat(getComputedStyle(el).fontSize)]);
        }
        return out;
        """
    )
    assert sizes
    small = [s for s in sizes if s[2] < MIN_FONT_PX]
    assert not small, small


def test_the_screenshot_command_writes_a_png(browser: webdriver.Chrome, tmp_path: Path) -> None:
    out = tmp_path / "page.png"

    status = main(["data:text/html,<html lang=vi><title>t</title><p>Xin chào</p>", str(out)])

    assert status == 0
    assert out.read_bytes().startswith(PNG)
