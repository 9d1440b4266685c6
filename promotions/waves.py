"""A staged launch's plan (issue 20): which wave each channel of a version goes out in."""

from __future__ import annotations

from promotions.models import PromotionVersion


def waves_plan(version: PromotionVersion) -> dict[int, int]:
    """{connection id: wave (0-based)} for the version's channels. Without waves every channel is
    in wave 0; a channel the waves do not name goes out last, so an omission never widens exposure."""
    channel_ids = sorted(version.channels.values_list("pk", flat=True))
    waves = [[int(pk) for pk in wave] for wave in version.waves or [] if wave]
    plan = {pk: index for index, wave in enumerate(waves) for pk in wave if pk in channel_ids}
    last = max(plan.values(), default=-1) + 1 if len(plan) < len(channel_ids) else 0
    return {pk: plan.get(pk, last) for pk in channel_ids}


def waves_problems(version: PromotionVersion) -> list[str]:
    """What is wrong with the version's waves: unknown channels, a channel in two waves, one left out."""
    waves = version.waves or []
    if not waves:
        return []
    channel_ids = set(version.channels.values_list("pk", flat=True))
    named = [int(pk) for wave in waves for pk in wave]
    problems = []
    if any(not wave for wave in waves):
        problems.append("A wave names no channel.")
    unknown = sorted(set(named) - channel_ids)
    if unknown:
        problems.append(f"Waves name channel(s) the version does not run on: {', '.join(map(str, unknown))}.")
    twice = sorted({pk for pk in named if named.count(pk) > 1})
    if twice:
        problems.append(f"Channel(s) in more than one wave: {', '.join(map(str, twice))}.")
    missing = sorted(channel_ids - set(named))
    if missing:
        problems.append(f"Channel(s) in no wave (they would go out last): {', '.join(map(str, missing))}.")
    return problems
