"""lstmkit.data loads its modules on first use, and every name it exports still resolves."""

import subprocess
import sys

import pytest

import lstmkit.data


def test_every_exported_name_resolves():
    for name in lstmkit.data.__all__:
        assert getattr(lstmkit.data, name) is not None, name
    from lstmkit.data import Vocabulary, imdb, pad_sequences  # the forms the code uses

    assert imdb.__name__ == "lstmkit.data.imdb" and Vocabulary.__module__ == "lstmkit.data.text"
    assert pad_sequences is lstmkit.data.sequence.pad_sequences


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match=r"module 'lstmkit\.data' has no attribute 'nonesuch'"):
        lstmkit.data.nonesuch  # noqa: B018


def test_importing_the_package_loads_no_data_set_module():
    code = "import sys, lstmkit.data; print(sorted(m for m in sys.modules if m.startswith('lstmkit.data.') or m == 'numpy'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
