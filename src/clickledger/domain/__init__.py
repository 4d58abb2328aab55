"""The pure domain core: dataclasses and functions, ``Decimal`` money, no I/O, no clock."""
