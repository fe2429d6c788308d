"""Readable, unique-enough job names (like Azure ML's `quirky_lamp_8k2x1v4m`)."""

from __future__ import annotations

import secrets

_ADJECTIVES = (
    "amber agile bold brave bright calm clever cosmic crisp eager fancy gentle happy honest jolly keen "
    "lively lucid merry mighty nimble noble placid plucky proud quick quiet rapid serene sharp shiny "
    "silent sleek smart snappy steady stoic sunny swift tidy upbeat vivid warm witty zesty"
).split()
_NOUNS = (
    "anchor apple badger beacon cactus candle cedar comet coral crane dingo ember falcon fern garden "
    "harbor heron island jasper kettle lantern lemon lynx maple meadow nectar oasis otter panda pepper "
    "pine plum quartz raven river saffron salmon spruce tiger tulip walrus willow yak zebra"
).split()
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def new_run_name() -> str:
    suffix = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return f"{secrets.choice(_ADJECTIVES)}_{secrets.choice(_NOUNS)}_{suffix}"
