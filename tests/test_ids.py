"""in_ids: the same answer as Index.isin, without converting Arrow strings one by one."""
import numpy as np
import pandas as pd
import pytest

from personalab.ids import in_ids


@pytest.mark.parametrize("dtype", ["str", object])
def test_same_as_isin(dtype):
    index = pd.Index([f"R{i}" for i in range(50)] + ["R3"], dtype=dtype)
    for ids in (["R3", "R7", "nope", "R7"], {"R1", "R49"}, pd.Index(["R10"], dtype="str"), [],
                np.array(["R0", "R5"], dtype=object)):
        expected = index.isin(list(ids))
        np.testing.assert_array_equal(in_ids(index, ids), expected)
    # duplicated ids in the index are each found
    assert in_ids(index, ["R3"]).sum() == 2
