"""The log formatter keeps exceptions' types and stacks and withholds their messages."""

from __future__ import annotations

import logging

from patron.kit.logs import LINE_FORMAT, Formatter


def _record_of(exc: BaseException) -> logging.LogRecord:
    try:
        raise exc
    except BaseException as raised:
        return logging.LogRecord(
            "patron.errors",
            logging.ERROR,
            __file__,
            1,
            "unhandled error",
            (),
            (type(raised), raised, raised.__traceback__),
        )


class TestFormatter:
    def test_withholds_the_message_and_keeps_the_type_and_stack(self) -> None:
        line = Formatter(LINE_FORMAT).format(_record_of(ValueError("bob@example.com")))
        assert "bob@example.com" not in line
        assert "builtins.ValueError (message withheld)" in line
        assert "test_logs.py" in line
        assert "unhandled error" in line

    def test_withholds_the_messages_of_the_exceptions_it_came_from(self) -> None:
        # Values, not literals: a traceback shows the source line of each frame.
        phone, email = "+48 600 100 200", "bob@example.com"
        try:
            try:
                raise KeyError(phone)
            except KeyError as inner:
                raise RuntimeError(f"Key (source_id)=({email}) already exists") from inner
        except RuntimeError as outer:
            record = _record_of(outer)
        line = Formatter(LINE_FORMAT).format(record)
        assert "bob@example.com" not in line
        assert "600 100 200" not in line
        assert "builtins.KeyError (message withheld)" in line

    def test_ignores_a_full_text_another_handler_cached(self) -> None:
        record = _record_of(ValueError("bob@example.com"))
        assert "bob@example.com" in logging.Formatter().format(record)
        assert "bob@example.com" not in Formatter().format(record)
