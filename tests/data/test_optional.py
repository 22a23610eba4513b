import pytest

from leapfactual.data._optional import require


def test_present_module_is_returned() -> None:
    assert require("numpy", "anything").__name__ == "numpy"


def test_missing_module_says_what_to_install() -> None:
    with pytest.raises(ImportError, match=r"the 'galaxy10' dataset needs .*leapfactual\[data\]"):
        require("leapfactual_no_such_module", "the 'galaxy10' dataset")
