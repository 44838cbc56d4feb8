"""Password policy: at least 12 characters, and not a common or easily guessed password.

Guessability is judged by zxcvbn, which carries frequency lists of leaked passwords,
names and words, and recognises keyboard patterns, repeats and dates.
"""

from __future__ import annotations

from zxcvbn import zxcvbn

from portal.exceptions import ValidationError

MIN_LENGTH = 12
MAX_LENGTH = 1024
MIN_SCORE = 3  # zxcvbn's 0-4 scale: 3 is "safely unguessable: moderate protection from offline attacks"

RULES = (
    f"At least {MIN_LENGTH} characters. Common passwords, words with simple substitutions, keyboard "
    "patterns and your own name or e-mail address are refused. A few unrelated words make a good password."
)


def check_password_strength(password: str, *, user_inputs: list[str] | tuple[str, ...] = ()) -> None:
    """Raise ValidationError (field "password") if `password` breaks the policy."""
    if len(password) < MIN_LENGTH:
        raise ValidationError(f"The password must be at least {MIN_LENGTH} characters long.", field="password")
    if len(password) > MAX_LENGTH:
        raise ValidationError(f"The password must be at most {MAX_LENGTH} characters long.", field="password")
    # zxcvbn's cost grows with length; the first 100 characters decide.
    result = zxcvbn(password[:100], user_inputs=[part for text in user_inputs for part in _parts(text)])
    if result["score"] < MIN_SCORE:
        warning = result["feedback"].get("warning") or "It is too easy to guess."
        raise ValidationError(
            f"This password is too easy to guess: {warning.rstrip('.')}. Please choose another one.",
            field="password",
        )


def _parts(text: str) -> list[str]:
    return [p for p in text.replace("@", " ").replace(".", " ").split() if len(p) > 2] + [text]
