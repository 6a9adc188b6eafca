"""Plausible, varied answers for demo participants, for whatever questionnaire the site uses."""

from __future__ import annotations

import random
from typing import Any

FIRST_NAMES = ["Maria", "James", "Aisha", "Tom", "Lucia", "Darnell", "Mei", "Walter", "Priya", "Cody", "Grace",
               "Hector", "Nora", "Samuel", "Jolene", "Omar", "Ruth", "Tyler", "Esther", "Luis"]
PLACES = [("Ohio", "Dayton", "America/New_York"), ("Texas", "Lubbock", "America/Chicago"),
          ("California", "Fresno", "America/Los_Angeles"), ("Georgia", "Macon", "America/New_York"),
          ("Colorado", "Pueblo", "America/Denver"), ("Wisconsin", "Eau Claire", "America/Chicago")]
BIOS = ["I drive a school bus and coach Little League on weekends.",
        "Retired nurse, grandmother of five, and a stubborn gardener.",
        "I run a small hardware store that my father opened in 1978.",
        "Graduate student in soil science; I bake bread when I should be writing.",
        "Veteran, volunteer firefighter, and a fan of old westerns.",
        "I teach high-school chemistry and sing in a church choir."]


def demo_answers(questionnaire: Any, number: int, field_name: Any) -> dict[str, Any]:
    """Form fields answering every question of `questionnaire`, seeded by the participant's number."""
    pick = random.Random(number)
    state, city, zone = PLACES[number % len(PLACES)]
    form: dict[str, Any] = {}
    for question in questionnaire.questions():
        name = field_name(question)
        kind = question.type
        if kind == "single_choice":
            form[name] = pick.choice([choice.value for choice in question.choices if not choice.describe])
        elif kind == "multiple_choice":
            top = min(question.max_choices or 3, 3, len(question.choices))
            form[name] = pick.sample([choice.value for choice in question.choices], k=max(question.min_choices, top))
        elif kind == "scale":
            low, high = question.scale.min, question.scale.max
            form[name] = str(low if number % 2 else high) if question.role == "political_lean" else str(
                pick.randint(low, high))
        elif kind == "short_text":
            text = FIRST_NAMES[number % len(FIRST_NAMES)] if question.role != "last_initial" else "ABCDEFGHJKLMN"[
                number % 13]
            form[name] = text[:question.max_length]
        elif kind == "long_text":
            form[name] = BIOS[number % len(BIOS)][:question.max_length]
        elif kind == "age_range":
            form[name] = pick.choice(["25-34", "35-44", "45-54", "55-64", "65-74"])
        elif kind == "location":
            form.update({field_name(question, "country"): "US", field_name(question, "region"): state,
                         field_name(question, "city"): city, field_name(question, "postal_code"): "45402"})
        elif kind == "time_zone":
            form[name] = zone
        elif kind == "languages":
            form[name] = ["en"] + (["es"] if number % 4 == 0 else [])
        elif kind == "availability":
            days = pick.sample(["mon", "tue", "wed", "thu", "fri", "sat", "sun"], k=4)
            form[name] = [f"{day}-{pick.choice(['morning', 'afternoon', 'evening'])}" for day in days] + [
                "sat-morning", "sun-afternoon"]
    return form
