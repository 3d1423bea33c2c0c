"""Text normalisation for word error rate: Whisper writes numbers as digits ("1813", "12%"),
references spell them out; both sides are normalised to spoken words before comparing."""

from __future__ import annotations

import re

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def number_words(n: int) -> str:
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return _ONES[n // 100] + " hundred" + ("" if rest == 0 else " " + number_words(rest))
    if n < 1_000_000:
        rest = n % 1000
        head = number_words(n // 1000) + " thousand"
        return head + ("" if rest == 0 else " " + number_words(rest))
    return " ".join(_ONES[int(d)] for d in str(n))


def spoken_number(token: str) -> str:
    n = int(token)
    if len(token) == 4 and 1100 <= n <= 2099 and n % 100 != 0:
        # years are read in pairs: 1813 -> eighteen thirteen, 1905 -> nineteen oh five
        tail = n % 100
        return (
            number_words(n // 100)
            + " "
            + (f"oh {_ONES[tail]}" if tail < 10 else number_words(tail))
        )
    if len(token) == 4 and 1100 <= n <= 2099:
        return number_words(n // 100) + " hundred"
    return number_words(n)


def normalise(text: str) -> str:
    text = text.lower().replace("%", " percent").replace("-", " ")
    text = re.sub(r"(\d),(\d{3})", r"\1\2", text)
    text = re.sub(r"\d+", lambda m: " " + spoken_number(m.group()) + " ", text)
    text = re.sub(r"[^a-z' ]+", " ", text)
    text = text.replace("'", "")
    return " ".join(text.split())
