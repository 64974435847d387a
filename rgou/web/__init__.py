"""The browser game: `rgou serve` (`rgou.web.server`) over the games of `rgou.web.games`."""
