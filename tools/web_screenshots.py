"""Make the screenshots of docs/web.md in headless Chromium: the game with a hint, and a game's review.

    python tools/web_screenshots.py [--out docs/images] [--table FILE]

Starts `rgou serve` in this process, plays by clicking as the browser tests
do (seeded games, so the pictures are the same each time with the same
table or none), and writes web-game.png and web-review.png.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_web_browser import CHROMIUM_FLAGS
from web_helpers import running_server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/images")
    parser.add_argument("--table", help="solved 7-piece table (default: none, the figures are estimates)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with running_server(table=args.table) as (host, port, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        page = browser.new_context(viewport={"width": 1100, "height": 560}, bypass_csp=True).new_page()
        page.goto(f"http://{host}:{port}/?fast")
        page.wait_for_selector("[data-testid=roll]:not([disabled])")

        def new_game(opponent: str, seed: int) -> None:
            page.click("[data-testid=new-game]")
            page.select_option("[data-testid=opponent]", opponent)
            page.fill("[data-testid=seed]", str(seed))
            page.click("[data-testid=start]")
            page.wait_for_function("!busy && game.turns === 0")

        def act() -> None:
            page.wait_for_function(
                "!busy && (game.over || game.persons_turn && (game.roll === null || game.moves.length))"
            )
            if page.evaluate("game.over"):
                return
            if page.query_selector("[data-testid=roll]:not([disabled])"):
                page.click("[data-testid=roll]")
            else:
                page.click(".movable .piece >> nth=-1")
            page.wait_for_function("!busy")

        new_game("ml+", 12)
        for _ in range(24):  # a few turns into the game, then a roll with a choice, and a hint
            act()
        while page.evaluate("game.over || game.roll === null || game.moves.length < 2"):
            act()
        page.click("[data-testid=hint]")
        page.wait_for_selector("[data-testid=hint-panel]:not([hidden])")
        page.mouse.move(0, 0)
        page.screenshot(path=str(out / "web-game.png"))
        new_game("ml+", 5)
        while not page.evaluate("game.over"):
            act()
        page.set_viewport_size({"width": 1100, "height": 900})
        page.click("[data-testid=review]")
        page.wait_for_selector("[data-testid=review-panel]:not([hidden])")
        worst = page.evaluate("review.decisions.filter(d => d.player === 1).sort((a, b) => b.loss - a.loss)[0].turn")
        page.click(f"[data-testid=review-turn-{worst}]")
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(out / "web-review.png"), full_page=True)  # the board at that turn, and the review
        browser.close()
    print(f"wrote {out / 'web-game.png'} and {out / 'web-review.png'}")


if __name__ == "__main__":
    main()
