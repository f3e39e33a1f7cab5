"""Numbers read from a case or a draft, safe at any size and in any form.

A number may be 27 digits long, ``1e27``, ``1E+999999``, ``-0``, ``NaN``, ``Infinity`` or written in
Arabic-Indic digits. Nothing here raises, and nothing here depends on the precision of the thread's decimal
context: values are kept exact, compared exactly, and rounded to cents in a context wide enough for them.
"""

from __future__ import annotations

from decimal import MAX_EMAX, MIN_EMIN, ROUND_HALF_UP, Context, Decimal, InvalidOperation

CENT = Decimal("0.01")
MAX_CENT_DIGITS = 1000
"""Amounts with more integer digits than this are compared exactly: nobody writes cents on such a number."""
MAX_PLAIN_DIGITS = 1000
"""The most digits ``plain_integer`` writes out; a longer number is not an id anyone wrote."""


def to_decimal(value: object) -> Decimal | None:
    """The finite ``Decimal`` of an int, float, ``Decimal`` or numeric text; ``None`` for anything else.

    ``None`` also for ``NaN`` and the infinities (they state no fact) and for booleans. Ints and text are read
    exactly, whatever their size; a float as it prints (``1e27`` is ``1E+27``, not its binary expansion).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except (InvalidOperation, ValueError):
            return None
    else:
        return None
    # Without the InvalidOperation trap the constructor answers NaN instead of raising; is_finite covers it.
    return number if number.is_finite() else None


def shift(value: Decimal, places: int) -> Decimal:
    """``value`` times ``10 ** places``, exactly (a finite ``value``; others are returned as they are)."""
    if not value.is_finite():
        return value
    sign, digits, exponent = value.as_tuple()
    return Decimal((sign, digits, int(exponent) + places))


def cents(value: Decimal) -> Decimal:
    """``value`` rounded half-up to two decimals, exactly at any size.

    Non-finite values, and values beyond ``10 ** MAX_CENT_DIGITS``, are returned as they are.
    """
    if not value.is_finite() or value.adjusted() > MAX_CENT_DIGITS:
        return value
    wide = Context(
        prec=max(value.adjusted(), 0) + 4, rounding=ROUND_HALF_UP, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[]
    )
    return value.quantize(CENT, context=wide)


def same_amount(a: Decimal, b: Decimal) -> bool:
    """Whether two amounts are the same to the cent (exactly, beyond ``10 ** MAX_CENT_DIGITS``)."""
    if not (a.is_finite() and b.is_finite()):
        return False
    return a == b or cents(a) == cents(b)


def plain_integer(value: Decimal) -> str | None:
    """The digits of a whole number written without a point, sign or exponent (``5E+3`` → ``5000``).

    ``None`` when it is not finite, has a fractional part (even ``12.0``), or is longer than
    ``MAX_PLAIN_DIGITS`` digits.
    """
    if not value.is_finite():
        return None
    _, digits, exponent = value.as_tuple()
    exponent = int(exponent)
    if exponent < 0 or len(digits) + exponent > MAX_PLAIN_DIGITS:
        return None
    text = "".join(map(str, digits)).lstrip("0")
    return text + "0" * exponent if text else "0"


def trimmed(value: Decimal) -> Decimal:
    """``240.0000`` → ``240``, ``12.5000`` → ``12.5``, ``5E+3`` → ``5000``: no trailing zeros after the point,
    no exponent up to ``MAX_PLAIN_DIGITS`` digits. Exact; non-finite values are returned as they are."""
    if not value.is_finite():
        return value
    sign, digits, exponent = value.as_tuple()
    exponent = int(exponent)
    while exponent < 0 and len(digits) > 1 and digits[-1] == 0:
        digits, exponent = digits[:-1], exponent + 1
    if exponent < 0 and digits == (0,):
        exponent = 0
    if exponent > 0 and len(digits) + exponent <= MAX_PLAIN_DIGITS:
        digits, exponent = digits + (0,) * exponent, 0
    return Decimal((sign, digits, exponent))


def number_text(value: int | float | Decimal) -> str:
    """``str(value)``, or its scientific form for an int too long for Python to write out in full."""
    try:
        return str(value)
    except ValueError:  # int beyond sys.get_int_max_str_digits()
        return f"{Decimal(value):.6E}"
