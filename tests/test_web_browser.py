"""The web app in a real headless Chromium (Debian's chromium, driven by Playwright), used as a person would.

A whole game is played by clicking; hints, undo, save, load and the review
are used from the page's buttons. Without Chromium or Playwright the tests
skip, except under CI (CI=true), where a missing browser fails them:
`tools/install-chromium` (run by `.ci/run`) installs it.
"""

import json
import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest
from web_helpers import Client, running_server

from rgou.agents import make_agent
from rgou.arena import match_records
from rgou.record import read_record, write_record

CHROMIUM_FLAGS = [  # as root in a container, with no network: no sandbox, no background connections
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _chromium() -> str | None:
    for candidate in (os.environ.get("RGOU_CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def _missing(why: str):
    if os.environ.get("CI"):
        pytest.fail(f"{why}: the browser tests never skip in CI (tools/install-chromium installs Chromium)")
    pytest.skip(why)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright is not installed (pip install -e '.[test]')")
    executable = _chromium()
    if executable is None:
        _missing("no chromium found (run tools/install-chromium, or set RGOU_CHROMIUM)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def site():
    with running_server() as (host, port, _):
        yield f"http://{host}:{port}", port


@contextmanager
def _new_page(browser):
    """A page in a fresh browser context; on leaving, no script error or failed load may have happened."""
    # bypass_csp: the tests wait on script expressions, which the page's policy (no eval) refuses
    context = browser.new_context(viewport={"width": 1100, "height": 900}, accept_downloads=True, bypass_csp=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and not _refused(m.text) else None)
    try:
        yield page
    finally:
        context.close()
    assert not errors, errors


@pytest.fixture
def page(browser, site):
    with _new_page(browser) as page:
        yield page


def _refused(text: str) -> bool:
    """The browser's own line for an answer of 4xx: the tests that send bad input expect it (the page says why)."""
    return text.startswith("Failed to load resource: the server responded with a status of 4")


def _settled(page) -> None:
    page.wait_for_function("!busy")


def _start(page, site, opponent="random", seed=1, side="1", dice="auto"):
    """Open the page (?fast: the agent moves without a pause) and start a game from the New game dialog."""
    page.goto(f"{site[0]}/?fast")
    page.wait_for_selector("[data-testid=roll]:not([disabled])")
    page.click("[data-testid=new-game]")
    page.select_option("[data-testid=opponent]", opponent)
    page.select_option("[data-testid=side]", side)
    page.select_option("[data-testid=dice-mode]", dice)
    if dice == "auto":
        page.fill("[data-testid=seed]", str(seed))
    else:  # typed-in dice have no seed
        assert page.is_disabled("[data-testid=seed]")
    page.click("[data-testid=start]")
    # the new game, not the one the page opened with: its seed and opponent, and nothing under way
    seeded = f"game.seed === {seed}" if dice == "auto" else "game.seed === null"  # typed-in dice have no seed
    page.wait_for_function(f"!busy && {seeded} && game.opponent === '{opponent}' && game.turns === 0")


def _game(page) -> dict:
    """The page's game, asked of the server with the page's own cookie (the game id from the page's script)."""
    return page.evaluate("fetch('/api/games/' + game.id).then(r => r.json())")


def _take_turn(page) -> None:
    """One action of the person: roll when the Roll button is on, else click the first highlighted piece."""
    page.wait_for_function(
        "!busy && (document.querySelector('[data-testid=roll]:not([disabled])') !== null"
        " || document.querySelector('.movable') !== null || game.over)"
    )
    if page.query_selector("[data-testid=roll]:not([disabled])"):
        page.click("[data-testid=roll]")
    elif page.query_selector(".movable"):
        page.click(".movable .piece >> nth=0")


def _record(page) -> dict:
    """The page's game record, asked of the server with the page's own cookie."""
    return page.evaluate("fetch('/api/games/' + game.id + '/record').then(r => r.json())")


def _until_movable(page) -> None:
    """Take the person's turns until a piece of theirs can move."""
    _settled(page)
    while not page.query_selector(".movable"):
        _take_turn(page)
        _settled(page)


def _play_to_the_end(page) -> dict:
    """Take the person's turns until the game is over (at most 2,000 actions); the game as the server has it."""
    for _ in range(2000):
        _settled(page)
        if page.evaluate("game.over"):
            break
        _take_turn(page)
    return _game(page)


def test_a_whole_game_played_by_clicking_then_reviewed(page, site):
    _start(page, site, opponent="random", seed=3)
    state = _play_to_the_end(page)
    assert state["over"] and state["winner"] in (1, 2)
    assert re.search(r"(You win|wins)!", page.inner_text("[data-testid=status]"))
    assert page.locator("[data-testid=log] li").count() == state["turns"]
    # the review: both players, the graph through every turn, every decision, and stepping on the board
    page.click("[data-testid=review]")
    page.wait_for_selector("[data-testid=review-panel]:not([hidden])")
    assert "estimated" in page.inner_text("[data-testid=review-panel] h2")
    for player in (1, 2):
        assert re.search(r"player \d \(", page.inner_text(f"[data-testid=summary-{player}]"))
    points = page.get_attribute("[data-testid=graph-line]", "points").split()
    assert len(points) == state["turns"] + 1
    decisions = [k + 1 for k, t in enumerate(state["log"]) if t["move"] is not None]
    assert page.locator("[data-testid=review-moves] tr[data-turn]").count() == len(decisions)
    turn = decisions[len(decisions) // 2]
    page.click(f"[data-testid=review-turn-{turn}]")
    assert page.inner_text("[data-testid=step-label]").startswith(f"after turn {turn}:")
    page.click("[data-testid=step-back]")
    assert page.inner_text("[data-testid=step-label]").startswith(
        f"after turn {turn - 1}:" if turn > 1 else "the start"
    )
    page.click("[data-testid=close-review]")
    assert page.is_hidden("[data-testid=review-panel]")


def test_hint_undo_and_save(page, site, tmp_path):
    _start(page, site, opponent="heuristic", seed=8)
    _until_movable(page)
    page.click("[data-testid=hint]")
    page.wait_for_selector("[data-testid=hint-panel]:not([hidden])")
    text = page.inner_text("[data-testid=hint-panel]")
    assert "(estimated)" in text and re.search(r"\d+\.\d%", text)
    assert page.locator(".hint-label").count() == page.locator(".movable").count()  # the chance over each piece
    page.click(".movable .piece >> nth=0")
    page.wait_for_function("game.can_undo")
    moved = _game(page)
    page.click("[data-testid=undo]")
    page.wait_for_function(f"game.turns < {moved['turns']}")
    undone = _game(page)
    mine = [k for k, t in enumerate(moved["log"]) if t["player"] == 1 and t["move"] is not None]
    assert undone["turns"] == mine[-1] and undone["roll"] is None
    assert page.locator("[data-testid=log] li").count() == undone["turns"]
    _take_turn(page)  # the same roll again; a move of the same length of game: the log shows the new turns
    _settled(page)
    while not page.evaluate("game.persons_turn && game.roll === null"):
        _take_turn(page)
        _settled(page)
    state = _game(page)
    items = page.locator("[data-testid=log] li").all_inner_texts()
    assert len(items) == state["turns"] and items[-1].endswith(state["log"][-1].get("text", "no move"))
    with page.expect_download() as download:
        page.click("[data-testid=save]")
    path = tmp_path / "saved.json"
    download.value.save_as(path)
    record = read_record(path)  # a valid record of the game as the server holds it
    assert record.players == ("human", "heuristic") and len(record.turns) == state["turns"] and record.seed == 8


@pytest.mark.parametrize("query", ["", "?fast"])  # the agent's pause: 400 ms, or none
def test_the_agent_rolls_after_a_hint_that_was_under_way_when_its_turn_came(browser, site, query):
    held = []
    with _new_page(browser) as page:
        page.route("**/hint", lambda route: held.append(route))  # its answer waits until the test lets it through
        page.goto(site[0] + query)
        page.wait_for_function("!busy && game !== null")
        page.click("[data-testid=new-game]")
        page.select_option("[data-testid=opponent]", "random")
        page.fill("[data-testid=seed]", "4")
        page.click("[data-testid=start]")
        page.wait_for_function("!busy && game.seed === 4 && game.opponent === 'random'")
        _until_movable(page)
        page.click("[data-testid=hint]")  # under way, held, for the whole of the agent's pause below
        page.wait_for_function("busy && hint === null")
        # The person's move, as the page makes one (the buttons wait while the hint is under way): the agent's
        # turn comes, and its pause ends while the hint is still under way, however slow this machine is.
        page.evaluate("api('POST', `/api/games/${game.id}/move`, {move: game.moves[0].move})"
                      ".then((state) => { game = state; scheduleAgent(); })")  # fmt: skip
        page.wait_for_function("!game.persons_turn && game.roll === null")
        page.evaluate("window.armed = 0; const arm = window.setTimeout;"
                      "window.setTimeout = (...args) => { window.armed += 1; return arm(...args); }")  # fmt: skip
        page.wait_for_timeout(1000)
        assert page.evaluate("!game.persons_turn && game.roll === null")  # the agent waited for the hint
        assert page.evaluate("window.armed") <= 1000 / 50 + 2  # looking again every 50 ms at most, not every 4
        held[0].continue_()
        page.wait_for_function("!busy && (game.persons_turn || game.over)")  # then rolled and moved


def test_load_a_record_and_review_it(page, site, tmp_path):
    # a game of two agents: loaded for review only
    record = match_records(make_agent("heuristic"), make_agent("ml"), 1, seed=2**60 + 3)[0]  # beyond 2**53
    path = tmp_path / "agents.json"
    write_record(record, path)
    _start(page, site)
    page.set_input_files("[data-testid=load-file]", str(path))
    page.wait_for_function(f"game.turns === {len(record.turns)}")
    assert "review only" in page.inner_text("[data-testid=status]")
    assert page.is_disabled("[data-testid=roll]") and page.is_disabled("[data-testid=hint]")
    page.click("[data-testid=review]")
    page.wait_for_selector("[data-testid=review-panel]:not([hidden])")
    assert "heuristic" in page.inner_text("[data-testid=summary-1]") + page.inner_text("[data-testid=summary-2]")
    with page.expect_download() as download:  # saved again: the same record, its seed to the last digit
        page.click("[data-testid=save]")
    download.value.save_as(tmp_path / "again.json")
    again = read_record(tmp_path / "again.json")
    assert again.seed == 2**60 + 3 and again.turns == record.turns
    # a file that is not a record: a clear message, and the game shown stays
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**record.to_json(), "winner": 3 - record.winner}))
    page.click("[data-testid=close-review]")
    page.set_input_files("[data-testid=load-file]", str(bad))
    page.wait_for_selector("[data-testid=error]:not([hidden])")
    assert "not a valid game record: winner" in page.inner_text("[data-testid=error]")
    assert page.evaluate("game.turns") == len(record.turns)


def test_enter_in_the_new_game_dialog_starts_the_game_and_cancel_keeps_the_old_one(page, site):
    _start(page, site, opponent="random", seed=2)
    page.click("[data-testid=new-game]")
    page.select_option("[data-testid=opponent]", "heuristic")
    page.fill("[data-testid=seed]", "77")
    page.click("[data-testid=cancel-setup]")
    assert page.is_hidden("[data-testid=setup]") and page.evaluate("game.seed === 2 && game.opponent === 'random'")
    page.click("[data-testid=new-game]")
    page.fill("[data-testid=seed]", "77")
    page.press("[data-testid=seed]", "Enter")
    page.wait_for_function("!busy && game.seed === 77 && game.opponent === 'heuristic'")


def test_the_keyboard_plays_too(page, site):
    _start(page, site, opponent="random", seed=2)
    page.keyboard.press("r")
    page.wait_for_function("!busy && game.roll !== null && game.moves.length > 0")
    first = page.evaluate("game.moves[0]")
    page.keyboard.press("1")
    page.wait_for_function("!busy && game.log.length > 0")
    assert page.evaluate("game.log[0]")["move"] == first["move"]
    # the person's turn again: the opponent's roll, on a timer, would otherwise disable undo as "u" arrives
    page.wait_for_function("!busy && game.can_undo && game.persons_turn")
    page.keyboard.press("u")
    page.wait_for_function("!busy && game.turns === 0")


def test_the_keyboard_reaches_load_leaves_the_browsers_shortcuts_and_a_phone_scrolls_no_page(browser, site):
    with _new_page(browser) as page:
        _start(page, site, opponent="random", seed=3)
        # Ctrl+R as the page sees it (a real one may reload the page, which would roll nothing either)
        page.evaluate("document.dispatchEvent(new KeyboardEvent('keydown', {key: 'r', ctrlKey: true}))")
        page.keyboard.press("Alt+r")
        page.wait_for_timeout(200)
        assert page.evaluate("!busy && game.roll === null && game.turns === 0")
        # Enter on the focused Load opens the file input (its click, caught here: the chooser itself is the browser's)
        page.evaluate("document.getElementById('load-file').addEventListener('click', (e) => {"
                      " window.chooserAsked = true; e.preventDefault(); })")  # fmt: skip
        page.focus("[data-testid=load]")
        page.keyboard.press("Enter")
        page.wait_for_function("window.chooserAsked === true")
        page.set_viewport_size({"width": 360, "height": 740})
        _play_to_the_end(page)
        page.click("[data-testid=review]")
        page.wait_for_selector("[data-testid=review-panel]:not([hidden])")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360  # the summary table scrolls in its box


def test_manual_dice_advise_on_a_real_board(page, site):
    _start(page, site, opponent="heuristic", dice="manual", side="2")
    page.click("#manual-roll button[data-roll='3']")  # the agent's roll, typed in: it moves at once
    page.wait_for_function("game.turns === 1")
    state = _game(page)
    assert state["log"][0]["roll"] == 3 and state["log"][0]["player"] == 1
    assert "Your turn: type the roll" in page.inner_text("[data-testid=status]")


def test_the_page_needs_no_network(page, site):
    requested = []
    page.on("request", lambda r: requested.append(r.url))
    _start(page, site)
    assert requested and all(url.startswith(site[0]) for url in requested), requested


def test_a_second_browser_cannot_touch_the_first_ones_game(browser, site):
    first = browser.new_context()
    page = first.new_page()
    page.goto(f"{site[0]}/?fast")
    page.wait_for_selector("[data-testid=roll]:not([disabled])")
    gid = page.evaluate("game.id")
    other = Client(site[1])
    status, doc = other.call("GET", f"/api/games/{gid}")
    assert status == 403 and "another browser" in doc["error"]
    first.close()


def test_a_whole_game_of_another_rule_set_by_clicking(browser):
    # An Aseb server: its board (12 middle squares) drawn from /api/info, five pieces a side, an agent of the rule
    # set, and without its table or a model of it no hints or review.
    with running_server(rules="aseb") as (host, port, _), _new_page(browser) as page:
        _start(page, (f"http://{host}:{port}", port), opponent="emm-2", seed=5)
        assert "(aseb rules)" in page.inner_text("h1")
        assert page.locator("[data-square]").count() == 20
        assert page.get_attribute("#board", "viewBox").split()[2] == str(2 * 10 + 12 * 70)
        assert page.is_disabled("[data-testid=hint]")
        state = _play_to_the_end(page)
        assert state["over"] and len(state["p1"]) == 5 and page.is_disabled("[data-testid=review]")
        status = page.inner_text("[data-testid=status]")
        assert re.search(r"(You win|wins)!$", status) and "review" not in status  # no review to open here
        record = _record(page)
        assert record["rules"] == "aseb" and record["winner"] == state["winner"]


def test_a_model_of_another_rule_set_plays_hints_and_reviews_in_the_browser(browser, tmp_path):
    # An Aseb server given a model of Aseb (here the shipped nets, declared Aseb's): the ml agents are offered,
    # and hints and the review are that model's estimates, the footer naming it.
    from dataclasses import replace

    from rgou.models import load_model
    from rgou.weights import save_weights

    shipped = load_model("default")
    model = tmp_path / "aseb.json.gz"
    save_weights(model, replace(shipped, metadata={**shipped.metadata, "rules": "aseb"}))
    with running_server(rules="aseb", model=str(model)) as (host, port, _), _new_page(browser) as page:
        _start(page, (f"http://{host}:{port}", port), opponent="ml", seed=4)
        assert page.inner_text("#chances-kind") == "estimated (no solved table; model: aseb.json.gz)"
        _until_movable(page)
        page.click("[data-testid=hint]")
        page.wait_for_selector("[data-testid=hint-panel]:not([hidden])")
        assert "(estimated)" in page.inner_text("[data-testid=hint-panel]")
        assert page.locator(".hint-label").count() == page.locator(".movable").count()
        page.click(".movable .piece >> nth=0")
        _settled(page)
        page.click("[data-testid=review]")
        page.wait_for_selector("[data-testid=review-panel]:not([hidden])")
        assert "estimated" in page.inner_text("[data-testid=review-panel] h2")
        record = _record(page)
        assert record["rules"] == "aseb" and record["players"] == ["human", "ml"]
